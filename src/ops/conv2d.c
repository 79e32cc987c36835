/* conv2d.c - 2-D convolution as im2col + BLAS sgemm, one image per task.
 *
 * Images are spread over the threads; each thread unfolds one image at a time into its own
 * slot of the scratch buffer, col[ic*k*k, oh*ow], and calls a single-threaded GEMM that writes
 * straight into the NCHW output (no gather or scatter):
 *   forward   out[img] = w[oc, ic*k*k] @ col + b
 *   backward  dcol = w^T @ dout[img], col2im adds dcol into dinp[img];
 *             dw: the images fall into G fixed groups (G depends on n alone); group g sums
 *             dout[img] @ col^T over its images, in order, into its own partial, and the
 *             partials are added in group order.
 * A 1x1 stride-1 unpadded convolution needs no unfolding: col is the image itself. A 3x3
 * stride-1 pad-1 convolution with 16 or more channels each way computes its output and its
 * input gradient by Winograd F(2x2, 3x3) instead (below). Every sum has a fixed order whatever
 * the thread count. */
#include "gmmdiff/ops.h"
#include "gmmdiff/core.h"
#include "core/blas.h"

#include <omp.h>
#include <string.h>

/* at most this many threads (each with its own unfolding slot) work on one convolution */
#define GD_CONV_SLOTS 16
/* the weight gradient's groups of images */
#define GD_CONV_GROUPS 16

int gd_conv2d_out_size(int in, int k, int stride, int pad) {
    return (in + 2 * pad - k) / stride + 1;
}

static void check_dims(const gd_conv2d_dims *d) {
    GD_ASSERT(d && d->n > 0 && d->ic > 0 && d->h > 0 && d->w > 0 && d->oc > 0);
    GD_ASSERT(d->k > 0 && d->stride > 0 && d->pad >= 0);
    GD_ASSERT_MSG(d->h + 2 * d->pad >= d->k && d->w + 2 * d->pad >= d->k,
                  "conv2d kernel larger than padded input");
}

static int is_pointwise(const gd_conv2d_dims *d) {
    return d->k == 1 && d->stride == 1 && d->pad == 0;
}

static int conv_groups(const gd_conv2d_dims *d) {
    return d->n < GD_CONV_GROUPS ? d->n : GD_CONV_GROUPS;
}

static int conv_slots(const gd_conv2d_dims *d) {
    return d->n < GD_CONV_SLOTS ? d->n : GD_CONV_SLOTS;
}

/* threads for a loop over the images: never more than there are slots */
static int conv_threads(const gd_conv2d_dims *d) {
    int t = omp_get_max_threads(), s = conv_slots(d);
    return t < s ? t : s;
}

/* ---- Winograd F(2x2, 3x3) for 3x3 stride-1 pad-1 convolutions ----
 * out = A^T [ (G g G^T) . (B^T d B) ] A on 2x2 output tiles from 4x4 input tiles: 16 products
 * per tile instead of 36. The 16 element-wise products over channels are 16 GEMMs,
 * M[xi][o][tile] = U[xi][o][i] V[xi][i][tile], over a group of images whose size depends on the
 * image size alone. The input gradient is the same computation with the kernel rotated by 180
 * degrees and its channel axes swapped; the weight gradient stays im2col + GEMM. */
static int use_winograd(const gd_conv2d_dims *d) {
    return d->k == 3 && d->stride == 1 && d->pad == 1 && d->ic >= 16 && d->oc >= 16;
}

typedef struct wino_dims {
    int th, tw, T, nb; /* tile rows and columns, tiles per image, images per group */
    int hp, wp;        /* the zero-padded plane: (2 th + 2) x (2 tw + 2) */
} wino_dims;

static wino_dims wino_dims_of(const gd_conv2d_dims *d) {
    wino_dims w;
    w.th = (d->h + 1) / 2;
    w.tw = (d->w + 1) / 2;
    w.T = w.th * w.tw;
    w.nb = 192 / w.T;
    if (w.nb < 1) w.nb = 1;
    if (w.nb > d->n) w.nb = d->n;
    w.hp = 2 * w.th + 2;
    w.wp = 2 * w.tw + 2;
    return w;
}

