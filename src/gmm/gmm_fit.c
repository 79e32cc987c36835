/* gmm_fit.c - EM for Gaussian mixtures as sklearn's GaussianMixture.fit: an initialisation
 * (k-means, random, random points, given responsibilities or parameters), then E- and M-steps
 * until the mean log-likelihood changes by less than tol, n_init times, keeping the best.
 * The M-step sums run over points in a fixed order inside one thread per component (or per
 * covariance row), so the fit does not depend on the thread count. */
#include "gmm/gmm_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* data beyond this magnitude would overflow squared distances */
#define GD_GMM_MAX_ABS 1e150

void gd_gmm_options_default(gd_gmm_options *o) {
    memset(o, 0, sizeof *o);
    o->k = 1;
    o->cov = GD_GMM_COV_FULL;
    o->init = GD_GMM_INIT_KMEANS;
    o->n_init = 1;
    o->reg_covar = 1e-6;
    o->tol = 1e-3;
    o->max_iter = 100;
}

typedef struct gd_em {
    const double *x; /* [n, d] */
    int64_t n;
    int d, k;
    double reg;
    gd_gmm_plan plan; /* the transposed data, responsibilities, the kernels' sums */
    double *resp;     /* [k, ld] = plan.resp: responsibilities, component-major */
    size_t ld;
    double *lpn;      /* [n] */
    double *nk;       /* [k] */
    double *mu;       /* [k, d]: the M-step's means (the E-step computes them) */
    double *scat;     /* [k, d, d] (full) or [k, d] (diag, spherical): scatter about mu */
    double *rowsum;   /* [n]: 1 - the sum of each point's responsibilities (tied M-step) */
    int32_t *labels;  /* [n] */
} gd_em;

/* weights, means, covariances of m from e->resp (sklearn's _estimate_gaussian_parameters, with
 * covariances summed over centred points); weights divided by n at initialisation (as sklearn's
 * _initialize), by their sum in the M-step. e->nk and e->mu are those of e->resp already when
 * have_sums (the E-step computes them), else they are computed here.
 * The tied covariance: sklearn computes (X^T X - sum_k nk mu_k mu_k^T) / sum nk, which equals the
 * centred sum when every point's responsibilities sum to 1 but otherwise (random_from_data, given
 * responsibilities) also counts (1 - sum_k r_ik) x_i x_i^T; that term is added here for the
 * points it concerns, so that both tools start from the same covariance. */
