/* gmm.c - a Gaussian mixture model's parameters and their use: Cholesky factors of the
 * precisions, score, predict, predict_proba, sample, BIC and AIC (the E-step itself is in
 * gmm_kernels.c). */
#include "gmm/gmm_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t gd_gmm_cov_numel(gd_gmm_cov cov, int k, int d) {
    switch (cov) {
    case GD_GMM_COV_FULL: return (size_t)k * d * d;
    case GD_GMM_COV_TIED: return (size_t)d * d;
    case GD_GMM_COV_DIAG: return (size_t)k * d;
    case GD_GMM_COV_SPHERICAL: return (size_t)k;
    }
    return 0;
}

static const char *const cov_names[] = {"full", "tied", "diag", "spherical"};

const char *gd_gmm_cov_name(gd_gmm_cov cov) {
    return (unsigned)cov < 4 ? cov_names[cov] : "?";
}

gd_status gd_gmm_cov_parse(const char *s, gd_gmm_cov *out) {
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, cov_names[i])) {
            *out = (gd_gmm_cov)i;
            return GD_OK;
        }
    return GD_ERR_ARG;
}

const char *gd_gmm_init_name(gd_gmm_init init) {
    switch (init) {
    case GD_GMM_INIT_KMEANS: return "kmeans++";
    case GD_GMM_INIT_RANDOM: return "random";
    case GD_GMM_INIT_RANDOM_FROM_DATA: return "random_from_data";
    case GD_GMM_INIT_RESP: return "responsibilities";
    case GD_GMM_INIT_PARAMS: return "parameters";
    }
    return "?";
}

gd_status gd_gmm_init_parse(const char *s, gd_gmm_init *out) {
    if (!s) return GD_ERR_ARG;
    if (!strcmp(s, "kmeans++") || !strcmp(s, "kmeans")) *out = GD_GMM_INIT_KMEANS;
    else if (!strcmp(s, "random")) *out = GD_GMM_INIT_RANDOM;
    else if (!strcmp(s, "random_from_data")) *out = GD_GMM_INIT_RANDOM_FROM_DATA;
    else return GD_ERR_ARG;
    return GD_OK;
}

void gd_gmm_free(gd_gmm *m) {
    if (!m) return;
    free(m->weights);
    free(m->means);
    free(m->covariances);
    free(m->prec_chol);
    free(m->log_det);
    memset(m, 0, sizeof *m);
}

gd_status gd_gmm_alloc(gd_gmm *m, int k, int d, gd_gmm_cov cov, gd_error *err) {
    gd_gmm_free(m);
    if (k < 1 || k > GD_GMM_MAX_K || d < 1 || d > GD_GMM_MAX_D ||
        (cov == GD_GMM_COV_FULL && (size_t)k * d > ((size_t)1 << 40) / (size_t)d))
        return gd_error_set(err, GD_ERR_NOMEM, "a mixture of %d components in %d dimensions "
                            "is beyond the limits", k, d);
    size_t nc = gd_gmm_cov_numel(cov, k, d);
    m->k = k;
    m->d = d;
    m->cov = cov;
    m->weights = calloc((size_t)k, sizeof(double));
    m->means = calloc((size_t)k * d, sizeof(double));
    m->covariances = calloc(nc, sizeof(double));
    m->prec_chol = calloc(nc, sizeof(double));
    m->log_det = calloc((size_t)k, sizeof(double));
    if (!m->weights || !m->means || !m->covariances || !m->prec_chol || !m->log_det) {
        gd_gmm_free(m);
        return gd_error_set(err, GD_ERR_NOMEM, "out of memory for a mixture of %d components "
                            "in %d dimensions", k, d);
    }
    return GD_OK;
}

void gd_gmm_copy(gd_gmm *dst, const gd_gmm *src) {
    GD_ASSERT(dst->k == src->k && dst->d == src->d && dst->cov == src->cov);
    size_t nc = gd_gmm_cov_numel(src->cov, src->k, src->d);
    memcpy(dst->weights, src->weights, sizeof(double) * src->k);
    memcpy(dst->means, src->means, sizeof(double) * src->k * src->d);
    memcpy(dst->covariances, src->covariances, sizeof(double) * nc);
    memcpy(dst->prec_chol, src->prec_chol, sizeof(double) * nc);
    memcpy(dst->log_det, src->log_det, sizeof(double) * src->k);
    dst->converged = src->converged;
    dst->n_iter = src->n_iter;
    dst->lower_bound = src->lower_bound;
    dst->reg_covar = src->reg_covar;
}

