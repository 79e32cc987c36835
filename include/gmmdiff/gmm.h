/* gmm.h - Gaussian mixture models fitted by EM, with scikit-learn's GaussianMixture semantics
 * (docs/GMM.md): the same initialisations, M-step (reg_covar added to every variance, the
 * 10 * DBL_EPSILON floor on component masses), stopping rule (|change of the mean
 * log-likelihood per point| < tol), n_init restarts keeping the best lower bound, and the same
 * score, predict, predict_proba, sample, BIC, AIC and parameter count.
 *
 * Everything is double precision and log-space: responsibilities come from a log-sum-exp, the
 * Gaussian densities from the Cholesky factor of each precision matrix, applied to (x - mean).
 * Duplicated points, a constant feature or far outliers give finite fits; data a mixture cannot
 * be fitted to (fewer distinct points than components, all points identical, a covariance that
 * stays singular) is a GD_ERR_NUMERIC / GD_ERR_ARG status with a message, never NaN or abort.
 *
 * Threads: OpenMP over points (E-step, scores, k-means assignments) and over components (the
 * M-step). Every sum runs in a fixed order, so a fit is bit-for-bit the same at any thread count.
 *
 * Shapes: n points, d features, k components; x is [n, d] row-major. Covariances are stored as
 * sklearn's covariances_: full [k, d, d], tied [d, d], diag [k, d], spherical [k]. */
#ifndef GMMDIFF_GMM_H
#define GMMDIFF_GMM_H

#include "gmmdiff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_GMM_MAX_K 100000
#define GD_GMM_MAX_D 100000
#define GD_GMM_FORMAT "gmmdiff-gmm"
#define GD_GMM_FORMAT_VERSION 1

typedef enum gd_gmm_cov {
    GD_GMM_COV_FULL,      /* one general covariance per component */
    GD_GMM_COV_TIED,      /* one general covariance shared by all components */
    GD_GMM_COV_DIAG,      /* one diagonal covariance per component */
    GD_GMM_COV_SPHERICAL  /* one variance per component */
} gd_gmm_cov;

typedef enum gd_gmm_init {
    GD_GMM_INIT_KMEANS,           /* Lloyd's k-means from k-means++ seeds (greedy, 2 + ln k
                                     trials), one-hot responsibilities from its labels: sklearn's
                                     init_params='kmeans' (CLI: kmeans++) */
    GD_GMM_INIT_RANDOM,           /* uniform random responsibilities, rows normalised */
    GD_GMM_INIT_RANDOM_FROM_DATA, /* k distinct random points, each the only member of one
                                     component */
    GD_GMM_INIT_RESP,             /* the caller's responsibilities, options.resp [n, k] */
    GD_GMM_INIT_PARAMS            /* the caller's means (and optionally weights, covariances) */
} gd_gmm_init;

typedef struct gd_gmm {
    int k, d;
    gd_gmm_cov cov;
    double *weights;     /* [k], sum 1 */
    double *means;       /* [k, d] */
    double *covariances; /* full [k, d, d], tied [d, d], diag [k, d], spherical [k] */
    double *prec_chol;   /* shaped as covariances. full/tied: the lower-triangular inverse of the
                            covariance's Cholesky factor L (so precision = prec_chol^T prec_chol;
                            sklearn's precisions_cholesky_ is its transpose); diag/spherical:
                            1 / sqrt(covariance) */
    double *log_det;     /* [k]: log det of prec_chol = -0.5 log det covariance */
    /* from the fit (kept through save and load) */
    int converged;       /* the kept initialisation met tol before max_iter */
    int n_iter;          /* EM iterations of the kept initialisation */
    double lower_bound;  /* its last mean log-likelihood per point (before the final M-step) */
    double reg_covar;    /* what it was fitted with */
} gd_gmm;

/* called after each EM iteration with the lower bound it measured (init counts from 0, iter
 * from 1); for tests (monotonicity) and progress lines */
typedef void (*gd_gmm_iter_fn)(void *ctx, int init, int iter, double lower_bound);

typedef struct gd_gmm_options {
    int k;                 /* components, >= 1 */
    gd_gmm_cov cov;        /* default full */
    gd_gmm_init init;      /* default GD_GMM_INIT_KMEANS */
    int n_init;            /* restarts, the best lower bound kept (default 1) */
    double reg_covar;      /* added to every variance, >= 0 (default 1e-6) */
    double tol;            /* stop when |change of mean log-likelihood| < tol (default 1e-3) */
    int max_iter;          /* EM iterations per restart, >= 0 (default 100; 0: the init as is) */
    uint64_t seed;         /* of the gd_rng every random init draws from, in sequence */
    const double *resp;    /* GD_GMM_INIT_RESP: [n, k], rows need not be normalised */
    const double *means;   /* GD_GMM_INIT_PARAMS: [k, d], required */
    const double *weights; /* GD_GMM_INIT_PARAMS: [k] or NULL */
    const double *covariances; /* GD_GMM_INIT_PARAMS: shaped by cov, or NULL. What is NULL comes
                                  from assigning each point to its nearest given mean (as sklearn
                                  fills what weights_init / precisions_init leave out from its
                                  init_params responsibilities) */
    gd_gmm_iter_fn on_iter;
    void *ctx;
} gd_gmm_options;

