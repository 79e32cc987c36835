/* conv2d.c - 2-D convolution as im2col + BLAS sgemm, one image per task.
 *
 * Images are handed to the threads one task at a time (dynamic schedule: a thread the machine
 * delays does not hold up the others); each thread unfolds one image at a time into its own
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

/* at most this many threads (each with its own area of the scratch) work on one convolution,
 * unless its dims say fewer */
#define GD_CONV_SLOTS 16
/* the weight gradient's partial sums: images fall into this many fixed groups (fewer when there
 * are fewer images), which bounds the threads of that pass */
#define GD_CONV_GROUPS 8

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
    int s = d->threads > 0 && d->threads < GD_CONV_SLOTS ? d->threads : GD_CONV_SLOTS;
    return d->n < s ? d->n : s;
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
} wino_dims;

static wino_dims wino_dims_of(const gd_conv2d_dims *d) {
    wino_dims w;
    w.th = (d->h + 1) / 2;
    w.tw = (d->w + 1) / 2;
    w.T = w.th * w.tw;
    w.nb = 192 / w.T;
    if (w.nb < 1) w.nb = 1;
    if (w.nb > d->n) w.nb = d->n;
    return w;
}

/* floats of one thread's Winograd work area for I input and O output channels */
static size_t wino_slot_floats(const wino_dims *w, int I, int O) {
    size_t L = (size_t)w->nb * w->T, th = (size_t)w->th;
    size_t sub = (th + 1) * w->tw + 1, len = th * w->tw;
    size_t in_area = 4 * sub + 2 * (th + 1) + 8 * len + 2 + 4 * th;
    size_t out_area = 12 * (size_t)w->T;
    /* V, M (or dM), the transforms' work area, and the weight gradient's dU accumulator */
    return 16 * (size_t)(I + O) * L + (in_area > out_area ? in_area : out_area) +
           16 * (size_t)I * O;
}

/* floats of one thread's slot: im2col's columns (and their gradient), or the Winograd area */
/* images per GEMM of the im2col weight gradient: enough for a reduction of ~512 columns, so
 * small images do not each pay a pass over the [oc, K] result */
static int dw_batch(int ohw) {
    int b = 512 / ohw;
    return b < 1 ? 1 : b;
}

