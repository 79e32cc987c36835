/* blas.h - the library's one door to BLAS (internal).
 *
 * OpenBLAS is loaded on first use with dlopen rather than linked, so that the kernel choice can
 * be made before OpenBLAS initialises: OpenBLAS 0.3.21 (Debian 12) does not recognise some
 * recent or virtualised CPUs and silently falls back to its SSE3 "Prescott" kernels, 3-5x slower
 * than what the CPU can run. When the user has not set OPENBLAS_CORETYPE and the CPU has
 * AVX-512 (F, BW, DQ, VL) we ask for "SkylakeX", with AVX2+FMA for "Haswell"; a user's setting
 * is always kept. See docs/ENGINE.md. */
#ifndef GMMDIFF_BLAS_H
#define GMMDIFF_BLAS_H

#include "gmmdiff/core.h"

/* C[M,N] = alpha * op(A) op(B) + beta * C, row-major; ta/tb non-zero to transpose */
void gd_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void gd_blas_set_num_threads(int n);
/* loads OpenBLAS now; a failure is a status with a message (gd_sgemm asserts on it instead) */
gd_status gd_blas_init(gd_error *err);
/* the OpenBLAS kernel in use (e.g. "SkylakeX"), loading OpenBLAS if needed */
const char *gd_blas_corename(void);

#endif
