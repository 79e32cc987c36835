/* elementwise.c - SiLU, add, per-channel add, embedding lookup, nearest 2x upsample and channel
 * concat. */
#include "gmmdiff/ops.h"
#include "gmmdiff/core.h"
#include "vexp.h"

#include <math.h>
#include <string.h>

void gd_silu_forward(float *out, const float *inp, size_t n) {
    GD_ASSERT(out && inp);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = x / (1.0f + gd_vexpf(-x));
    }
}

void gd_silu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    GD_ASSERT(dinp && dout && inp);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], s = 1.0f / (1.0f + gd_vexpf(-x));
        dinp[i] += dout[i] * s * (1.0f + x * (1.0f - s));
    }
}

void gd_add_forward(float *out, const float *a, const float *b, size_t n) {
    GD_ASSERT(out && a && b);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void gd_add_backward(float *da, float *db, const float *dout, size_t n) {
    GD_ASSERT(dout);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        if (da) da[i] += dout[i];
        if (db) db[i] += dout[i];
    }
}

void gd_add_channel_forward(float *out, const float *x, const float *e, int N, int C, int HW) {
    GD_ASSERT(out && x && e && N > 0 && C > 0 && HW > 0);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            size_t off = ((size_t)n * C + c) * HW;
            float v = e[n * C + c];
            for (int p = 0; p < HW; p++) out[off + p] = x[off + p] + v;
        }
}

void gd_add_channel_backward(float *dx, float *de, const float *dout, int N, int C, int HW) {
    GD_ASSERT(dout && N > 0 && C > 0 && HW > 0);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            size_t off = ((size_t)n * C + c) * HW;
            float s = 0.0f;
            for (int p = 0; p < HW; p++) {
                s += dout[off + p];
                if (dx) dx[off + p] += dout[off + p];
            }
            if (de) de[n * C + c] += s;
        }
}

void gd_upsample2x_forward(float *out, const float *inp, int NC, int H, int W) {
    GD_ASSERT(out && inp && NC > 0 && H > 0 && W > 0);
    const int W2 = 2 * W;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < NC; c++)
        for (int y = 0; y < H; y++) {
            const float *src = inp + ((size_t)c * H + y) * W;
            float *r0 = out + ((size_t)c * 2 * H + 2 * y) * W2, *r1 = r0 + W2;
            for (int x = 0; x < W; x++) r0[2 * x] = r0[2 * x + 1] = src[x];
            memcpy(r1, r0, sizeof(float) * W2);
        }
}

void gd_upsample2x_backward(float *dinp, const float *dout, int NC, int H, int W) {
    GD_ASSERT(dinp && dout && NC > 0 && H > 0 && W > 0);
    const int W2 = 2 * W;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < NC; c++)
        for (int y = 0; y < H; y++) {
            float *dst = dinp + ((size_t)c * H + y) * W;
            const float *r0 = dout + ((size_t)c * 2 * H + 2 * y) * W2, *r1 = r0 + W2;
            for (int x = 0; x < W; x++)
                dst[x] += (r0[2 * x] + r0[2 * x + 1]) + (r1[2 * x] + r1[2 * x + 1]);
        }
}

void gd_concat_forward(float *out, const float *a, const float *b, int N, int C1, int C2, int HW) {
    GD_ASSERT(out && a && b && N > 0 && C1 > 0 && C2 > 0 && HW > 0);
    const size_t na = (size_t)C1 * HW, nb = (size_t)C2 * HW;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        memcpy(out + n * (na + nb), a + n * na, sizeof(float) * na);
        memcpy(out + n * (na + nb) + na, b + n * nb, sizeof(float) * nb);
    }
}

void gd_concat_backward(float *da, float *db, const float *dout, int N, int C1, int C2, int HW) {
    GD_ASSERT(dout && N > 0 && C1 > 0 && C2 > 0 && HW > 0);
    const size_t na = (size_t)C1 * HW, nb = (size_t)C2 * HW;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *src = dout + n * (na + nb);
        if (da)
            for (size_t i = 0; i < na; i++) da[n * na + i] += src[i];
        if (db)
            for (size_t i = 0; i < nb; i++) db[n * nb + i] += src[na + i];
    }
}

/* an index of -1 stands for "no row": a zero embedding (the zero null condition) */
static int embedding_row(float v, int K) {
    int k = (int)v;
    GD_ASSERT_MSG((float)k == v && k >= -1 && k < K, "embedding: index not an integer in [-1, K)");
    return k;
}

void gd_embedding_forward(float *out, const float *idx, const float *table, int N, int K, int D) {
    GD_ASSERT(out && idx && table && N > 0 && K > 0 && D > 0);
    for (int n = 0; n < N; n++) {
        int k = embedding_row(idx[n], K);
        if (k < 0) memset(out + (size_t)n * D, 0, sizeof(float) * D);
        else memcpy(out + (size_t)n * D, table + (size_t)k * D, sizeof(float) * D);
    }
}

void gd_embedding_backward(float *dtable, const float *dout, const float *idx, int N, int K,
                           int D) {
    GD_ASSERT(dtable && dout && idx && N > 0 && K > 0 && D > 0);
    /* rows in batch order, columns in parallel: a fixed summation order per entry */
    #pragma omp parallel for schedule(static)
    for (int j = 0; j < D; j++)
        for (int n = 0; n < N; n++) {
            int k = embedding_row(idx[n], K);
            if (k >= 0) dtable[(size_t)k * D + j] += dout[(size_t)n * D + j];
        }
}