static size_t slot_floats(const gd_conv2d_dims *d) {
    int oh = gd_conv2d_out_size(d->h, d->k, d->stride, d->pad);
    int ow = gd_conv2d_out_size(d->w, d->k, d->stride, d->pad);
    size_t K = (size_t)d->ic * d->k * d->k, s = 2 * K * oh * ow;
    size_t bw = (size_t)dw_batch(oh * ow) * oh * ow; /* the batched columns and dout */
    if ((K + d->oc) * bw > s) s = (K + d->oc) * bw;
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
                for (int c = 0; c < 3; c++)
                    g[r][c] = rot ? src[(2 - r) * 3 + (2 - c)] : src[r * 3 + c];
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

/* B^T d for every tile row at once. The padded plane is held as its even and odd rows (e, o:
 * [th + 1][n] each, one column parity); tile row ty reads rows 2ty .. 2ty+3 = e[ty], o[ty],
 * e[ty+1], o[ty+1], so with q = ty * n + i: t0 = r0 - r2, t1 = r1 + r2, t2 = r2 - r1,
 * t3 = r1 - r3 are four loops over th * n contiguous entries */
static void rows_bt(float *restrict t, const float *restrict e, const float *restrict o,
                    int n, int len) {
    float *t0 = t, *t1 = t + len, *t2 = t1 + len, *t3 = t2 + len;
    for (int q = 0; q < len; q++) {
        float r0 = e[q], r1 = o[q], r2 = e[q + n], r3 = o[q + n];
        t0[q] = r0 - r2;
        t1[q] = r1 + r2;
        t2[q] = r2 - r1;
        t3[q] = r1 - r3;
    }
}

/* (. B) for every tile of one transformed row set, rows of n = tw entries: tile (ty, tx) reads
 * columns 2tx .. 2tx+3 = e[q], o[q], e[q+1], o[q+1] with q = ty * tw + tx. At tx = tw - 1 the
 * column pair 2tw, 2tw + 1 is not in the row (q + 1 is the next row's start): the caller
 * rewrites those tiles (wino_input). v0 .. v3 are st apart. */
static void cols_b(float *restrict v, size_t st, const float *restrict e,
                   const float *restrict o, int len) {
    float *v0 = v, *v1 = v + st, *v2 = v1 + st, *v3 = v2 + st;
    for (int q = 0; q < len; q++) {
        float a = e[q], b = o[q], c = e[q + 1], d = o[q + 1];
        v0[q] = a - c;
        v1[q] = b + c;
        v2[q] = c - b;
        v3[q] = b - d;
    }
}

/* A^T m for all tiles of one output channel: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 */
static void rows_at(float *restrict s0, float *restrict s1, const float *restrict m0,
                    const float *restrict m1, const float *restrict m2,
                    const float *restrict m3, int n) {
    for (int i = 0; i < n; i++) {
        s0[i] = m0[i] + m1[i] + m2[i];
        s1[i] = m1[i] - m2[i] - m3[i];
    }
}

/* (. A) for all tiles: ye = a0 + a1 + a2 (output column 2tx), yo = a1 - a2 - a3 (2tx + 1) */
static void cols_a(float *restrict ye, float *restrict yo, const float *restrict a0,
                   const float *restrict a1, const float *restrict a2,
                   const float *restrict a3, int n) {
    for (int i = 0; i < n; i++) {
        ye[i] = a0[i] + a1[i] + a2[i];
        yo[i] = a1[i] - a2[i] - a3[i];
    }
}

/* V[k*4+j][c][b*T + tile] = (B^T d B)[k][j] of the I-channel images i0 .. i0 + nb - 1 (L = nb T
 * tiles per row of V); work is the transforms' part of a thread's area (wino_slot_floats) */
static void wino_input(float *restrict V, const float *in, int I, int H, int W,
                       const wino_dims *wd, int i0, int nb, float *work) {
    const int tw = wd->tw, th = wd->th, T = wd->T;
    const int sub = (th + 1) * tw + 1, len = th * tw; /* a quarter plane; the tiles */
    const size_t L = (size_t)nb * T, plane = (size_t)H * W, st = (size_t)I * L;
    /* the zero-padded plane (padded row Y = y + 1, column X = x + 1) as four quarters by row
     * and column parity, [th + 1][tw] each, and its last even column X = 2 tw by row parity
     * (the last odd column, X = 2 tw + 1, is always padding) */
    float *Q = work, *ee = Q, *eo = Q + sub, *oe = Q + 2 * sub, *oo = Q + 3 * sub;
    float *le = Q + 4 * (size_t)sub, *lo = le + th + 1;
    float *TE = lo + th + 1, *TO = TE + 4 * (size_t)len + 1; /* B^T d: [4][len] + 1 each */
    float *TL = TO + 4 * (size_t)len + 1;                     /* B^T of the last column [4][th] */
    const int xl = 2 * tw - 1;                                /* x of column X = 2 tw */
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < I; c++) {
            const float *x = in + ((size_t)(i0 + b) * I + c) * plane;
            memset(Q, 0, sizeof(float) * (4 * (size_t)sub + 2 * (size_t)(th + 1)));
            for (int y = 0; y < H; y++) {
                int Y = y + 1, r = Y >> 1;
                float *qe = (Y & 1 ? oe : ee) + (size_t)r * tw;
                float *qo = (Y & 1 ? oo : eo) + (size_t)r * tw;
                split_row(qe, qo, x + (size_t)y * W, W, tw);
                if (xl < W) (Y & 1 ? lo : le)[r] = x[(size_t)y * W + xl];
            }
            rows_bt(TE, ee, oe, tw, len);
            rows_bt(TO, eo, oo, tw, len);
            rows_bt(TL, le, lo, 1, th);
            for (int k = 0; k < 4; k++) {
                float *v = V + (size_t)(k * 4) * st + (size_t)c * L + (size_t)b * T;
                const float *e = TE + (size_t)k * len, *o = TO + (size_t)k * len;
                cols_b(v, st, e, o, len);
                for (int ty = 0; ty < th; ty++) { /* the last tile of each row */
                    int q = ty * tw + tw - 1;
                    float a = e[q], bb = o[q], cc = TL[(size_t)k * th + ty];
                    v[q] = a - cc;
                    v[st + q] = bb + cc;
                    v[2 * st + q] = cc - bb;
                    v[3 * st + q] = bb;
                }
            }
        }
}