/* floats of one thread's Winograd work area for I input and O output channels */
static size_t wino_slot_floats(const wino_dims *w, int I, int O) {
    size_t L = (size_t)w->nb * w->T, te = (size_t)w->tw + 1;
    return 16 * (size_t)(I + O) * L + 2 * (size_t)w->hp * te + 8 * te + 10 * (size_t)w->tw;
}

/* floats of one thread's slot: im2col's columns (and their gradient), or the Winograd area */
static size_t slot_floats(const gd_conv2d_dims *d) {
    int oh = gd_conv2d_out_size(d->h, d->k, d->stride, d->pad);
    int ow = gd_conv2d_out_size(d->w, d->k, d->stride, d->pad);
    size_t K = (size_t)d->ic * d->k * d->k, s = 2 * K * oh * ow;
    if (use_winograd(d)) {
        wino_dims w = wino_dims_of(d);
        size_t ws = wino_slot_floats(&w, d->ic, d->oc);
        if (ws > s) s = ws;
    }
    return s;
}

/* scratch layout: [16 * oc * ic] transformed kernel (Winograd only), [slots][slot_floats]
 * per-thread areas, then [groups][oc * K] weight-gradient partials */
static size_t wino_u_floats(const gd_conv2d_dims *d) {
    return use_winograd(d) ? 16 * (size_t)d->oc * d->ic : 0;
}

size_t gd_conv2d_scratch_floats(const gd_conv2d_dims *d) {
    check_dims(d);
    size_t K = (size_t)d->ic * d->k * d->k;
    return wino_u_floats(d) + (size_t)conv_slots(d) * slot_floats(d) +
           (size_t)conv_groups(d) * d->oc * K;
}

/* U[xi][o][i] = G g G^T for the 3x3 kernel g of output channel o and input channel i of the
 * convolution computed: w itself [O][I][3][3] (rot = 0), or, for the input gradient, w is
 * [I][O][3][3] and g is its [i][o] kernel rotated by 180 degrees (rot = 1) */
static void wino_kernel(float *U, const float *w, int O, int I, int rot) {
    #pragma omp parallel for schedule(static)
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++) {
            float g[3][3], t[4][3];
            const float *src = rot ? w + ((size_t)i * O + o) * 9 : w + ((size_t)o * I + i) * 9;
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++) g[r][c] = rot ? src[(2 - r) * 3 + (2 - c)] : src[r * 3 + c];
            for (int c = 0; c < 3; c++) {
                t[0][c] = g[0][c];
                t[1][c] = 0.5f * (g[0][c] + g[1][c] + g[2][c]);
                t[2][c] = 0.5f * (g[0][c] - g[1][c] + g[2][c]);
                t[3][c] = g[2][c];
            }
            for (int r = 0; r < 4; r++) {
                float u[4];
                u[0] = t[r][0];
                u[1] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
                u[2] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
                u[3] = t[r][2];
                for (int c = 0; c < 4; c++) U[((size_t)(r * 4 + c) * O + o) * I + i] = u[c];
            }
        }
}

/* even and odd columns of a zero-padded input row (one zero on the left): e[i] = x[2i - 1],
 * o[i] = x[2i], zero outside [0, W), for i in [0, n) */
static void split_row(float *restrict e, float *restrict o, const float *restrict x, int W,
                      int n) {
    const int full = (W - 1) / 2; /* i in [1, full]: both 2i - 1 and 2i lie inside */
    e[0] = 0.0f;
    o[0] = x[0];
    for (int i = 1; i <= full; i++) {
        e[i] = x[2 * i - 1];
        o[i] = x[2 * i];
    }
    for (int i = full + 1; i < n; i++) {
        int xe = 2 * i - 1, xo = 2 * i;
        e[i] = xe < W ? x[xe] : 0.0f;
        o[i] = xo < W ? x[xo] : 0.0f;
    }
}