void gd_gmm_options_default(gd_gmm_options *o);

/* Fits m (a zeroed or freed gd_gmm; the caller frees it with gd_gmm_free) to x [n, d]. Refuses
 * non-finite data, n < 2, n < k, fewer than k distinct points and identical points. */
gd_status gd_gmm_fit(gd_gmm *m, const double *x, int64_t n, int d, const gd_gmm_options *o,
                     gd_error *err);
/* The 1-D case for a scalar feature stored with a stride (e.g. one column of gd_dataset.cont):
 * v[i * stride], i < n. */
gd_status gd_gmm_fit_1d(gd_gmm *m, const float *v, int64_t n, int64_t stride,
                        const gd_gmm_options *o, gd_error *err);

/* A model from given parameters (copied), validated like a loaded file: finite values, weights
 * in [0, 1] summing to 1 (within 1e-6), covariances symmetric positive definite. what names the
 * source in messages. */
gd_status gd_gmm_from_params(gd_gmm *m, int k, int d, gd_gmm_cov cov, const double *weights,
                             const double *means, const double *covariances, const char *what,
                             gd_error *err);
void gd_gmm_free(gd_gmm *m); /* safe on a zeroed or freed model */
size_t gd_gmm_cov_numel(gd_gmm_cov cov, int k, int d);
const char *gd_gmm_cov_name(gd_gmm_cov cov);
gd_status gd_gmm_cov_parse(const char *s, gd_gmm_cov *out); /* GD_ERR_ARG when unknown */
const char *gd_gmm_init_name(gd_gmm_init init);
gd_status gd_gmm_init_parse(const char *s, gd_gmm_init *out); /* kmeans++ (or kmeans), random,
                                                                 random_from_data */

/* ---- using a model: x [n, d]; non-finite x is GD_ERR_NUMERIC naming row and column ---- */
gd_status gd_gmm_score_samples(const gd_gmm *m, const double *x, int64_t n, double *out,
                               gd_error *err);             /* out [n]: log p(x_i) */
gd_status gd_gmm_score(const gd_gmm *m, const double *x, int64_t n, double *out,
                       gd_error *err);                     /* *out: mean log p(x_i) */
gd_status gd_gmm_predict_proba(const gd_gmm *m, const double *x, int64_t n, double *proba,
                               gd_error *err);             /* proba [n, k], rows sum to 1 */
gd_status gd_gmm_predict(const gd_gmm *m, const double *x, int64_t n, int32_t *labels,
                         gd_error *err);                   /* labels [n]: argmax posterior */
/* n draws: component counts by n categorical draws, then each component's points in turn (as
 * sklearn, grouped by component); x [n, d], labels [n] or NULL */
gd_status gd_gmm_sample(const gd_gmm *m, gd_rng *rng, int64_t n, double *x, int32_t *labels,
                        gd_error *err);
int64_t gd_gmm_n_parameters(const gd_gmm *m); /* free parameters: covariances, means, k - 1 */
gd_status gd_gmm_bic(const gd_gmm *m, const double *x, int64_t n, double *out, gd_error *err);
gd_status gd_gmm_aic(const gd_gmm *m, const double *x, int64_t n, double *out, gd_error *err);

/* ---- files ---- */
/* JSON: {"format": "gmmdiff-gmm", "version": 1, "covariance_type", "n_components",
 * "n_features", "weights", "means", "covariances" (nested as sklearn's shapes), "converged",
 * "n_iter", "lower_bound", "reg_covar"}, numbers with 17 significant digits (exact round trip),
 * written atomically. Loading validates everything and names the file and the problem. */
gd_status gd_gmm_save(const gd_gmm *m, const char *path, gd_error *err);
gd_status gd_gmm_load(gd_gmm *m, const char *path, gd_error *err);

/* A data matrix from .npy ([n] or [n, d], through the project's float32 loader) or CSV (numbers
 * only, one row per point, comma separated, whitespace allowed, blank lines skipped). Errors
 * name the file and, for CSV, the line and the problem (ragged row, non-number, NaN/Inf, empty).
 * *x is malloc'd [n, d]; free() it. */
gd_status gd_gmm_read_matrix(const char *path, double **x, int64_t *n, int *d, gd_error *err);
/* x [n, d] to .npy (float32) when path ends in .npy, else CSV with 17 significant digits;
 * atomically */
gd_status gd_gmm_write_matrix(const char *path, const double *x, int64_t n, int d,
                              gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