/* the rows of A dy for every tile: p = (a, a + c, a - c, -c), q = (b, b + d, b - d, -d) */
static void dout_rows(float *restrict pq, const float *restrict a, const float *restrict b,
                      const float *restrict c, const float *restrict d, int n) {
    float *p0 = pq, *p1 = p0 + n, *p2 = p1 + n, *p3 = p2 + n;
    float *q0 = p3 + n, *q1 = q0 + n, *q2 = q1 + n, *q3 = q2 + n;
    for (int t = 0; t < n; t++) {
        p0[t] = a[t];
        p1[t] = a[t] + c[t];
        p2[t] = a[t] - c[t];
        p3[t] = -c[t];
        q0[t] = b[t];
        q1[t] = b[t] + d[t];
        q2[t] = b[t] - d[t];
        q3[t] = -d[t];
    }
}

/* a row (p, q) of A dy times A^T: (p, p + q, p - q, -q), into m, m + st, m + 2 st, m + 3 st */
static void dout_cols(float *restrict m, size_t st, const float *restrict p,
                      const float *restrict q, int n) {
    float *m0 = m, *m1 = m + st, *m2 = m + 2 * st, *m3 = m + 3 * st;
    for (int t = 0; t < n; t++) {
        m0[t] = p[t];
        m1[t] = p[t] + q[t];
        m2[t] = p[t] - q[t];
        m3[t] = -q[t];
    }
}

/* the adjoint of the output transform for the O-channel output gradients of images
 * i0 .. i0 + nb - 1: dM[k*4+j][o][b*T + tile] = (A dy A^T)[k][j], dy the tile's 2x2 gradient
 * (zero where the tile runs past the image). With dy = [[a, b], [c, d]]: the rows of A dy are
 * (a, b), (a + c, b + d), (a - c, b - d), (-c, -d), and a row (p, q) times A^T is
 * (p, p + q, p - q, -q). work holds four [T] quarters of dy and the rows [8][T]. */
static void wino_dout(float *restrict dM, const float *dout, int O, int H, int W,
                      const wino_dims *wd, int i0, int nb, float *restrict work) {
    const int tw = wd->tw, T = wd->T;
    const size_t L = (size_t)nb * T, plane = (size_t)H * W, st = (size_t)O * L;
    float *qa = work, *qb = qa + T, *qc = qb + T, *qd = qc + T, *PQ = qd + T;
    for (int b = 0; b < nb; b++)
        for (int o = 0; o < O; o++) {
            const float *dy = dout + ((size_t)(i0 + b) * O + o) * plane;
            memset(work, 0, sizeof(float) * 4 * (size_t)T);
            for (int y = 0; y < H; y++) {
                float *e = (y & 1 ? qc : qa) + (size_t)(y >> 1) * tw;
                float *od = (y & 1 ? qd : qb) + (size_t)(y >> 1) * tw;
                const float *row = dy + (size_t)y * W;
                for (int t = 0; t < W / 2; t++) {
                    e[t] = row[2 * t];
                    od[t] = row[2 * t + 1];
                }
                if (W & 1) e[W / 2] = row[W - 1];
            }
            float *m = dM + (size_t)o * L + (size_t)b * T;
            dout_rows(PQ, qa, qb, qc, qd, T);
            for (int k = 0; k < 4; k++)
                dout_cols(m + (size_t)(k * 4) * st, st, PQ + (size_t)k * T,
                          PQ + (size_t)(4 + k) * T, T);
        }
}

/* dw[o][i][3][3] = G^T dU[.][o][i] G, the adjoint of wino_kernel (rot = 0) */
static void wino_kernel_grad(float *dw, const float *dU, int O, int I) {
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++) {
            float u[4][4], t[3][4];
            for (int xi = 0; xi < 16; xi++) u[xi / 4][xi % 4] = dU[((size_t)xi * O + o) * I + i];
            for (int c = 0; c < 4; c++) { /* G^T u: rows g0 + .5 g1 + .5 g2, .5 g1 - .5 g2, ... */
                t[0][c] = u[0][c] + 0.5f * (u[1][c] + u[2][c]);
                t[1][c] = 0.5f * (u[1][c] - u[2][c]);
                t[2][c] = 0.5f * (u[1][c] + u[2][c]) + u[3][c];
            }
            float *g = dw + ((size_t)o * I + i) * 9;
            for (int r = 0; r < 3; r++) {
                g[r * 3 + 0] = t[r][0] + 0.5f * (t[r][1] + t[r][2]);
                g[r * 3 + 1] = 0.5f * (t[r][1] - t[r][2]);
                g[r * 3 + 2] = 0.5f * (t[r][1] + t[r][2]) + t[r][3];
            }
        }
}