/* row[2t] (+)= ye[t] + bias, row[2t+1] (+)= yo[t] + bias, for the W entries of the row */
static void store_row(float *restrict row, const float *restrict ye, const float *restrict yo,
                      int W, float bias, int acc) {
    const int half = W / 2;
    if (acc) {
        for (int t = 0; t < half; t++) {
            row[2 * t] += ye[t];
            row[2 * t + 1] += yo[t];
        }
        if (W & 1) row[W - 1] += ye[half];
    } else {
        for (int t = 0; t < half; t++) {
            row[2 * t] = ye[t] + bias;
            row[2 * t + 1] = yo[t] + bias;
        }
        if (W & 1) row[W - 1] = ye[half] + bias;
    }
}

/* B^T d over four rows: t0 = r0 - r2, t1 = r1 + r2, t2 = r2 - r1, t3 = r1 - r3 */
static void rows_bt(float *restrict t, const float *restrict r, size_t stride, int n) {
    const float *r0 = r, *r1 = r + stride, *r2 = r1 + stride, *r3 = r2 + stride;
    float *t0 = t, *t1 = t + n, *t2 = t1 + n, *t3 = t2 + n;
    for (int i = 0; i < n; i++) {
        t0[i] = r0[i] - r2[i];
        t1[i] = r1[i] + r2[i];
        t2[i] = r2[i] - r1[i];
        t3[i] = r1[i] - r3[i];
    }
}

/* (. B) over the tiles of one transformed row, from its even (e) and odd (o) columns: tile tx
 * reads columns 2tx .. 2tx+3 = e[tx], o[tx], e[tx+1], o[tx+1] */
static void cols_b(float *restrict v0, float *restrict v1, float *restrict v2,
                   float *restrict v3, const float *restrict e, const float *restrict o,
                   int tw) {
    for (int t = 0; t < tw; t++) {
        v0[t] = e[t] - e[t + 1];
        v1[t] = o[t] + e[t + 1];
        v2[t] = e[t + 1] - o[t];
        v3[t] = o[t] - o[t + 1];
    }
}

/* A^T m over the four rows of one output channel's tiles: s0 = m0 + m1 + m2,
 * s1 = m1 - m2 - m3 */
static void rows_at(float *restrict s0, float *restrict s1, const float *restrict m0,
                    const float *restrict m1, const float *restrict m2,
                    const float *restrict m3, int n) {
    for (int i = 0; i < n; i++) {
        s0[i] = m0[i] + m1[i] + m2[i];
        s1[i] = m1[i] - m2[i] - m3[i];
    }
}

/* (. A) and the store of one output row: y[2t] = a0 + a1 + a2, y[2t+1] = a1 - a2 - a3 */
static void cols_a(float *restrict ye, float *restrict yo, const float *restrict a, int tw) {
    const float *a0 = a, *a1 = a + tw, *a2 = a1 + tw, *a3 = a2 + tw;
    for (int t = 0; t < tw; t++) {
        ye[t] = a0[t] + a1[t] + a2[t];
        yo[t] = a1[t] - a2[t] - a3[t];
    }
}

/* out[img] (=, or += when acc) conv(in[img]) + bias for the images i0 .. i0 + nb - 1 of a group;
 * in has I channels, out O, both H x W; buf is one thread's Winograd area */
