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
 * A 1x1 stride-1 unpadded convolution needs no unfolding: col is the image itself. Every sum
 * has a fixed order whatever the thread count. */
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

/* scratch layout: [slots][2][K * ohw] unfolding slots (col and dcol), then [groups][oc * K]
 * weight-gradient partials */
size_t gd_conv2d_scratch_floats(const gd_conv2d_dims *d) {
    check_dims(d);
    int oh = gd_conv2d_out_size(d->h, d->k, d->stride, d->pad);
    int ow = gd_conv2d_out_size(d->w, d->k, d->stride, d->pad);
    size_t K = (size_t)d->ic * d->k * d->k, ohw = (size_t)oh * ow;
    return (size_t)conv_slots(d) * 2 * K * ohw + (size_t)conv_groups(d) * d->oc * K;
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
    const size_t slot = 2 * (size_t)K * ohw, in_img = (size_t)d->ic * d->h * d->w;
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
    const size_t slot = 2 * (size_t)K * ohw, in_img = (size_t)d->ic * d->h * d->w;
    const size_t wn = (size_t)OC * K;
    const int G = conv_groups(d);
    float *part = scratch + (size_t)conv_slots(d) * slot;
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
    #pragma omp parallel num_threads(conv_threads(d))
    {
        float *col = scratch + (size_t)omp_get_thread_num() * slot, *dcol = col + slot / 2;
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