/* out[img] (=, or += when acc) conv(in[img]) + bias for the images i0 .. i0 + nb - 1 of a group;
 * in has I channels, out O, both H x W; buf is one thread's Winograd area */
static void wino_group(float *out, const float *in, const float *U, const float *bias, int I,
                       int O, int H, int W, const wino_dims *wd, int i0, int nb, int acc,
                       float *buf) {
    const int tw = wd->tw, T = wd->T;
    const size_t L = (size_t)nb * T, plane = (size_t)H * W;
    float *V = buf, *M = V + 16 * (size_t)I * L, *Q = M + 16 * (size_t)O * L;
    wino_input(V, in, I, H, W, wd, i0, nb, Q);
    for (int xi = 0; xi < 16; xi++)
        gd_sgemm(0, 0, O, (int)L, I, 1.0f, U + (size_t)xi * O * I, I, V + (size_t)xi * I * L,
                 (int)L, 0.0f, M + (size_t)xi * O * L, (int)L);
    /* output transform: y = A^T m A, cropped to H x W */
    const size_t st = (size_t)O * L;
    float *S = Q, *Y = S + 8 * (size_t)T; /* [2][4][T] and [2][2][T], reusing the input area */
    for (int b = 0; b < nb; b++)
        for (int o = 0; o < O; o++) {
            float *yimg = out + ((size_t)(i0 + b) * O + o) * plane;
            const float bv = bias ? bias[o] : 0.0f;
            const float *m = M + (size_t)o * L + (size_t)b * T;
            for (int j = 0; j < 4; j++)
                rows_at(S + (size_t)j * T, S + (size_t)(4 + j) * T, m + (size_t)j * st,
                        m + (size_t)(4 + j) * st, m + (size_t)(8 + j) * st,
                        m + (size_t)(12 + j) * st, T);
            for (int r = 0; r < 2; r++) {
                const float *a = S + (size_t)(4 * r) * T;
                cols_a(Y + (size_t)(2 * r) * T, Y + (size_t)(2 * r + 1) * T, a, a + T,
                       a + 2 * T, a + 3 * T, T);
            }
            for (int y = 0; y < H; y++) {
                int r = y & 1, ty = y >> 1;
                store_row(yimg + (size_t)y * W, Y + (size_t)(2 * r) * T + (size_t)ty * tw,
                          Y + (size_t)(2 * r + 1) * T + (size_t)ty * tw, W, bv, acc);
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
        #pragma omp for schedule(dynamic, 1)
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

/* col[(c*k + ki)*k + kj][oy*ow + ox] = src[c][oy*s-p+ki][ox*s-p+kj] for one image; rows of col
 * are ld apart (ld >= oh*ow: several images side by side) */
static void im2col(float *restrict col, const float *restrict src, const gd_conv2d_dims *d,
                   int oh, int ow, size_t ld) {
    const int k = d->k, s = d->stride, p = d->pad, H = d->h, W = d->w;
    for (int c = 0; c < d->ic; c++) {
        const float *plane = src + (size_t)c * H * W;
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *dst = col + ((size_t)(c * k + ki) * k + kj) * ld;
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
        #pragma omp for schedule(dynamic, 1)
        for (int img = 0; img < d->n; img++) {
            const float *src = inp + (size_t)img * in_img;
            float *dst = out + (size_t)img * OC * ohw;
            if (!pw) im2col(col, src, d, oh, ow, (size_t)ohw);
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

/* dw += the G weight-gradient partials [G][wn], summed in group order first (as one GEMM over
 * all images would add its product once) */
static void add_partials(float *dw, const float *part, int G, size_t wn) {
    #pragma omp parallel for schedule(static)
    for (size_t j = 0; j < wn; j++) {
        float s = part[j];
        for (int g = 1; g < G; g++) s += part[(size_t)g * wn + j];
        dw[j] += s;
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
    const int G = conv_groups(d), wino = use_winograd(d), bw = dw_batch(ohw);
    const wino_dims wd = wino_dims_of(d);
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
    /* the weight gradient by Winograd too where images have 49 tiles or more (smaller ones
     * give GEMMs too short to gain) */
    if (wino && dw && wd.T >= 49) {
        /* dU = sum over tiles of dM V^T per group of images, dw = G^T dU G */
        const int I = d->ic;
        #pragma omp parallel num_threads(conv_threads(d))
        {
            float *buf = slots + (size_t)omp_get_thread_num() * slot;
            const size_t Lmax = (size_t)wd.nb * wd.T;
            float *V = buf, *dM = V + 16 * (size_t)I * Lmax, *work = dM + 16 * (size_t)OC * Lmax;
            float *dU = buf + slot - 16 * (size_t)I * OC;
            #pragma omp for schedule(dynamic, 1)
            for (int g = 0; g < G; g++) {
                int i0 = (int)((int64_t)g * d->n / G), i1 = (int)((int64_t)(g + 1) * d->n / G);
                for (int b0 = i0; b0 < i1; b0 += wd.nb) {
                    int nb = i1 - b0 < wd.nb ? i1 - b0 : wd.nb, L = nb * wd.T;
                    wino_input(V, inp, I, d->h, d->w, &wd, b0, nb, work);
                    wino_dout(dM, dout, OC, d->h, d->w, &wd, b0, nb, work);
                    for (int xi = 0; xi < 16; xi++)
                        gd_sgemm(0, 1, OC, I, L, 1.0f, dM + (size_t)xi * OC * L, L,
                                 V + (size_t)xi * I * L, L, b0 == i0 ? 0.0f : 1.0f,
                                 dU + (size_t)xi * OC * I, I);
                }
                wino_kernel_grad(part + (size_t)g * wn, dU, OC, I);
            }
        }
        add_partials(dw, part, G, wn);
        dw = NULL;
    }
    if (wino && dinp) { /* dinp += conv(dout) with the rotated, transposed kernel */
        wino_kernel(scratch, w, d->ic, OC, 1);
        wino_conv(dinp, dout, scratch, NULL, OC, d->ic, d, 1, slots, slot);
        dinp = NULL;
    }
    if (!dw && !dinp) return;
    #pragma omp parallel num_threads(conv_threads(d))
    {
        float *col = slots + (size_t)omp_get_thread_num() * slot, *dcol = col;
        /* one group per task, its images in order: the same sums for any thread count */
        #pragma omp for schedule(dynamic, 1)
        for (int g = 0; g < G; g++) {
            int i0 = (int)((int64_t)g * d->n / G), i1 = (int)((int64_t)(g + 1) * d->n / G);
            float *pg = part + (size_t)g * wn;
            /* dw: batches of images side by side, [K, nb * ohw] columns against the same
             * images' output gradients [OC, nb * ohw] */
            for (int b0 = i0; dw && b0 < i1; b0 += bw) {
                const int nb = i1 - b0 < bw ? i1 - b0 : bw;
                const size_t Lw = (size_t)nb * ohw;
                const float *A = dout + (size_t)b0 * OC * ohw, *B = inp + (size_t)b0 * in_img;
                if (nb > 1 || !pw) {
                    float *cols = col, *dys = col + (size_t)K * Lw;
                    for (int b = 0; b < nb; b++) {
                        im2col(cols + (size_t)b * ohw, inp + (size_t)(b0 + b) * in_img, d, oh, ow,
                               Lw);
                        if (nb > 1)
                            for (int o = 0; o < OC; o++)
                                memcpy(dys + (size_t)o * Lw + (size_t)b * ohw,
                                       dout + ((size_t)(b0 + b) * OC + o) * ohw,
                                       sizeof(float) * (size_t)ohw);
                    }
                    B = cols;
                    if (nb > 1) A = dys;
                }
                gd_sgemm(0, 1, OC, K, (int)Lw, 1.0f, A, (int)Lw, B, (int)Lw,
                         b0 == i0 ? 0.0f : 1.0f, pg, K);
            }
            for (int img = i0; dinp && img < i1; img++) {
                const float *dy = dout + (size_t)img * OC * ohw;
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
    if (dw) add_partials(dw, part, G, wn);
}