static void wino_group(float *out, const float *in, const float *U, const float *bias, int I,
                       int O, int H, int W, const wino_dims *wd, int i0, int nb, int acc,
                       float *buf) {
    const int tw = wd->tw, th = wd->th, T = wd->T, hp = wd->hp, te = tw + 1;
    const size_t L = (size_t)nb * T, plane = (size_t)H * W;
    float *V = buf, *M = V + 16 * (size_t)I * L;
    /* the padded plane split into even and odd columns: [hp][te] each */
    float *PE = M + 16 * (size_t)O * L, *PO = PE + (size_t)hp * te;
    float *TE = PO + (size_t)hp * te, *TO = TE + 4 * (size_t)te; /* [4][te] row transforms */
    float *S = TO + 4 * (size_t)te, *Ye = S + 8 * (size_t)tw, *Yo = Ye + tw;
    /* input transform: V[k*4+j][c][tile] = (B^T d B)[k][j] */
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < I; c++) {
            const float *x = in + ((size_t)(i0 + b) * I + c) * plane;
            memset(PE, 0, sizeof(float) * (size_t)te);
            memset(PO, 0, sizeof(float) * (size_t)te);
            for (int y = 0; y < H; y++)
                split_row(PE + (size_t)(y + 1) * te, PO + (size_t)(y + 1) * te,
                          x + (size_t)y * W, W, te);
            for (int y = H + 1; y < hp; y++) {
                memset(PE + (size_t)y * te, 0, sizeof(float) * (size_t)te);
                memset(PO + (size_t)y * te, 0, sizeof(float) * (size_t)te);
            }
            for (int ty = 0; ty < th; ty++) {
                rows_bt(TE, PE + (size_t)(2 * ty) * te, (size_t)te, te);
                rows_bt(TO, PO + (size_t)(2 * ty) * te, (size_t)te, te);
                const size_t off = (size_t)c * L + (size_t)b * T + (size_t)ty * tw;
                for (int k = 0; k < 4; k++) {
                    float *v = V + (size_t)(k * 4) * I * L + off;
                    const size_t st = (size_t)I * L;
                    cols_b(v, v + st, v + 2 * st, v + 3 * st, TE + (size_t)k * te,
                           TO + (size_t)k * te, tw);
                }
            }
        }
    for (int xi = 0; xi < 16; xi++)
        gd_sgemm(0, 0, O, (int)L, I, 1.0f, U + (size_t)xi * O * I, I, V + (size_t)xi * I * L,
                 (int)L, 0.0f, M + (size_t)xi * O * L, (int)L);
    /* output transform: y = A^T m A, cropped to H x W */
    const size_t st = (size_t)O * L;
    for (int b = 0; b < nb; b++)
        for (int o = 0; o < O; o++) {
            float *yimg = out + ((size_t)(i0 + b) * O + o) * plane;
            const float bv = bias ? bias[o] : 0.0f;
            for (int ty = 0; ty < th; ty++) {
                const size_t off = (size_t)o * L + (size_t)b * T + (size_t)ty * tw;
                for (int j = 0; j < 4; j++) {
                    const float *m = M + (size_t)j * st + off;
                    rows_at(S + (size_t)j * tw, S + (size_t)(4 + j) * tw, m, m + 4 * st,
                            m + 8 * st, m + 12 * st, tw);
                }
                for (int r = 0; r < 2; r++) {
                    int y = 2 * ty + r;
                    if (y >= H) break;
                    cols_a(Ye, Yo, S + (size_t)(4 * r) * tw, tw);
                    store_row(yimg + (size_t)y * W, Ye, Yo, W, bv, acc);
                }
            }
        }
}

/* the Winograd convolution over all images: out = conv(in) + bias, or out += conv(in) */
static void wino_conv(float *out, const float *in, const float *U, const float *bias, int I,
                      int O, const gd_conv2d_dims *d, int acc, float *slots, size_t slot) {
    wino_dims wd = wino_dims_of(d);
    const int groups = (d->n + wd.nb - 1) / wd.nb;
    #pragma omp parallel num_threads(conv_threads(d))
    {
        float *buf = slots + (size_t)omp_get_thread_num() * slot;
        #pragma omp for schedule(static)
        for (int g = 0; g < groups; g++) {
            int i0 = g * wd.nb, nb = d->n - i0 < wd.nb ? d->n - i0 : wd.nb;
            wino_group(out, in, U, bias, I, O, d->h, d->w, &wd, i0, nb, acc, buf);
        }
    }
}