static void m_step(gd_em *e, gd_gmm *m, int at_init, int have_sums) {
    const double *x = e->x, *r = e->resp;
    int64_t n = e->n;
    int d = e->d, k = e->k;
    size_t ld = e->ld;
    double *mu = m->means, *cv = m->covariances;
    if (!have_sums) gd_gmm_plan_sums(&e->plan, e->nk, e->mu);
    memcpy(mu, e->mu, sizeof(double) * k * d);
    double work = (double)n * k * d;
    double total = 0;
    for (int c = 0; c < k; c++) total += e->nk[c];
    size_t dd = (size_t)d * d;
    if (m->cov != GD_GMM_COV_TIED) gd_gmm_plan_scatter(&e->plan, mu, e->scat);
    switch (m->cov) {
    case GD_GMM_COV_FULL:
        for (int c = 0; c < k; c++)
            for (int a = 0; a < d; a++) { /* row a, columns b <= a, of component c */
                double *row = cv + c * dd + (size_t)a * d;
                for (int b = 0; b <= a; b++) row[b] = e->scat[c * dd + (size_t)a * d + b] / e->nk[c];
                row[a] += e->reg;
            }
        break;
    case GD_GMM_COV_TIED:
        /* every sum is accumulated in a thread's own acc[GD_GMM_BLOCK] over the points in
         * order, then stored once: no two threads write near each other inside the loops */
        for (int64_t i = 0; i < n; i++) {
            double t = 0;
            for (int c = 0; c < k; c++) t += r[(size_t)c * ld + i];
            e->rowsum[i] = fabs(1 - t) > 1e-12 ? 1 - t : 0;
        }
        #pragma omp parallel for schedule(dynamic, 1) if (work * d > GD_GMM_PAR_WORK)
        for (int a = 0; a < d; a++) {
            double *row = cv + (size_t)a * d;
            for (int b0 = 0; b0 <= a; b0 += GD_GMM_BLOCK) {
                int nb = a + 1 - b0 < GD_GMM_BLOCK ? a + 1 - b0 : GD_GMM_BLOCK;
                double acc[GD_GMM_BLOCK] = {0};
                for (int c = 0; c < k; c++) {
                    const double *rc = r + (size_t)c * ld, *mc = mu + (size_t)c * d;
                    for (int64_t i = 0; i < n; i++) {
                        if (rc[i] == 0) continue;
                        const double *xi = x + i * d;
                        double t = rc[i] * (xi[a] - mc[a]);
                        for (int q = 0; q < nb; q++) acc[q] += t * (xi[b0 + q] - mc[b0 + q]);
                    }
                }
                for (int64_t i = 0; i < n; i++) {
                    if (e->rowsum[i] == 0) continue;
                    const double *xi = x + i * d;
                    double t = e->rowsum[i] * xi[a];
                    for (int q = 0; q < nb; q++) acc[q] += t * xi[b0 + q];
                }
                for (int q = 0; q < nb; q++) row[b0 + q] = acc[q] / total;
            }
            row[a] += e->reg;
        }
        break;
    case GD_GMM_COV_DIAG:
        for (int c = 0; c < k; c++)
            for (int a = 0; a < d; a++)
                cv[(size_t)c * d + a] = e->scat[(size_t)c * d + a] / e->nk[c] + e->reg;
        break;
    case GD_GMM_COV_SPHERICAL:
        for (int c = 0; c < k; c++) {
            double s = 0;
            for (int a = 0; a < d; a++) s += e->scat[(size_t)c * d + a];
            cv[c] = s / e->nk[c] / d + e->reg;
        }
        break;
    }
    if (m->cov == GD_GMM_COV_FULL || m->cov == GD_GMM_COV_TIED) /* mirror the lower triangle */
        for (int c = 0; c < (m->cov == GD_GMM_COV_FULL ? k : 1); c++)
            for (int a = 0; a < d; a++)
                for (int b = a + 1; b < d; b++)
                    cv[c * dd + (size_t)a * d + b] = cv[c * dd + (size_t)b * d + a];
    double div = at_init ? (double)n : total;
    for (int c = 0; c < k; c++) m->weights[c] = e->nk[c] / div;
}

static gd_status precisions(gd_gmm *m, const char *when, gd_error *err) {
    int bad = gd_gmm_update_precisions(m);
    if (bad == -2) return gd_error_set(err, GD_ERR_NOMEM, "out of memory");
    if (bad < 0) return GD_OK;
    char which[64];
    if (m->cov == GD_GMM_COV_TIED) snprintf(which, sizeof which, "the tied covariance");
    else
        snprintf(which, sizeof which, "the %s covariance of component %d",
                 gd_gmm_cov_name(m->cov), bad);
    return gd_error_set(err, GD_ERR_NUMERIC,
                        "%s: %s is not positive definite: some components have an ill-defined "
                        "empirical covariance (for instance caused by singleton or collapsed "
                        "samples); decrease the number of components, increase reg_covar or "
                        "rescale the data", when, which);
}

static void resp_one_hot(gd_em *e) {
    memset(e->resp, 0, sizeof(double) * e->ld * e->k);
    for (int64_t i = 0; i < e->n; i++) e->resp[(size_t)e->labels[i] * e->ld + i] = 1;
}