int gd_gmm_cholesky(const double *a, double *l, int d) {
    for (int j = 0; j < d; j++) {
        double s = a[(size_t)j * d + j];
        for (int p = 0; p < j; p++) s -= l[(size_t)j * d + p] * l[(size_t)j * d + p];
        if (!(s > 0) || !isfinite(s)) return -1;
        double ljj = sqrt(s);
        l[(size_t)j * d + j] = ljj;
        for (int p = j + 1; p < d; p++) l[(size_t)j * d + p] = 0;
        for (int i = j + 1; i < d; i++) {
            double t = a[(size_t)i * d + j];
            for (int p = 0; p < j; p++) t -= l[(size_t)i * d + p] * l[(size_t)j * d + p];
            l[(size_t)i * d + j] = t / ljj;
        }
    }
    return 0;
}

/* z [d, d] = inverse of the lower-triangular l, itself lower triangular; log det z in *logdet */
static void inverse_lower(const double *l, double *z, int d, double *logdet) {
    double ld = 0;
    for (int c = 0; c < d; c++) {
        for (int i = 0; i < c; i++) z[(size_t)i * d + c] = 0;
        z[(size_t)c * d + c] = 1.0 / l[(size_t)c * d + c];
        for (int i = c + 1; i < d; i++) {
            double s = 0;
            for (int p = c; p < i; p++) s += l[(size_t)i * d + p] * z[(size_t)p * d + c];
            z[(size_t)i * d + c] = -s / l[(size_t)i * d + i];
        }
        ld -= log(l[(size_t)c * d + c]);
    }
    *logdet = ld;
}

int gd_gmm_update_precisions(gd_gmm *m) {
    int k = m->k, d = m->d;
    size_t dd = (size_t)d * d;
    if (m->cov == GD_GMM_COV_FULL || m->cov == GD_GMM_COV_TIED) {
        int nmat = m->cov == GD_GMM_COV_FULL ? k : 1, bad = -1;
        double *l = malloc(sizeof(double) * dd); /* one Cholesky factor at a time */
        if (!l) return -2;
        for (int c = 0; c < nmat && bad < 0; c++) {
            if (gd_gmm_cholesky(m->covariances + c * dd, l, d)) {
                bad = c;
                break;
            }
            inverse_lower(l, m->prec_chol + c * dd, d, &m->log_det[c]);
        }
        free(l);
        if (bad >= 0) return bad;
        if (m->cov == GD_GMM_COV_TIED)
            for (int c = 1; c < k; c++) m->log_det[c] = m->log_det[0];
        return -1;
    }
    for (int c = 0; c < k; c++) {
        int per = m->cov == GD_GMM_COV_DIAG ? d : 1;
        double ld = 0;
        for (int j = 0; j < per; j++) {
            double v = m->covariances[(size_t)c * per + j];
            if (!(v > 0) || !isfinite(v)) return c;
            double p = 1.0 / sqrt(v);
            m->prec_chol[(size_t)c * per + j] = p;
            ld += log(p);
        }
        m->log_det[c] = m->cov == GD_GMM_COV_DIAG ? ld : d * ld;
    }
    return -1;
}

gd_status gd_gmm_check_finite(const double *x, int64_t n, int d, const char *what, gd_error *err) {
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            if (!isfinite(x[i * d + j]))
                return gd_error_set(err, GD_ERR_NUMERIC, "%s: row %lld, column %d is %s", what,
                                    (long long)i, j, isnan(x[i * d + j]) ? "NaN" : "infinite");
    return GD_OK;
}

static gd_status check_use(const gd_gmm *m, const double *x, int64_t n, gd_error *err) {
    GD_ASSERT(m && m->weights && (x || n == 0) && n >= 0);
    return gd_gmm_check_finite(x, n, m->d, "input", err);
}

gd_status gd_gmm_score_samples(const gd_gmm *m, const double *x, int64_t n, double *out,
                               gd_error *err) {
    gd_status s = check_use(m, x, n, err);
    return s ? s : gd_gmm_estep(m, x, n, out, NULL, NULL, err);
}

gd_status gd_gmm_score(const gd_gmm *m, const double *x, int64_t n, double *out, gd_error *err) {
    if (n < 1) return gd_error_set(err, GD_ERR_ARG, "score of no points");
    double *lpn = malloc(sizeof(double) * (size_t)n);
    if (!lpn) return gd_error_set(err, GD_ERR_NOMEM, "out of memory for %lld scores", (long long)n);
    gd_status s = gd_gmm_score_samples(m, x, n, lpn, err);
    if (!s) {
        double t = 0;
        for (int64_t i = 0; i < n; i++) t += lpn[i];
        *out = t / (double)n;
    }
    free(lpn);
    return s;
}

