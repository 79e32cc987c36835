/* conv2d.c - 2-D convolution as im2col + BLAS sgemm over chunks of images.
 *
 * A chunk of `nc` images is unfolded into col[ic*k*k, nc*oh*ow] so one GEMM covers the chunk:
 *   forward   tmp[oc, L] = w[oc, ic*k*k] @ col,      L = nc*oh*ow, then scattered to NCHW + bias
 *   backward  dw += dout_t[oc, L] @ col^T;  col = w^T @ dout_t; col2im adds into dinp.
 * im2col / col2im are parallel over (image, channel) planes: each input plane only touches its
 * own rows of col, so every sum has a fixed order whatever the thread count. */
#include "gmmdiff/ops.h"
#include "gmmdiff/core.h"
#include "core/blas.h"

#include <string.h>

/* floats of col per chunk; the chunk shrinks to fit, never below one image */
#define GD_CONV_COL_BUDGET ((size_t)4 << 20)

int gd_conv2d_out_size(int in, int k, int stride, int pad) {
    return (in + 2 * pad - k) / stride + 1;
}

static int conv_chunk(const gd_conv2d_dims *d, int oh, int ow) {
    size_t per = (size_t)d->ic * d->k * d->k * oh * ow;
    size_t c = GD_CONV_COL_BUDGET / (per ? per : 1);
    if (c < 1) c = 1;
    if (c > (size_t)d->n) c = (size_t)d->n;
    return (int)c;
}

static void check_dims(const gd_conv2d_dims *d) {
    GD_ASSERT(d && d->n > 0 && d->ic > 0 && d->h > 0 && d->w > 0 && d->oc > 0);
    GD_ASSERT(d->k > 0 && d->stride > 0 && d->pad >= 0);
    GD_ASSERT_MSG(d->h + 2 * d->pad >= d->k && d->w + 2 * d->pad >= d->k,
                  "conv2d kernel larger than padded input");
}

size_t gd_conv2d_scratch_floats(const gd_conv2d_dims *d) {
    check_dims(d);
    int oh = gd_conv2d_out_size(d->h, d->k, d->stride, d->pad);
    int ow = gd_conv2d_out_size(d->w, d->k, d->stride, d->pad);
    size_t L = (size_t)conv_chunk(d, oh, ow) * oh * ow;
    return (size_t)d->ic * d->k * d->k * L + (size_t)d->oc * L;
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

/* col[(c*k + ki)*k + kj][img*ohw + oy*ow + ox] = inp[n0+img][c][oy*s-p+ki][ox*s-p+kj] */
static void im2col(float *col, const float *inp, const gd_conv2d_dims *d, int n0, int nc, int oh,
                   int ow) {
    const int k = d->k, s = d->stride, p = d->pad, H = d->h, W = d->w;
    const size_t ohw = (size_t)oh * ow, L = (size_t)nc * ohw;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int img = 0; img < nc; img++)
        for (int c = 0; c < d->ic; c++) {
            const float *src = inp + ((size_t)(n0 + img) * d->ic + c) * H * W;
            for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) {
                    float *dst = col + ((size_t)(c * k + ki) * k + kj) * L + img * ohw;
                    int lo, hi;
                    valid_range(ow, s, p, kj, W, &lo, &hi);
                    for (int oy = 0; oy < oh; oy++) {
                        int y = oy * s - p + ki;
                        float *row = dst + (size_t)oy * ow;
                        if (y < 0 || y >= H) {
                            memset(row, 0, sizeof(float) * ow);
                            continue;
                        }
                        const float *srow = src + (size_t)y * W;
                        const int off = kj - p; /* input column of ox is ox*s + off */
                        for (int ox = 0; ox < lo; ox++) row[ox] = 0.0f;
                        if (s == 1 && hi > lo) {
                            memcpy(row + lo, srow + lo + off, sizeof(float) * (size_t)(hi - lo));
                        } else {
                            for (int ox = lo; ox < hi; ox++) row[ox] = srow[ox * s + off];
                        }
                        for (int ox = hi; ox < ow; ox++) row[ox] = 0.0f;
                    }
                }
        }
}