/* the output columns ox whose input column ox*s - p + kj lies inside [0, W): [*lo, *hi) */
static inline void valid_range(int ow, int s, int p, int kj, int W, int *lo, int *hi) {
    int a = p - kj, l = a > 0 ? (a + s - 1) / s : 0; /* first ox with ox*s >= p - kj */
    int h = (W - 1 + p - kj) / s + 1;                 /* one past the last ox with x <= W-1 */
    if (W - 1 + p - kj < 0) h = 0;
    if (h > ow) h = ow;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* col[(c*k + ki)*k + kj][oy*ow + ox] = src[c][oy*s-p+ki][ox*s-p+kj] for one image */
static void im2col(float *restrict col, const float *restrict src, const gd_conv2d_dims *d,
                   int oh, int ow) {
    const int k = d->k, s = d->stride, p = d->pad, H = d->h, W = d->w;
    const size_t ohw = (size_t)oh * ow;
    for (int c = 0; c < d->ic; c++) {
        const float *plane = src + (size_t)c * H * W;
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *dst = col + ((size_t)(c * k + ki) * k + kj) * ohw;
                int lo, hi;
                valid_range(ow, s, p, kj, W, &lo, &hi);
                const int off = kj - p; /* input column of ox is ox*s + off */
                for (int oy = 0; oy < oh; oy++) {
                    int y = oy * s - p + ki;
                    float *row = dst + (size_t)oy * ow;
                    if (y < 0 || y >= H) {
                        memset(row, 0, sizeof(float) * ow);
                        continue;
                    }
                    const float *srow = plane + (size_t)y * W;
                    for (int ox = 0; ox < lo; ox++) row[ox] = 0.0f;
                    if (s == 1) {
                        for (int ox = lo; ox < hi; ox++) row[ox] = srow[ox + off];
                    } else {
                        for (int ox = lo; ox < hi; ox++) row[ox] = srow[ox * s + off];
                    }
                    for (int ox = hi; ox < ow; ox++) row[ox] = 0.0f;
                }
            }
    }
}

/* the adjoint of im2col for one image: dst[c][y][x] += col entries that were read from there */
static void col2im(float *restrict dst, const float *restrict col, const gd_conv2d_dims *d,
                   int oh, int ow) {
    const int k = d->k, s = d->stride, p = d->pad, H = d->h, W = d->w;
    const size_t ohw = (size_t)oh * ow;
    for (int c = 0; c < d->ic; c++) {
        float *plane = dst + (size_t)c * H * W;
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *src = col + ((size_t)(c * k + ki) * k + kj) * ohw;
                int lo, hi;
                valid_range(ow, s, p, kj, W, &lo, &hi);
                const int off = kj - p;
                for (int oy = 0; oy < oh; oy++) {
                    int y = oy * s - p + ki;
                    if (y < 0 || y >= H) continue;
                    const float *row = src + (size_t)oy * ow;
                    float *drow = plane + (size_t)y * W;
                    if (s == 1) {
                        for (int ox = lo; ox < hi; ox++) drow[ox + off] += row[ox];
                    } else {
                        for (int ox = lo; ox < hi; ox++) drow[ox * s + off] += row[ox];
                    }
                }
            }
    }
}

void gd_conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                       const gd_conv2d_dims *d, float *scratch) {
    check_dims(d);
    GD_ASSERT(out && inp && w && scratch);
    const int oh = gd_conv2d_out_size(d->h, d->k, d->stride, d->pad);
    const int ow = gd_conv2d_out_size(d->w, d->k, d->stride, d->pad);
    const int K = d->ic * d->k * d->k, OC = d->oc, ohw = oh * ow, pw = is_pointwise(d);
    const size_t slot = slot_floats(d), in_img = (size_t)d->ic * d->h * d->w;
    if (use_winograd(d)) {
        float *U = scratch;
        wino_kernel(U, w, OC, d->ic, 0);
        wino_conv(out, inp, U, b, d->ic, OC, d, 0, scratch + wino_u_floats(d), slot);
        return;
    }
    #pragma omp parallel num_threads(conv_threads(d))
    {
        float *col = scratch + (size_t)omp_get_thread_num() * slot;
        #pragma omp for schedule(static)
        for (int img = 0; img < d->n; img++) {
            const float *src = inp + (size_t)img * in_img;
            float *dst = out + (size_t)img * OC * ohw;
            if (!pw) im2col(col, src, d, oh, ow);
            gd_sgemm(0, 0, OC, ohw, K, 1.0f, w, K, pw ? src : col, ohw, 0.0f, dst, ohw);
            if (b)
                for (int o = 0; o < OC; o++) {
                    float *row = dst + (size_t)o * ohw;
                    const float bias = b[o];
                    for (int i = 0; i < ohw; i++) row[i] += bias;
                }
        }
    }
}

