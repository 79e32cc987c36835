/* gmm_internal.h - what the files of src/gmm share (not a public header). */
#ifndef GMMDIFF_GMM_INTERNAL_H
#define GMMDIFF_GMM_INTERNAL_H

#include "gmmdiff/gmm.h"

/* OpenMP loops run in parallel only above this much work (multiply-adds): below it, waking the
 * threads costs more than the loop (and on busy cores far more) */
#define GD_GMM_PAR_WORK 262144.0
/* columns summed at once in a thread's own accumulators (M-step) */
#define GD_GMM_BLOCK 8

/* allocates m's arrays for k components in d dimensions (zeroed); frees what m held before */
gd_status gd_gmm_alloc(gd_gmm *m, int k, int d, gd_gmm_cov cov, gd_error *err);
/* copies src's parameters and fit results into dst, which must have the same k, d, cov */
void gd_gmm_copy(gd_gmm *dst, const gd_gmm *src);

/* l [d, d] = the lower Cholesky factor of the symmetric a [d, d] (its lower triangle is read);
 * returns 0, or -1 when a is not (numerically) positive definite or not finite */
int gd_gmm_cholesky(const double *a, double *l, int d);

/* prec_chol and log_det from the covariances; returns -1 when all are positive definite, -2 when
 * out of memory, else the index of the first component that is not (0 for the tied one) */
int gd_gmm_update_precisions(gd_gmm *m);

/* The E-step over x [n, d], in parallel over points: lpn [n] = log p(x_i) (log-sum-exp of the
 * weighted log densities); log_resp [n, k] = log posteriors (NULL: not wanted); labels [n] =
 * argmax (NULL: not wanted). GD_ERR_NOMEM only. */
gd_status gd_gmm_estep(const gd_gmm *m, const double *x, int64_t n, double *lpn, double *log_resp,
                       int32_t *labels, gd_error *err);

/* GD_ERR_NUMERIC naming the first non-finite x[i, j] (what names the data) */
gd_status gd_gmm_check_finite(const double *x, int64_t n, int d, const char *what, gd_error *err);

/* sklearn's KMeans(n_clusters=k, n_init=1) labels: greedy k-means++ seeds (2 + ln k local
 * trials), then Lloyd iterations (max_iter 300, tol 1e-4 x mean feature variance, empty clusters
 * moved to the farthest points). labels [n]. */
gd_status gd_gmm_kmeans(const double *x, int64_t n, int d, int k, gd_rng *rng, int32_t *labels,
                        gd_error *err);

#endif