/* the adjoint of im2col: dinp[n0+img][c][y][x] += col entries that were read from there */
static void col2im(float *dinp, const float *col, const gd_conv2d_dims *d, int n0, int nc, int oh,
                   int ow) {
    const int k = d->k, s = d->stride, p = d->pad, H = d->h, W = d->w;
    const size_t ohw = (size_t)oh * ow, L = (size_t)nc * ohw;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int img = 0; img < nc; img++)
        for (int c = 0; c < d->ic; c++) {
            float *dst = dinp + ((size_t)(n0 + img) * d->ic + c) * H * W;
            for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) {
                    const float *src = col + ((size_t)(c * k + ki) * k + kj) * L + img * ohw;
                    int lo, hi;
                    valid_range(ow, s, p, kj, W, &lo, &hi);
                    for (int oy = 0; oy < oh; oy++) {
                        int y = oy * s - p + ki;
                        if (y < 0 || y >= H) continue;
                        const float *row = src + (size_t)oy * ow;
                        float *drow = dst + (size_t)y * W;
                        const int off = kj - p;
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
    const int chunk = conv_chunk(d, oh, ow), K = d->ic * d->k * d->k, OC = d->oc;
    const size_t ohw = (size_t)oh * ow;
    float *col = scratch, *tmp = scratch + (size_t)K * chunk * ohw;
    for (int n0 = 0; n0 < d->n; n0 += chunk) {
        int nc = d->n - n0 < chunk ? d->n - n0 : chunk;
        int L = (int)(nc * ohw);
        im2col(col, inp, d, n0, nc, oh, ow);
        gd_sgemm(0, 0, OC, L, K, 1.0f, w, K, col, L, 0.0f, tmp, L);
        #pragma omp parallel for collapse(2) schedule(static)
        for (int img = 0; img < nc; img++)
            for (int o = 0; o < OC; o++) {
                const float *src = tmp + (size_t)o * L + img * ohw;
                float *dst = out + ((size_t)(n0 + img) * OC + o) * ohw;
                float bias = b ? b[o] : 0.0f;
                for (size_t i = 0; i < ohw; i++) dst[i] = src[i] + bias;
            }
    }
}

void gd_conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const gd_conv2d_dims *d, float *scratch) {
    check_dims(d);
    GD_ASSERT(dout && inp && w && scratch);
    const int oh = gd_conv2d_out_size(d->h, d->k, d->stride, d->pad);
    const int ow = gd_conv2d_out_size(d->w, d->k, d->stride, d->pad);
    const int chunk = conv_chunk(d, oh, ow), K = d->ic * d->k * d->k, OC = d->oc;
    const size_t ohw = (size_t)oh * ow;
    float *col = scratch, *tmp = scratch + (size_t)K * chunk * ohw;
    if (db) {
        #pragma omp parallel for schedule(static)
        for (int o = 0; o < OC; o++) {
            float s = 0.0f;
            for (int n = 0; n < d->n; n++) {
                const float *src = dout + ((size_t)n * OC + o) * ohw;
                for (size_t i = 0; i < ohw; i++) s += src[i];
            }
            db[o] += s;
        }
    }
    if (!dw && !dinp) return;
    for (int n0 = 0; n0 < d->n; n0 += chunk) {
        int nc = d->n - n0 < chunk ? d->n - n0 : chunk;
        int L = (int)(nc * ohw);
        #pragma omp parallel for collapse(2) schedule(static)
        for (int img = 0; img < nc; img++)
            for (int o = 0; o < OC; o++)
                memcpy(tmp + (size_t)o * L + img * ohw, dout + ((size_t)(n0 + img) * OC + o) * ohw,
                       sizeof(float) * ohw);
        if (dw) {
            im2col(col, inp, d, n0, nc, oh, ow);
            gd_sgemm(0, 1, OC, K, L, 1.0f, tmp, L, col, L, 1.0f, dw, K);
        }
        if (dinp) {
            gd_sgemm(1, 0, K, L, OC, 1.0f, w, K, tmp, L, 0.0f, col, L);
            col2im(dinp, col, d, n0, nc, oh, ow);
        }
    }
}