gd_status gd_gmm_predict_proba(const gd_gmm *m, const double *x, int64_t n, double *proba,
                               gd_error *err) {
    gd_status s = check_use(m, x, n, err);
    double *lpn = s ? NULL : malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!s && !lpn) s = gd_error_set(err, GD_ERR_NOMEM, "out of memory");
    if (!s) s = gd_gmm_estep(m, x, n, lpn, proba, NULL, err);
    if (!s)
        for (size_t i = 0; i < (size_t)n * m->k; i++) proba[i] = exp(proba[i]);
    free(lpn);
    return s;
}

gd_status gd_gmm_predict(const gd_gmm *m, const double *x, int64_t n, int32_t *labels,
                         gd_error *err) {
    gd_status s = check_use(m, x, n, err);
    double *lpn = s ? NULL : malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!s && !lpn) s = gd_error_set(err, GD_ERR_NOMEM, "out of memory");
    if (!s) s = gd_gmm_estep(m, x, n, lpn, NULL, labels, err);
    free(lpn);
    return s;
}

gd_status gd_gmm_sample(const gd_gmm *m, gd_rng *rng, int64_t n, double *x, int32_t *labels,
                        gd_error *err) {
    GD_ASSERT(m && m->weights && rng && x && n >= 0);
    int k = m->k, d = m->d;
    int64_t *count = calloc((size_t)k, sizeof(int64_t));
    double *l = malloc(sizeof(double) * (size_t)d * d), *z = malloc(sizeof(double) * d);
    if (!count || !l || !z) {
        free(count), free(l), free(z);
        return gd_error_set(err, GD_ERR_NOMEM, "out of memory for sampling");
    }
    for (int64_t i = 0; i < n; i++) { /* n categorical draws = a multinomial draw of counts */
        double u = gd_rng_uniform(rng), acc = 0;
        int c = 0;
        for (; c < k - 1; c++) {
            acc += m->weights[c];
            if (u < acc) break;
        }
        count[c]++;
    }
    gd_status s = GD_OK;
    int64_t row = 0;
    for (int c = 0; c < k && !s; c++) {
        const double *mu = m->means + (size_t)c * d;
        int dense = m->cov == GD_GMM_COV_FULL || m->cov == GD_GMM_COV_TIED;
        if (dense && count[c] &&
            gd_gmm_cholesky(m->covariances + (m->cov == GD_GMM_COV_FULL ? (size_t)c * d * d : 0),
                            l, d)) {
            s = gd_error_set(err, GD_ERR_NUMERIC, "component %d: covariance is not positive "
                             "definite", c);
            break;
        }
        for (int64_t r = 0; r < count[c]; r++, row++) {
            double *xr = x + row * d;
            for (int j = 0; j < d; j++) z[j] = gd_rng_normal(rng);
            for (int j = 0; j < d; j++) {
                double v;
                if (dense) {
                    v = 0;
                    for (int a = 0; a <= j; a++) v += l[(size_t)j * d + a] * z[a];
                } else {
                    double var = m->cov == GD_GMM_COV_DIAG ? m->covariances[(size_t)c * d + j]
                                                           : m->covariances[c];
                    v = sqrt(var) * z[j];
                }
                xr[j] = mu[j] + v;
            }
            if (labels) labels[row] = c;
        }
    }
    free(count), free(l), free(z);
    return s;
}

int64_t gd_gmm_n_parameters(const gd_gmm *m) {
    int64_t k = m->k, d = m->d, cov = 0;
    switch (m->cov) {
    case GD_GMM_COV_FULL: cov = k * d * (d + 1) / 2; break;
    case GD_GMM_COV_TIED: cov = d * (d + 1) / 2; break;
    case GD_GMM_COV_DIAG: cov = k * d; break;
    case GD_GMM_COV_SPHERICAL: cov = k; break;
    }
    return cov + k * d + k - 1;
}

gd_status gd_gmm_bic(const gd_gmm *m, const double *x, int64_t n, double *out, gd_error *err) {
    double sc = 0;
    gd_status s = gd_gmm_score(m, x, n, &sc, err);
    if (!s) *out = -2.0 * sc * (double)n + (double)gd_gmm_n_parameters(m) * log((double)n);
    return s;
}

gd_status gd_gmm_aic(const gd_gmm *m, const double *x, int64_t n, double *out, gd_error *err) {
    double sc = 0;
    gd_status s = gd_gmm_score(m, x, n, &sc, err);
    if (!s) *out = -2.0 * sc * (double)n + 2.0 * (double)gd_gmm_n_parameters(m);
    return s;
}