static gd_status initialise(gd_em *e, gd_gmm *m, const gd_gmm_options *o, gd_rng *rng,
                            gd_error *err) {
    int64_t n = e->n;
    int k = e->k, d = e->d;
    gd_status s = GD_OK;
    switch (o->init) {
    case GD_GMM_INIT_KMEANS:
        s = gd_gmm_kmeans(e->x, n, d, k, rng, e->labels, err);
        if (!s) resp_one_hot(e);
        break;
    case GD_GMM_INIT_RANDOM:
        for (int64_t i = 0; i < n; i++) {
            double t = 0;
            for (int c = 0; c < k; c++) t += e->resp[(size_t)c * e->ld + i] = gd_rng_uniform(rng);
            for (int c = 0; c < k; c++) e->resp[(size_t)c * e->ld + i] /= t;
        }
        break;
    case GD_GMM_INIT_RANDOM_FROM_DATA: { /* k distinct indices: a partial Fisher-Yates shuffle */
        int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
        if (!idx) return gd_error_set(err, GD_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        memset(e->resp, 0, sizeof(double) * e->ld * k);
        for (int c = 0; c < k; c++) {
            int64_t j = c + (int64_t)gd_rng_below(rng, (uint64_t)(n - c)), t = idx[c];
            idx[c] = idx[j];
            idx[j] = t;
            e->resp[(size_t)c * e->ld + idx[c]] = 1;
        }
        free(idx);
        break;
    }
    case GD_GMM_INIT_RESP:
        for (int64_t i = 0; i < n; i++)
            for (int c = 0; c < k; c++) e->resp[(size_t)c * e->ld + i] = o->resp[i * k + c];
        break;
    case GD_GMM_INIT_PARAMS: /* the nearest given mean, then the given parameters on top */
        #pragma omp parallel for schedule(static) if ((double)n * k * d > GD_GMM_PAR_WORK)
        for (int64_t i = 0; i < n; i++) {
            double bd = INFINITY;
            e->labels[i] = 0;
            for (int c = 0; c < k; c++) {
                double t = 0;
                for (int j = 0; j < d; j++) {
                    double u = e->x[i * d + j] - o->means[(size_t)c * d + j];
                    t += u * u;
                }
                if (t < bd) {
                    bd = t;
                    e->labels[i] = c;
                }
            }
        }
        resp_one_hot(e);
        break;
    }
    if (s) return s;
    for (int c = 0; c < k; c++) /* the padding lanes count for nothing */
        for (size_t i = (size_t)n; i < e->ld; i++) e->resp[(size_t)c * e->ld + i] = 0;
    m_step(e, m, 1, 0);
    if (o->init == GD_GMM_INIT_PARAMS) {
        memcpy(m->means, o->means, sizeof(double) * k * d);
        if (o->weights) memcpy(m->weights, o->weights, sizeof(double) * k);
        if (o->covariances)
            memcpy(m->covariances, o->covariances, sizeof(double) * gd_gmm_cov_numel(m->cov, k, d));
    }
    return precisions(m, o->init == GD_GMM_INIT_PARAMS && o->covariances ? "the given "
                      "initial covariances" : "initialisation", err);
}

/* distinct points, counted up to cap */
static int count_distinct(const double *x, int64_t n, int d, int cap, int64_t *rep) {
    int nrep = 0;
    for (int64_t i = 0; i < n && nrep < cap; i++) {
        int seen = 0;
        for (int r = 0; r < nrep && !seen; r++)
            seen = !memcmp(x + i * d, x + rep[r] * d, sizeof(double) * d);
        if (!seen) rep[nrep++] = i;
    }
    return nrep;
}

static gd_status check_inputs(const double *x, int64_t n, int d, const gd_gmm_options *o,
                              gd_error *err) {
    if (o->k < 1 || o->k > GD_GMM_MAX_K)
        return gd_error_set(err, GD_ERR_ARG, "k = %d components: must be in [1, %d]", o->k,
                            GD_GMM_MAX_K);
    if (d < 1 || d > GD_GMM_MAX_D)
        return gd_error_set(err, GD_ERR_ARG, "%d features: must be in [1, %d]", d, GD_GMM_MAX_D);
    if (n < 2 || n < o->k)
        return gd_error_set(err, GD_ERR_ARG, "%lld points for k = %d components: a mixture needs "
                            "at least max(2, k) points", (long long)n, o->k);
    if (o->n_init < 1 || o->max_iter < 0 || !(o->reg_covar >= 0) || !isfinite(o->reg_covar) ||
        !(o->tol >= 0) || (unsigned)o->cov > GD_GMM_COV_SPHERICAL ||
        (unsigned)o->init > GD_GMM_INIT_PARAMS)
        return gd_error_set(err, GD_ERR_ARG, "bad options: need n_init >= 1, max_iter >= 0, "
                            "finite reg_covar >= 0, tol >= 0 and a known covariance type and init");
    if (o->init == GD_GMM_INIT_RESP && !o->resp)
        return gd_error_set(err, GD_ERR_ARG, "init from responsibilities without them");
    if (o->init == GD_GMM_INIT_PARAMS && !o->means)
        return gd_error_set(err, GD_ERR_ARG, "init from parameters without means");
    gd_status s = gd_gmm_check_finite(x, n, d, "data", err);
    for (int64_t i = 0; !s && i < n * d; i++)
        if (fabs(x[i]) > GD_GMM_MAX_ABS)
            s = gd_error_set(err, GD_ERR_NUMERIC, "data: row %lld, column %d is %g: beyond %g, "
                             "squared distances overflow; rescale the data", (long long)(i / d),
                             (int)(i % d), x[i], GD_GMM_MAX_ABS);
    if (!s && o->init == GD_GMM_INIT_RESP) {
        s = gd_gmm_check_finite(o->resp, n, o->k, "initial responsibilities", err);
        for (int64_t i = 0; !s && i < n * o->k; i++)
            if (o->resp[i] < 0)
                s = gd_error_set(err, GD_ERR_ARG, "initial responsibilities: row %lld is "
                                 "negative", (long long)(i / o->k));
    }
    if (!s && o->init == GD_GMM_INIT_PARAMS) {
        s = gd_gmm_check_finite(o->means, o->k, d, "initial means", err);
        if (!s && o->weights) {
            double t = 0;
            for (int c = 0; c < o->k; c++) {
                if (!(o->weights[c] >= 0 && o->weights[c] <= 1))
                    return gd_error_set(err, GD_ERR_ARG, "initial weights: weights[%d] is not "
                                        "in [0, 1]", c);
                t += o->weights[c];
            }
            if (fabs(t - 1) > 1e-6)
                return gd_error_set(err, GD_ERR_ARG, "initial weights sum to %.9g, not 1", t);
        }
        if (!s && o->covariances)
            s = gd_gmm_check_finite(o->covariances, 1,
                                    (int)gd_gmm_cov_numel(o->cov, o->k, d), "initial covariances",
                                    err);
    }
    return s;
}

gd_status gd_gmm_fit(gd_gmm *m, const double *x, int64_t n, int d, const gd_gmm_options *o,
                     gd_error *err) {
    GD_ASSERT(m && o && (x || n == 0));
    gd_gmm_free(m);
    gd_status s = check_inputs(x, n, d, o, err);
    if (s) return s;
    int k = o->k, cap = k > 2 ? k : 2;
    gd_em e;
    memset(&e, 0, sizeof e);
    e.x = x, e.n = n, e.d = d, e.k = k, e.reg = o->reg_covar;
    gd_gmm best = {0};
    if ((s = gd_gmm_plan_init(&e.plan, x, n, d, k, o->cov, err))) return s;
    e.resp = e.plan.resp;
    e.ld = e.plan.ld;
    int64_t *rep = malloc(sizeof(int64_t) * cap);
    e.lpn = malloc(sizeof(double) * (size_t)n);
    e.nk = malloc(sizeof(double) * k);
    e.mu = malloc(sizeof(double) * k * d);
    e.scat = malloc(sizeof(double) * (o->cov == GD_GMM_COV_FULL ? (size_t)k * d * d : (size_t)k * d));
    e.rowsum = malloc(sizeof(double) * (size_t)n);
    e.labels = malloc(sizeof(int32_t) * (size_t)n);
    if (!rep || !e.lpn || !e.nk || !e.mu || !e.scat || !e.rowsum || !e.labels) {
        s = gd_error_set(err, GD_ERR_NOMEM, "out of memory for EM on %lld points x %d "
                         "components", (long long)n, k);
        goto done;
    }
    int distinct = count_distinct(x, n, d, cap, rep);
    if (distinct == 1) {
        s = gd_error_set(err, GD_ERR_NUMERIC, "all %lld points are identical: there is no spread "
                         "for a mixture to fit", (long long)n);
        goto done;
    }
    if (distinct < k) {
        s = gd_error_set(err, GD_ERR_NUMERIC, "only %d distinct points among %lld for k = %d "
                         "components", distinct, (long long)n, k);
        goto done;
    }
    if ((s = gd_gmm_alloc(m, k, d, o->cov, err)) || (s = gd_gmm_alloc(&best, k, d, o->cov, err)))
        goto done;
    gd_rng rng;
    gd_rng_seed(&rng, o->seed);
    for (int init = 0; init < o->n_init; init++) {
        char when[96];
        if ((s = initialise(&e, m, o, &rng, err))) goto done;
        double lb = -INFINITY;
        int it = 0, conv = 0;
        if (o->max_iter == 0) { /* the initialisation itself, scored */
            if ((s = gd_gmm_estep(m, x, n, e.lpn, NULL, NULL, err))) goto done;
            double t = 0;
            for (int64_t i = 0; i < n; i++) t += e.lpn[i];
            lb = t / (double)n;
        }
        for (it = 1; it <= o->max_iter; it++) {
            double prev = lb;
            lb = gd_gmm_plan_estep(&e.plan, m, e.lpn, e.nk, e.mu);
            if (!isfinite(lb)) {
                s = gd_error_set(err, GD_ERR_NUMERIC, "init %d, iteration %d: the log-likelihood "
                                 "is %g; rescale the data or increase reg_covar", init + 1, it, lb);
                goto done;
            }
            m_step(&e, m, 0, 1);
            snprintf(when, sizeof when, "init %d, iteration %d", init + 1, it);
            if ((s = precisions(m, when, err))) goto done;
            if (o->on_iter) o->on_iter(o->ctx, init, it, lb);
            if (fabs(lb - prev) < o->tol) {
                conv = 1;
                break;
            }
        }
        m->converged = conv;
        m->n_iter = it > o->max_iter ? o->max_iter : it;
        m->lower_bound = lb;
        m->reg_covar = o->reg_covar;
        if (init == 0 || lb > best.lower_bound) gd_gmm_copy(&best, m);
    }
    gd_gmm_copy(m, &best);
done:
    if (s) gd_gmm_free(m);
    gd_gmm_free(&best);
    gd_gmm_plan_free(&e.plan);
    free(rep), free(e.lpn), free(e.nk), free(e.mu), free(e.scat), free(e.rowsum), free(e.labels);
    return s;
}

gd_status gd_gmm_fit_1d(gd_gmm *m, const float *v, int64_t n, int64_t stride,
                        const gd_gmm_options *o, gd_error *err) {
    GD_ASSERT(v || n == 0);
    GD_ASSERT(stride >= 1);
    double *x = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!x) return gd_error_set(err, GD_ERR_NOMEM, "out of memory for %lld values", (long long)n);
    for (int64_t i = 0; i < n; i++) x[i] = v[i * stride];
    gd_status s = gd_gmm_fit(m, x, n, 1, o, err);
    free(x);
    return s;
}