void gd_conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const gd_conv2d_dims *d, float *scratch) {
    check_dims(d);
    GD_ASSERT(dout && inp && w && scratch);
    const int oh = gd_conv2d_out_size(d->h, d->k, d->stride, d->pad);
    const int ow = gd_conv2d_out_size(d->w, d->k, d->stride, d->pad);
    const int K = d->ic * d->k * d->k, OC = d->oc, ohw = oh * ow, pw = is_pointwise(d);
    const size_t slot = slot_floats(d), in_img = (size_t)d->ic * d->h * d->w;
    const size_t wn = (size_t)OC * K;
    const int G = conv_groups(d), wino = use_winograd(d);
    float *slots = scratch + wino_u_floats(d);
    float *part = slots + (size_t)conv_slots(d) * slot;
    if (db) {
        #pragma omp parallel for schedule(static)
        for (int o = 0; o < OC; o++) {
            float s = 0.0f;
            for (int n = 0; n < d->n; n++) {
                const float *src = dout + ((size_t)n * OC + o) * ohw;
                for (int i = 0; i < ohw; i++) s += src[i];
            }
            db[o] += s;
        }
    }
    if (!dw && !dinp) return;
    if (wino && dinp) { /* dinp += conv(dout) with the rotated, transposed kernel */
        wino_kernel(scratch, w, d->ic, OC, 1);
        wino_conv(dinp, dout, scratch, NULL, OC, d->ic, d, 1, slots, slot);
        dinp = NULL;
    }
    #pragma omp parallel num_threads(conv_threads(d))
    {
        float *col = slots + (size_t)omp_get_thread_num() * slot, *dcol = col + (size_t)K * ohw;
        /* one group per task, its images in order: the same sums for any thread count */
        #pragma omp for schedule(static)
        for (int g = 0; g < G; g++) {
            int i0 = (int)((int64_t)g * d->n / G), i1 = (int)((int64_t)(g + 1) * d->n / G);
            float *pg = part + (size_t)g * wn;
            for (int img = i0; img < i1; img++) {
                const float *src = inp + (size_t)img * in_img;
                const float *dy = dout + (size_t)img * OC * ohw;
                if (dw) {
                    if (!pw) im2col(col, src, d, oh, ow);
                    gd_sgemm(0, 1, OC, K, ohw, 1.0f, dy, ohw, pw ? src : col, ohw,
                             img == i0 ? 0.0f : 1.0f, pg, K);
                }
                if (dinp) {
                    float *dx = dinp + (size_t)img * in_img;
                    if (pw) {
                        gd_sgemm(1, 0, K, ohw, OC, 1.0f, w, K, dy, ohw, 1.0f, dx, ohw);
                    } else {
                        gd_sgemm(1, 0, K, ohw, OC, 1.0f, w, K, dy, ohw, 0.0f, dcol, ohw);
                        col2im(dx, dcol, d, oh, ow);
                    }
                }
            }
        }
    }
    if (dw) {
        #pragma omp parallel for schedule(static)
        for (size_t j = 0; j < wn; j++) {
            float s = part[j];
            for (int g = 1; g < G; g++) s += part[(size_t)g * wn + j];
            dw[j] += s;
        }
    }
}
