/* linear.c - fully connected layer through BLAS sgemm (PyTorch nn.Linear layout). */
#include "gmmdiff/ops.h"
#include "gmmdiff/core.h"
#include "core/blas.h"


void gd_linear_forward(float *out, const float *inp, const float *w, const float *b,
                       int B, int IC, int OC) {
    GD_ASSERT(out && inp && w && B > 0 && IC > 0 && OC > 0);
    if (b) {
        #pragma omp parallel for schedule(static)
        for (int i = 0; i < B; i++)
            for (int o = 0; o < OC; o++) out[(size_t)i * OC + o] = b[o];
    }
    /* out[B, OC] (+)= inp[B, IC] @ w[OC, IC]^T */
    gd_sgemm(0, 1, B, OC, IC, 1.0f, inp, IC, w, IC, b ? 1.0f : 0.0f, out, OC);
}

void gd_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int B, int IC, int OC) {
    GD_ASSERT(dout && inp && w && B > 0 && IC > 0 && OC > 0);
    if (dinp) /* dinp[B, IC] += dout[B, OC] @ w[OC, IC] */
        gd_sgemm(0, 0, B, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, dinp, IC);
    if (dw) /* dw[OC, IC] += dout^T[OC, B] @ inp[B, IC] */
        gd_sgemm(1, 0, OC, IC, B, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (db) {
        #pragma omp parallel for schedule(static)
        for (int o = 0; o < OC; o++) {
            float s = 0.0f;
            for (int i = 0; i < B; i++) s += dout[(size_t)i * OC + o];
            db[o] += s;
        }
    }
}
