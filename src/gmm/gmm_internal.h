/* gmm_internal.h - what the files of src/gmm share (not a public header). */
#ifndef GMMDIFF_GMM_INTERNAL_H
#define GMMDIFF_GMM_INTERNAL_H

#include "gmmdiff/gmm.h"

/* OpenMP loops run in parallel only above this much work (multiply-adds): below it, waking the
 * threads costs more than the loop (and on busy cores far more) */
#define GD_GMM_PAR_WORK 262144.0
/* columns summed at once in a thread's own accumulators (M-step) */
#define GD_GMM_BLOCK 8

/* points per vector in the E- and M-step kernels (gmm_kernels.c): 8 doubles, one AVX-512
 * register, two AVX2 ones */
#define GD_GMM_VL 8
/* points per block of work: the E-step of a block and its scatter scratch stay in L2 */
#define GD_GMM_CHUNK 1024

/* EM's working memory, allocated once per fit (no allocation per iteration). The points are cut
 * into nchunks chunks of chunk points (a multiple of GD_GMM_CHUNK, from n, d and k only); each
 * chunk's sums go to its own slot and the slots are added in order, so a fit is the same at any
 * thread count. */
typedef struct gd_gmm_plan {
    int64_t n, chunk, nchunks;
    int d, k, nthreads;
    gd_gmm_cov cov;
    size_t ld;          /* n rounded up to GD_GMM_VL: the row length of xt and resp */
    double *xt;         /* [d, ld]: the data transposed; padding lanes repeat the last point */
    double *resp;       /* [k, ld]: responsibilities, 0 in the padding lanes */
    double *sums;       /* [nchunks, k, d + 1]: per chunk, each component's mass and sum r x */
    double *scatter;    /* [nchunks, k, d, d] (full) or [nchunks, k, d] (diag, spherical) */
    double *scratch;    /* [nthreads, per_thread] */
    size_t per_thread;
    double *logw;       /* [k] */
} gd_gmm_plan;

gd_status gd_gmm_plan_init(gd_gmm_plan *p, const double *x, int64_t n, int d, int k,
                           gd_gmm_cov cov, gd_error *err);
void gd_gmm_plan_free(gd_gmm_plan *p); /* safe on a zeroed or freed plan */
/* The E-step of m over the plan's points: lpn [n], p->resp, and from them the M-step's
 * nk [k] (with sklearn's 10 eps) and means [k, d]. Returns the mean of lpn. */
double gd_gmm_plan_estep(gd_gmm_plan *p, const gd_gmm *m, double *lpn, double *nk,
                         double *means);
/* nk [k] and means [k, d] from p->resp as it stands (initialisation) */
void gd_gmm_plan_sums(gd_gmm_plan *p, double *nk, double *means);
/* scat: full [k, d, d] (lower triangle) sum_i r_ic (x_i - mu_c)(x_i - mu_c)^T; diag and
 * spherical [k, d] its diagonal. Not for tied. */
void gd_gmm_plan_scatter(gd_gmm_plan *p, const double *means, double *scat);
/* y [n] = exp(x [n]) by the kernels' vector exp (for tests) */
void gd_gmm_exp_array(const double *x, double *y, size_t n);

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
