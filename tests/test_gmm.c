/* test_gmm.c - Gaussian mixtures fitted by EM (include/gmmdiff/gmm.h) against scikit-learn
 * (tests/fixtures/gmm, made by tools/ref/make_gmm_fixtures.py):
 *  (a) from sklearn's initial responsibilities, the fitted mean log-likelihood equals sklearn's
 *      within 1e-3 per point on every data set and covariance type, parameters match, and
 *      sklearn's fitted parameters score held-out points as sklearn does;
 *  (b) each from its own k-means++ initialisation (the fixture's n_init), gmmdiff's score is
 *      never below sklearn's by more than 1e-3;
 *  (c) the lower bound never decreases from one EM iteration to the next;
 *  (d) degenerate data (duplicates, a constant feature, far outliers, n < k, identical points,
 *      NaN) gives a finite fit or a clear error, never NaN;
 *  (e) save/load round trips exactly; corrupt model files are refused naming file and problem;
 *  (f) samples have the model's mean and covariance within sampling tolerance;
 *  (g) a fit is the same bit for bit at 1, 2 and 3 threads;
 *  (h) the vectorised kernels (src/gmm/gmm_kernels.c) against plain scalar references: the
 *      vector exp against libm's, score_samples / predict_proba and one EM iteration against
 *      the textbook formulas, at sizes that leave partial vectors, tiles and blocks. */
#include "fixture.h"
#include "gmmdiff/gmm.h"
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const sets[] = {"separated", "overlap", "anisotropic", "duplicates",
                                   "wide16",    "many20",  "high64"};
static const char *const covs[] = {"full", "tied", "diag", "spherical"};
#define NSETS (int)(sizeof sets / sizeof sets[0])

/* the worst figures, printed at the end (docs/GMM.md quotes them) */
static double worst_score_a, worst_param_a, worst_logp, worst_kpp = -INFINITY, worst_drop;
static int n_iter_diff, n_fits;

/* ---- fixture access ---- */
/* tensor name as doubles (F64 exactly, F32 and I32 converted); NULL when absent */
static double *fx_doubles(const gd_safetensors *st, const char *name, size_t *n) {
    const gd_st_tensor *t = gd_st_find(st, name);
    if (!t) return NULL;
    double *v = malloc(sizeof(double) * (t->numel ? t->numel : 1));
    GD_ASSERT(v);
    const unsigned char *p = st->data + t->offset;
    for (size_t i = 0; i < t->numel; i++) {
        if (t->dtype == GD_DTYPE_F64) memcpy(&v[i], p + 8 * i, 8);
        else if (t->dtype == GD_DTYPE_F32) {
            float f;
            memcpy(&f, p + 4 * i, 4);
            v[i] = f;
        } else if (t->dtype == GD_DTYPE_I32) {
            int32_t q;
            memcpy(&q, p + 4 * i, 4);
            v[i] = q;
        } else {
            GD_ASSERT_MSG(0, "fixture dtype");
        }
    }
    if (n) *n = t->numel;
    return v;
}

static double *fx_req(const gd_safetensors *st, const char *name, size_t *n) {
    double *v = fx_doubles(st, name, n);
    if (!v) {
        printf("FAIL fixture %s lacks tensor %s\n", st->path, name);
        exit(1);
    }
    return v;
}

static double fx_meta(const gd_safetensors *st, const char *key) {
    char buf[64];
    if (!gd_st_meta(st, key, buf, sizeof buf)) {
        printf("FAIL fixture %s lacks metadata %s\n", st->path, key);
        exit(1);
    }
    return strtod(buf, NULL);
}

typedef struct fxset {
    gd_safetensors st;
    double *x, *xt, *resp; /* [n, d], [m, d], [n, k] */
    int64_t n, m;
    int d, k;
} fxset;

static void fx_load(fxset *f, const char *fixdir, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "gmm/%s.safetensors", name);
    fx_open(&f->st, fixdir, path);
    const gd_st_tensor *t = gd_st_find(&f->st, "X");
    GD_ASSERT(t && t->ndim == 2);
    f->n = t->shape[0];
    f->d = (int)t->shape[1];
    f->k = (int)fx_meta(&f->st, "n_components");
    f->x = fx_req(&f->st, "X", NULL);
    size_t nt;
    f->xt = fx_req(&f->st, "Xtest", &nt);
    f->m = (int64_t)(nt / (size_t)f->d);
    f->resp = fx_doubles(&f->st, "resp0", NULL);
    if (!f->resp) { /* one-hot labels */
        double *lab = fx_req(&f->st, "labels0", NULL);
        f->resp = calloc((size_t)f->n * f->k, sizeof(double));
        GD_ASSERT(f->resp);
        for (int64_t i = 0; i < f->n; i++) f->resp[i * f->k + (int)lab[i]] = 1;
        free(lab);
    }
}

static void fx_free(fxset *f) {
    free(f->x), free(f->xt), free(f->resp);
    gd_st_close(&f->st);
}

/* ---- helpers ---- */
typedef struct trace {
    double last;
    int last_init;
    double worst_drop; /* largest decrease of the lower bound between iterations */
} trace;

static void on_iter(void *ctx, int init, int iter, double lb) {
    trace *t = ctx;
    if (iter > 1 && init == t->last_init) {
        double drop = t->last - lb;
        if (drop > t->worst_drop) t->worst_drop = drop;
    }
    t->last = lb;
    t->last_init = init;
}

static int all_finite(const gd_gmm *m) {
    size_t nc = gd_gmm_cov_numel(m->cov, m->k, m->d);
    for (int c = 0; c < m->k; c++)
        if (!isfinite(m->weights[c]) || !isfinite(m->log_det[c])) return 0;
    for (size_t i = 0; i < (size_t)m->k * m->d; i++)
        if (!isfinite(m->means[i])) return 0;
    for (size_t i = 0; i < nc; i++)
        if (!isfinite(m->covariances[i]) || !isfinite(m->prec_chol[i])) return 0;
    return isfinite(m->lower_bound);
}

/* max |a - b| / max(max |b|, 1e-12) */
static double rel_err(const double *a, const double *b, size_t n) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= md)) md = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / (mb > 1e-12 ? mb : 1e-12);
}

static void opts_from(gd_gmm_options *o, const fxset *f, int cov) {
    gd_gmm_options_default(o);
    o->k = f->k;
    gd_gmm_cov_parse(covs[cov], &o->cov);
    o->tol = fx_meta(&f->st, "tol");
    o->reg_covar = fx_meta(&f->st, "reg_covar");
    o->max_iter = (int)fx_meta(&f->st, "max_iter");
}

/* ---- (a), (b), (c) on one fixture ---- */
static void check_fixture(const char *fixdir, const char *name) {
    fxset f;
    fx_load(&f, fixdir, name);
    char key[96], label[300];
    for (int cv = 0; cv < 4; cv++) {
        const char *c = covs[cv];
        gd_gmm_options o;
        opts_from(&o, &f, cv);
        o.init = GD_GMM_INIT_RESP;
        o.resp = f.resp;
        trace tr = {0};
        o.on_iter = on_iter;
        o.ctx = &tr;
        gd_gmm m = {0};
        gd_error err = {0};
        gd_status s = gd_gmm_fit(&m, f.x, f.n, f.d, &o, &err);
        snprintf(label, sizeof label, "%s/%s: fit from sklearn's init", name, c);
        TEST_COND(label, s == GD_OK);
        if (s) {
            printf("  %s\n", err.msg);
            continue;
        }
        n_fits++;
        double score = 0, bic = 0, aic = 0;
        gd_gmm_score(&m, f.x, f.n, &score, &err);
        gd_gmm_bic(&m, f.x, f.n, &bic, &err);
        gd_gmm_aic(&m, f.x, f.n, &aic, &err);
        snprintf(key, sizeof key, "%s.score", c);
        double sk = fx_meta(&f.st, key), ds = fabs(score - sk);
        if (ds > worst_score_a) worst_score_a = ds;
        snprintf(label, sizeof label, "%s/%s: score %.9f vs sklearn %.9f (|diff| %.1e <= 1e-3)",
                 name, c, score, sk, ds);
        TEST_COND(label, ds <= 1e-3);
        snprintf(key, sizeof key, "%s.lower_bound", c);
        double lb = fx_meta(&f.st, key);
        snprintf(label, sizeof label, "%s/%s: lower bound %.9f vs %.9f", name, c, m.lower_bound,
                 lb);
        TEST_COND(label, fabs(m.lower_bound - lb) <= 1e-3);
        snprintf(key, sizeof key, "%s.n_iter", c);
        int sk_iter = (int)fx_meta(&f.st, key);
        if (sk_iter != m.n_iter) {
            n_iter_diff++;
            printf("  note: %s/%s: %d iterations, sklearn %d\n", name, c, m.n_iter, sk_iter);
        }
        snprintf(key, sizeof key, "%s.bic", c);
        double skb = fx_meta(&f.st, key);
        snprintf(key, sizeof key, "%s.aic", c);
        double ska = fx_meta(&f.st, key);
        snprintf(label, sizeof label, "%s/%s: bic %.6f vs %.6f, aic %.6f vs %.6f", name, c, bic,
                 skb, aic, ska);
        TEST_COND(label, fabs(bic - skb) <= 2e-3 * (double)f.n &&
                             fabs(aic - ska) <= 2e-3 * (double)f.n);

        /* parameters: the same component order, since both start from the same init */
        size_t nc = gd_gmm_cov_numel(m.cov, m.k, m.d);
        snprintf(key, sizeof key, "%s.weights", c);
        double *w = fx_req(&f.st, key, NULL);
        snprintf(key, sizeof key, "%s.means", c);
        double *mu = fx_req(&f.st, key, NULL);
        snprintf(key, sizeof key, "%s.covariances", c);
        double *cov = fx_req(&f.st, key, NULL);
        double ew = rel_err(m.weights, w, (size_t)m.k);
        double em = rel_err(m.means, mu, (size_t)m.k * m.d);
        double ec = rel_err(m.covariances, cov, nc);
        double ep = fmax(ew, fmax(em, ec));
        if (ep > worst_param_a) worst_param_a = ep;
        snprintf(label, sizeof label, "%s/%s: parameters match (weights %.1e, means %.1e, "
                 "covariances %.1e <= 1e-4)", name, c, ew, em, ec);
        TEST_COND(label, ep <= 1e-4);
        printf("%-11s %-9s score %+.9f (sklearn %+.9f, diff %.1e), %3d iterations (sklearn %3d), "
               "parameters %.1e\n", name, c, score, sk, ds, m.n_iter, sk_iter, ep);

        /* sklearn's own fitted parameters score and label held-out points as sklearn did */
        gd_gmm ref = {0};
        s = gd_gmm_from_params(&ref, m.k, m.d, m.cov, w, mu, cov, "sklearn parameters", &err);
        snprintf(label, sizeof label, "%s/%s: sklearn's parameters load", name, c);
        TEST_COND(label, s == GD_OK);
        if (!s) {
            double *lp = malloc(sizeof(double) * (size_t)f.m), *proba =
                malloc(sizeof(double) * (size_t)f.m * m.k);
            int32_t *lab = malloc(sizeof(int32_t) * (size_t)f.m);
            GD_ASSERT(lp && proba && lab);
            snprintf(key, sizeof key, "%s.test_logp", c);
            double *sl = fx_req(&f.st, key, NULL);
            snprintf(key, sizeof key, "%s.test_labels", c);
            double *slab = fx_req(&f.st, key, NULL);
            gd_gmm_score_samples(&ref, f.xt, f.m, lp, &err);
            gd_gmm_predict(&ref, f.xt, f.m, lab, &err);
            gd_gmm_predict_proba(&ref, f.xt, f.m, proba, &err);
            double el = 0, esum = 0;
            int same = 1;
            for (int64_t i = 0; i < f.m; i++) {
                double e = fabs(lp[i] - sl[i]) / (1 + fabs(sl[i]));
                if (!(e <= el)) el = e;
                same &= lab[i] == (int32_t)slab[i];
                double t = 0;
                for (int q = 0; q < m.k; q++) t += proba[i * m.k + q];
                esum = fmax(esum, fabs(t - 1));
            }
            if (el > worst_logp) worst_logp = el;
            snprintf(label, sizeof label, "%s/%s: held-out log p as sklearn (rel %.1e <= 1e-9), "
                     "labels %s, proba rows sum to 1 (%.1e)", name, c, el, same ? "same" : "DIFFER",
                     esum);
            TEST_COND(label, el <= 1e-9 && same && esum <= 1e-12);
            free(lp), free(proba), free(lab), free(sl), free(slab);
        }
        gd_gmm_free(&ref);
        free(w), free(mu), free(cov);

        /* (b) each from its own k-means++ */
        gd_gmm_options ok;
        opts_from(&ok, &f, cv);
        ok.n_init = (int)fx_meta(&f.st, "kpp.n_init");
        ok.seed = (uint64_t)fx_meta(&f.st, "kpp.seed");
        ok.on_iter = on_iter;
        ok.ctx = &tr;
        tr.last_init = -1;
        gd_gmm mk = {0};
        s = gd_gmm_fit(&mk, f.x, f.n, f.d, &ok, &err);
        double kscore = -INFINITY;
        if (!s) gd_gmm_score(&mk, f.x, f.n, &kscore, &err);
        snprintf(key, sizeof key, "kpp.%s.score", c);
        double kk = fx_meta(&f.st, key);
        if (kk - kscore > worst_kpp) worst_kpp = kk - kscore;
        snprintf(label, sizeof label, "%s/%s: k-means++ x%d score %.6f, sklearn's %.6f (behind by "
                 "%.1e <= 1e-3)", name, c, ok.n_init, kscore, kk, kk - kscore);
        TEST_COND(label, s == GD_OK && kscore >= kk - 1e-3);
        if (s) printf("  %s\n", err.msg);
        printf("%-11s %-9s k-means++ x%d score %+.9f (sklearn's own %+.9f)\n", name, c, ok.n_init,
               kscore, kk);

        /* (c) monotone lower bound, in both fits */
        if (tr.worst_drop > worst_drop) worst_drop = tr.worst_drop;
        snprintf(label, sizeof label, "%s/%s: the lower bound never decreases (worst drop %.1e)",
                 name, c, tr.worst_drop);
        TEST_COND(label, tr.worst_drop <= 1e-9);
        gd_gmm_free(&m);
        gd_gmm_free(&mk);
    }
    fx_free(&f);
}

/* ---- the other initialisations, the 1-D helper ---- */
static void check_inits(const char *fixdir) {
    fxset f;
    fx_load(&f, fixdir, "anisotropic");
    gd_error err = {0};
    char label[1024];
    for (int cv = 0; cv < 4; cv++) {
        gd_gmm_options o;
        opts_from(&o, &f, cv);
        /* sklearn's fitted parameters as the start: EM stays at that fixed point */
        char key[64];
        snprintf(key, sizeof key, "%s.weights", covs[cv]);
        double *w = fx_req(&f.st, key, NULL);
        snprintf(key, sizeof key, "%s.means", covs[cv]);
        double *mu = fx_req(&f.st, key, NULL);
        snprintf(key, sizeof key, "%s.covariances", covs[cv]);
        double *c = fx_req(&f.st, key, NULL);
        snprintf(key, sizeof key, "%s.score", covs[cv]);
        double sk = fx_meta(&f.st, key);
        o.init = GD_GMM_INIT_PARAMS;
        o.weights = w;
        o.means = mu;
        o.covariances = c;
        gd_gmm m = {0};
        double sc = -INFINITY;
        gd_status s = gd_gmm_fit(&m, f.x, f.n, f.d, &o, &err);
        if (!s) gd_gmm_score(&m, f.x, f.n, &sc, &err);
        snprintf(label, sizeof label, "%s: init from sklearn's fitted parameters stays there "
                 "(%.9f vs %.9f)", covs[cv], sc, sk);
        TEST_COND(label, s == GD_OK && fabs(sc - sk) <= 1e-4 && m.n_iter <= 3);
        o.weights = NULL; /* means only */
        o.covariances = NULL;
        s = gd_gmm_fit(&m, f.x, f.n, f.d, &o, &err);
        if (!s) gd_gmm_score(&m, f.x, f.n, &sc, &err);
        snprintf(label, sizeof label, "%s: init from means only (%.6f)", covs[cv], sc);
        TEST_COND(label, s == GD_OK && sc >= sk - 1e-2);
        const gd_gmm_init inits[] = {GD_GMM_INIT_RANDOM, GD_GMM_INIT_RANDOM_FROM_DATA,
                                     GD_GMM_INIT_KMEANS};
        for (int i = 0; i < 3; i++) {
            o.init = inits[i];
            o.n_init = 3;
            o.seed = 11;
            s = gd_gmm_fit(&m, f.x, f.n, f.d, &o, &err);
            snprintf(label, sizeof label, "%s: init %s x3 fits (%s)", covs[cv],
                     gd_gmm_init_name(inits[i]), s ? err.msg : "ok");
            TEST_COND(label, s == GD_OK && all_finite(&m));
        }
        gd_gmm_free(&m);
        free(w), free(mu), free(c);
    }
    fx_free(&f);

    /* 1-D: a strided float column with two groups */
    float col[2 * 400];
    gd_rng r;
    gd_rng_seed(&r, 5);
    for (int i = 0; i < 400; i++) {
        col[2 * i] = (float)(i < 150 ? -3 + 0.5 * gd_rng_normal(&r) : 4 + gd_rng_normal(&r));
        col[2 * i + 1] = NAN; /* another attribute's slot */
    }
    gd_gmm_options o;
    gd_gmm_options_default(&o);
    o.k = 2;
    gd_gmm m = {0};
    gd_status s = gd_gmm_fit_1d(&m, col, 400, 2, &o, &err);
    int lo = !s && m.means[0] < m.means[1] ? 0 : 1;
    snprintf(label, sizeof label, "1-D fit of a strided column: means %.3f, %.3f; weights "
             "%.3f, %.3f", s ? 0 : m.means[lo], s ? 0 : m.means[1 - lo], s ? 0 : m.weights[lo],
             s ? 0 : m.weights[1 - lo]);
    TEST_COND(label, !s && fabs(m.means[lo] + 3) < 0.2 && fabs(m.means[1 - lo] - 4) < 0.3 &&
                         fabs(m.weights[lo] - 0.375) < 0.01);
    gd_gmm_free(&m);
}

/* ---- (d) degenerate data ---- */
/* fits x with every covariance type and init; ok when each is a finite fit or an error with a
 * message (want_err: must be an error containing want) */
static void degenerate(const char *what, const double *x, int64_t n, int d, int k, double reg,
                       const char *want) {
    char label[1024];
    for (int cv = 0; cv < 4; cv++)
        for (int in = 0; in < 3; in++) {
            gd_gmm_options o;
            gd_gmm_options_default(&o);
            o.k = k;
            o.cov = (gd_gmm_cov)cv;
            o.init = (gd_gmm_init)in;
            o.reg_covar = reg;
            o.n_init = 2;
            o.seed = 3;
            gd_gmm m = {0};
            gd_error err = {0};
            gd_status s = gd_gmm_fit(&m, x, n, d, &o, &err);
            int ok;
            if (want) {
                ok = s != GD_OK && strstr(err.msg, want);
            } else if (s == GD_OK) {
                double sc = NAN;
                gd_gmm_score(&m, x, n, &sc, &err);
                ok = all_finite(&m) && isfinite(sc);
            } else {
                ok = err.msg[0] && !strstr(err.msg, "nan");
            }
            snprintf(label, sizeof label, "%s (%s, %s): %s", what, covs[cv],
                     gd_gmm_init_name(o.init), s ? err.msg : "finite fit");
            TEST_COND(label, ok);
            if (cv == 0 && in == 0) printf("%s: %s\n", what, s ? err.msg : "finite fit");
            gd_gmm_free(&m);
        }
}

static void check_degenerate(void) {
    gd_rng r;
    gd_rng_seed(&r, 9);
    enum { N = 120 };
    double x[N * 3];
    /* a constant feature */
    for (int i = 0; i < N; i++) {
        x[i * 3] = gd_rng_normal(&r) + (i % 2) * 6;
        x[i * 3 + 1] = 2.5;
        x[i * 3 + 2] = gd_rng_normal(&r);
    }
    degenerate("a constant feature", x, N, 3, 3, 1e-6, NULL);
    /* heavy duplicates: 110 copies of one point, 10 others */
    for (int i = 0; i < N * 3; i++) x[i] = i < 110 * 3 ? 1.0 + (i % 3) : gd_rng_normal(&r);
    degenerate("110 of 120 points identical", x, N, 3, 4, 1e-6, NULL);
    degenerate("duplicates with reg_covar 0", x, N, 3, 4, 0, NULL);
    /* far outliers */
    for (int i = 0; i < N * 3; i++) x[i] = gd_rng_normal(&r);
    x[0] = 1e8;
    x[4] = -3e7;
    degenerate("outliers at 1e8", x, N, 3, 3, 1e-6, NULL);
    x[0] = 1e200;
    degenerate("a value of 1e200", x, N, 3, 3, 1e-6, "rescale");
    x[0] = NAN;
    degenerate("a NaN", x, N, 3, 3, 1e-6, "NaN");
    x[0] = 0;
    degenerate("n < k", x, 4, 3, 5, 1e-6, "at least");
    for (int i = 0; i < N * 3; i++) x[i] = 0.25 * (i % 3); /* every row the same */
    degenerate("identical points", x, N, 3, 2, 1e-6, "identical");
    degenerate("identical points, k = 1", x, N, 3, 1, 1e-6, "identical");
    for (int i = 0; i < N * 3; i++) x[i] = (double)((i / 3) % 3); /* 3 distinct rows */
    degenerate("3 distinct points, k = 5", x, N, 3, 5, 1e-6, "distinct");
    degenerate("3 distinct points, k = 3", x, N, 3, 3, 1e-6, NULL);

    /* using a model far from the data: finite posteriors summing to 1, never NaN */
    const double w[2] = {0.5, 0.5}, cov[2] = {1, 0.25};
    const double near[2] = {0, 3}, far[2] = {1e200, -1e200}, pts[3] = {1e6, -1e7, 1.5};
    for (int f = 0; f < 2; f++) {
        gd_gmm m = {0};
        gd_error err = {0};
        double lp[3], pr[6];
        gd_status s = gd_gmm_from_params(&m, 2, 1, GD_GMM_COV_SPHERICAL, w, f ? far : near, cov,
                                         "test", &err);
        if (!s) s = gd_gmm_score_samples(&m, pts, 3, lp, &err);
        if (!s) s = gd_gmm_predict_proba(&m, pts, 3, pr, &err);
        int ok = !s;
        for (int i = 0; ok && i < 3; i++)
            ok = !isnan(lp[i]) && (f || isfinite(lp[i])) && isfinite(pr[2 * i]) &&
                 fabs(pr[2 * i] + pr[2 * i + 1] - 1) < 1e-12;
        TEST_COND(f ? "means at +-1e200: log p -inf, posteriors uniform, no NaN"
                    : "points 1e7 away: finite log p and posteriors", ok);
        gd_gmm_free(&m);
    }
}

/* ---- (e) files ---- */
static void write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    GD_ASSERT(f);
    fputs(s, f);
    fclose(f);
}

static void check_files(const char *fixdir, const char *tmp) {
    fxset f;
    fx_load(&f, fixdir, "duplicates");
    char path[512], label[700];
    gd_error err = {0};
    for (int cv = 0; cv < 4; cv++) {
        gd_gmm_options o;
        opts_from(&o, &f, cv);
        o.seed = 4;
        gd_gmm m = {0}, l = {0};
        gd_status s = gd_gmm_fit(&m, f.x, f.n, f.d, &o, &err);
        snprintf(path, sizeof path, "%s/model_%s.json", tmp, covs[cv]);
        if (!s) s = gd_gmm_save(&m, path, &err);
        if (!s) s = gd_gmm_load(&l, path, &err);
        size_t nc = gd_gmm_cov_numel(m.cov, m.k, m.d);
        int same = !s && l.k == m.k && l.d == m.d && l.cov == m.cov &&
                   !memcmp(l.weights, m.weights, sizeof(double) * m.k) &&
                   !memcmp(l.means, m.means, sizeof(double) * m.k * m.d) &&
                   !memcmp(l.covariances, m.covariances, sizeof(double) * nc) &&
                   !memcmp(l.prec_chol, m.prec_chol, sizeof(double) * nc) &&
                   l.n_iter == m.n_iter && l.converged == m.converged &&
                   l.lower_bound == m.lower_bound && l.reg_covar == m.reg_covar;
        snprintf(label, sizeof label, "%s: save and load round trip bit for bit (%s)", covs[cv],
                 s ? err.msg : "ok");
        TEST_COND(label, same);
        gd_gmm_free(&m);
        gd_gmm_free(&l);
    }
    fx_free(&f);

    const char *head = "{\"format\": \"gmmdiff-gmm\", \"version\": 1, \"covariance_type\": "
                       "\"full\", \"n_components\": 2, \"n_features\": 2, ";
    const char *good_rest = "\"weights\": [0.25, 0.75], \"means\": [[0, 1], [2, 3]], "
                            "\"covariances\": [[[1, 0.5], [0.5, 2]], [[1, 0], [0, 1]]]}";
    struct { const char *text, *want; } bad[] = {
        {"{\"format\": \"gmmdiff-gmm\", ", "line"},
        {"[1, 2]", "not a JSON object"},
        {"{\"format\": \"something\", \"version\": 1}", "not a gmmdiff GMM model"},
        {"{\"format\": \"gmmdiff-gmm\", \"version\": 2}", "version 2"},
        {"{\"format\": \"gmmdiff-gmm\", \"version\": 1, \"covariance_type\": \"banana\"}",
         "'covariance_type' must be"},
        {"%s\"weights\": [0.25, 0.75], \"means\": [[0, 1]], \"covariances\": []}",
         "'means' must be an array of 2"},
        {"%s\"weights\": [0.25, 0.75], \"means\": [[0, 1], [2]], \"covariances\": []}",
         "'means[1]' must be an array of 2"},
        {"%s\"weights\": [0.2, 0.75], \"means\": [[0, 1], [2, 3]], "
         "\"covariances\": [[[1, 0], [0, 1]], [[1, 0], [0, 1]]]}", "sum to"},
        {"%s\"weights\": [0.25, 0.75], \"means\": [[0, 1], [2, 3]], "
         "\"covariances\": [[[1, 2], [2, 1]], [[1, 0], [0, 1]]]}",
         "component 0 is not positive definite"},
        {"%s\"weights\": [0.25, 0.75], \"means\": [[0, 1], [2, 3]], "
         "\"covariances\": [[[1, 0.5], [0.4, 1]], [[1, 0], [0, 1]]]}", "not symmetric"},
        {"%s\"weights\": [0.25, 0.75], \"means\": [[0, NaN], [2, 3]], "
         "\"covariances\": [[[1, 0], [0, 1]], [[1, 0], [0, 1]]]}", "line 1"},
        {"%s\"weights\": [0.25, 0.75], \"means\": [[0, \"1\"], [2, 3]], "
         "\"covariances\": [[[1, 0], [0, 1]], [[1, 0], [0, 1]]]}", "'means[0][1]' is not a number"},
        {"%s\"weights\": [0.25, 0.75], \"means\": [[0, 1], [2, 3]]}", "'covariances' is missing"},
        {"%s\"weights\": [0.25, 0.75], \"means\": [[0, 1], [2, 3]], \"covariances\": "
         "[[[1, 0], [0, 1]], [[1, 0], [0, 1]]], \"colour\": 3}", "unknown key 'colour'"},
        {"%s\"weights\": [1.25, -0.25], \"means\": [[0, 1], [2, 3]], "
         "\"covariances\": [[[1, 0], [0, 1]], [[1, 0], [0, 1]]]}", "weights[0] = 1.25"},
        /* sizes the arrays do not have: refused from the arrays' shapes before the 80 GB the
         * sizes ask for is allocated */
        {"{\"format\": \"gmmdiff-gmm\", \"version\": 1, \"covariance_type\": \"diag\", "
         "\"n_components\": 100000, \"n_features\": 100000, \"weights\": [1], \"means\": [[0]], "
         "\"covariances\": [[1]]}", "'weights' must be an array of 100000"},
    };
    snprintf(path, sizeof path, "%s/good.json", tmp);
    char text[1024];
    snprintf(text, sizeof text, "%s%s", head, good_rest);
    write_text(path, text);
    gd_gmm m = {0};
    gd_status s = gd_gmm_load(&m, path, &err);
    snprintf(label, sizeof label, "a hand-written model loads (%s)", s ? err.msg : "ok");
    TEST_COND(label, s == GD_OK && m.k == 2 && m.d == 2 && m.weights[1] == 0.75);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/bad%zu.json", tmp, i);
        snprintf(text, sizeof text, bad[i].text, head);
        write_text(path, text);
        memset(&err, 0, sizeof err);
        s = gd_gmm_load(&m, path, &err);
        int ok = s != GD_OK && strstr(err.msg, path) && strstr(err.msg, bad[i].want) && !m.weights;
        snprintf(label, sizeof label, "corrupt model %zu refused with '%s' (%s)", i, bad[i].want,
                 err.msg);
        TEST_COND(label, ok);
    }
    snprintf(path, sizeof path, "%s/missing.json", tmp);
    s = gd_gmm_load(&m, path, &err);
    TEST_COND("a missing model file is refused naming it", s == GD_ERR_IO && strstr(err.msg, path));
    gd_gmm_free(&m);
}

/* ---- (f) sampling ---- */
static void check_sampling(void) {
    const double w[2] = {0.3, 0.7}, mu[6] = {-2, 0, 1, 3, 1, -1};
    const double full[18] = {1, 0.6, 0.2, 0.6, 2, -0.3, 0.2, -0.3, 0.5,
                             0.5, 0, 0.1, 0, 1, 0.4, 0.1, 0.4, 1.5};
    const double tied[9] = {1, 0.3, 0, 0.3, 1, 0.2, 0, 0.2, 0.8};
    const double diag[6] = {0.5, 1, 2, 1.5, 0.3, 0.7}, sph[2] = {0.8, 1.6};
    const double *cv[4] = {full, tied, diag, sph};
    enum { N = 40000, D = 3 };
    double *x = malloc(sizeof(double) * N * D);
    int32_t *lab = malloc(sizeof(int32_t) * N);
    GD_ASSERT(x && lab);
    for (int t = 0; t < 4; t++) {
        gd_gmm m = {0};
        gd_error err = {0};
        char label[300];
        gd_status s = gd_gmm_from_params(&m, 2, D, (gd_gmm_cov)t, w, mu, cv[t], "test", &err);
        TEST_COND("sampling model builds", s == GD_OK);
        if (s) continue;
        gd_rng r;
        gd_rng_seed(&r, 77);
        gd_gmm_sample(&m, &r, N, x, lab, &err);
        /* the mixture's mean and covariance: sum w (S + mu mu^T) - m m^T */
        double mm[D] = {0}, mc[D * D] = {0}, sm[D] = {0}, sc[D * D] = {0};
        for (int c = 0; c < 2; c++)
            for (int a = 0; a < D; a++) {
                mm[a] += w[c] * mu[c * D + a];
                for (int b = 0; b < D; b++) {
                    double s2 = t == 0   ? full[c * 9 + a * 3 + b]
                                : t == 1 ? tied[a * 3 + b]
                                : a != b ? 0
                                : t == 2 ? diag[c * 3 + a] : sph[c];
                    mc[a * D + b] += w[c] * (s2 + mu[c * D + a] * mu[c * D + b]);
                }
            }
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++) mc[a * D + b] -= mm[a] * mm[b];
        int n0 = 0, grouped = 1;
        for (int i = 0; i < N; i++) {
            n0 += lab[i] == 0;
            if (i && lab[i] < lab[i - 1]) grouped = 0;
            for (int a = 0; a < D; a++) sm[a] += x[i * D + a] / N;
        }
        for (int i = 0; i < N; i++)
            for (int a = 0; a < D; a++)
                for (int b = 0; b < D; b++)
                    sc[a * D + b] += (x[i * D + a] - sm[a]) * (x[i * D + b] - sm[b]) / (N - 1);
        double em = 0, ec = 0;
        for (int a = 0; a < D; a++) {
            em = fmax(em, fabs(sm[a] - mm[a]) / sqrt(mc[a * D + a] / N));
            for (int b = 0; b < D; b++) /* standard error of a covariance entry */
                ec = fmax(ec, fabs(sc[a * D + b] - mc[a * D + b]) /
                                  sqrt((mc[a * D + a] * mc[b * D + b] + mc[a * D + b] *
                                        mc[a * D + b]) / N * 3));
        }
        double ew = fabs(n0 / (double)N - w[0]) / sqrt(w[0] * w[1] / N);
        snprintf(label, sizeof label, "%s samples: mean within %.1f, covariance within %.1f, "
                 "weights within %.1f standard errors (<= 5); grouped by component",
                 covs[t], em, ec, ew);
        TEST_COND(label, em <= 5 && ec <= 5 && ew <= 5 && grouped);
        gd_rng_seed(&r, 77);
        double *y = malloc(sizeof(double) * 100 * D);
        GD_ASSERT(y);
        gd_gmm_sample(&m, &r, 100, y, NULL, &err);
        double *z = malloc(sizeof(double) * 100 * D);
        GD_ASSERT(z);
        gd_rng_seed(&r, 77);
        gd_gmm_sample(&m, &r, 100, z, NULL, &err);
        TEST_COND("the same seed draws the same samples", !memcmp(y, z, sizeof(double) * 100 * D));
        free(y), free(z);
        gd_gmm_free(&m);
    }
    free(x), free(lab);
}

/* ---- (g) threads ---- */
/* 8 blobs in 16-D, 4000 points: large enough that every loop runs in parallel */
static void check_threads(void) {
    enum { N = 4000, D = 16, K = 8 };
    double *x = malloc(sizeof(double) * N * D), c[K * D];
    GD_ASSERT(x);
    gd_rng r;
    gd_rng_seed(&r, 31);
    for (int i = 0; i < K * D; i++) c[i] = 3 * gd_rng_normal(&r);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) x[i * D + j] = c[(i % K) * D + j] + gd_rng_normal(&r);
    for (int cv = 0; cv < 4; cv++) {
        gd_gmm m[3] = {{0}};
        gd_error err = {0};
        int ok = 1;
        for (int t = 0; t < 3; t++) {
            gd_set_num_threads(t + 1);
            gd_gmm_options o;
            gd_gmm_options_default(&o);
            o.k = K;
            o.cov = (gd_gmm_cov)cv;
            o.tol = 0; /* a fixed number of iterations */
            o.max_iter = 8;
            o.seed = 21;
            ok &= gd_gmm_fit(&m[t], x, N, D, &o, &err) == GD_OK;
        }
        size_t nc = gd_gmm_cov_numel(m[0].cov, K, D);
        for (int t = 1; ok && t < 3; t++)
            ok = !memcmp(m[t].means, m[0].means, sizeof(double) * K * D) &&
                 !memcmp(m[t].covariances, m[0].covariances, sizeof(double) * nc) &&
                 !memcmp(m[t].weights, m[0].weights, sizeof(double) * K) &&
                 m[t].lower_bound == m[0].lower_bound && m[t].n_iter == m[0].n_iter;
        char label[200];
        snprintf(label, sizeof label, "%s: the same fit bit for bit at 1, 2 and 3 threads",
                 covs[cv]);
        TEST_COND(label, ok);
        for (int t = 0; t < 3; t++) gd_gmm_free(&m[t]);
    }
    gd_set_num_threads(1);
    free(x);
}

/* ---- (h) the kernels against scalar references ---- */
void gd_gmm_exp_array(const double *x, double *y, size_t n); /* src/gmm/gmm_kernels.c */

static void check_exp(void) {
    enum { N = 20001 };
    double *x = malloc(sizeof(double) * N), *y = malloc(sizeof(double) * N), worst = 0;
    GD_ASSERT(x && y);
    for (int i = 0; i < N; i++) x[i] = -760.0 + 761.0 * i / (N - 1);
    x[0] = -INFINITY;
    x[1] = -745.5, x[2] = -745.0, x[3] = -708.5, x[4] = 0.0, x[5] = -1e-300;
    gd_gmm_exp_array(x, y, N);
    int ok = 1;
    for (int i = 0; i < N; i++) {
        double e = exp(x[i]);
        if (e < 2.2250738585072014e-308) ok &= fabs(y[i] - e) <= 2 * 4.9406564584124654e-324;
        else worst = fmax(worst, fabs(y[i] - e) / e);
    }
    printf("vector exp: worst relative error %.2e over [-708, 1]\n", worst);
    TEST_COND("vector exp within 4e-16 of libm's, subnormals within 2 ulp, exp(-inf) = 0",
              ok && worst <= 4e-16 && y[0] == 0);
    free(x), free(y);
}

/* lower Cholesky factor of a [d, d]; 0 on success */
static int ref_chol(const double *a, double *l, int d) {
    for (int i = 0; i < d; i++)
        for (int j = 0; j <= i; j++) {
            double s = a[i * d + j];
            for (int p = 0; p < j; p++) s -= l[i * d + p] * l[j * d + p];
            if (i == j) {
                if (!(s > 0)) return -1;
                l[i * d + i] = sqrt(s);
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    return 0;
}

/* log N(x; mu, cov) + log w for every point and component, by forward substitution */
static void ref_logdens(const gd_gmm *m, const double *x, int n, double *w) {
    int k = m->k, d = m->d;
    double *l = calloc((size_t)d * d, sizeof(double)), *y = malloc(sizeof(double) * d);
    GD_ASSERT(l && y);
    for (int c = 0; c < k; c++) {
        double ld = 0;
        memset(l, 0, sizeof(double) * d * d);
        for (int a = 0; a < d; a++) {
            double v = 0;
            switch (m->cov) {
            case GD_GMM_COV_FULL:
            case GD_GMM_COV_TIED: break;
            case GD_GMM_COV_DIAG: v = m->covariances[c * d + a]; break;
            case GD_GMM_COV_SPHERICAL: v = m->covariances[c]; break;
            }
            if (v > 0) l[a * d + a] = sqrt(v);
        }
        if (m->cov == GD_GMM_COV_FULL || m->cov == GD_GMM_COV_TIED)
            GD_ASSERT(!ref_chol(m->covariances + (m->cov == GD_GMM_COV_FULL ? c * d * d : 0), l, d));
        for (int a = 0; a < d; a++) ld += log(l[a * d + a]);
        for (int i = 0; i < n; i++) {
            double q = 0;
            for (int a = 0; a < d; a++) { /* y = L^-1 (x - mu) */
                double s = x[i * d + a] - m->means[c * d + a];
                for (int p = 0; p < a; p++) s -= l[a * d + p] * y[p];
                y[a] = s / l[a * d + a];
                q += y[a] * y[a];
            }
            w[i * k + c] = log(m->weights[c]) - 0.5 * d * log(2 * 3.14159265358979323846) - ld - 0.5 * q;
        }
    }
    free(l), free(y);
}

static void check_kernels(void) {
    enum { N = 2503, K = 5 }; /* 2503: two full blocks of 1024 and a ragged one */
    const int dims[2] = {7, 16};
    gd_rng r;
    gd_rng_seed(&r, 77);
    for (int di = 0; di < 2; di++) {
        int d = dims[di];
        double *x = malloc(sizeof(double) * N * d), *w = malloc(sizeof(double) * N * K);
        double *lp = malloc(sizeof(double) * N), *pr = malloc(sizeof(double) * N * K);
        double *mu = malloc(sizeof(double) * K * d), *cv = malloc(sizeof(double) * K * d * d);
        double *rs = malloc(sizeof(double) * N * K), wt[K], nk[K];
        GD_ASSERT(x && w && lp && pr && mu && cv && rs);
        for (int i = 0; i < N; i++)
            for (int a = 0; a < d; a++) x[i * d + a] = 100 + (i % K) * 2 + gd_rng_normal(&r);
        for (int cvt = 0; cvt < 4; cvt++) {
            gd_gmm_cov cov = (gd_gmm_cov)cvt;
            size_t nc = gd_gmm_cov_numel(cov, K, d);
            memset(cv, 0, sizeof(double) * K * d * d);
            for (int c = 0; c < K; c++) {
                wt[c] = (1.0 + c) / (K * (K + 1) / 2.0);
                for (int a = 0; a < d; a++) mu[c * d + a] = x[(c * 37) * d + a] + 0.3;
            }
            if (cov == GD_GMM_COV_FULL || cov == GD_GMM_COV_TIED) {
                for (int c = 0; c < (cov == GD_GMM_COV_FULL ? K : 1); c++) /* B B^T + I */
                    for (int a = 0; a < d; a++)
                        for (int b = 0; b <= a; b++) {
                            double s = a == b ? 1.0 + c : 0;
                            for (int p = 0; p < d; p++)
                                s += 0.3 * sin(a * 3.1 + p + c) * 0.3 * sin(b * 3.1 + p + c);
                            cv[c * d * d + a * d + b] = cv[c * d * d + b * d + a] = s;
                        }
            } else {
                for (size_t i = 0; i < nc; i++) cv[i] = 0.5 + 0.1 * (double)(i % 7);
            }
            gd_gmm m = {0}, f = {0};
            gd_error err = {0};
            int ok = gd_gmm_from_params(&m, K, d, cov, wt, mu, cv, "test", &err) == GD_OK;
            ok = ok && !gd_gmm_score_samples(&m, x, N, lp, &err) &&
                 !gd_gmm_predict_proba(&m, x, N, pr, &err);
            ref_logdens(&m, x, N, w);
            double e_lp = 0, e_pr = 0;
            for (int i = 0; ok && i < N; i++) {
                double mx = -INFINITY, s = 0;
                for (int c = 0; c < K; c++) mx = fmax(mx, w[i * K + c]);
                for (int c = 0; c < K; c++) s += exp(w[i * K + c] - mx);
                double lpi = mx + log(s);
                e_lp = fmax(e_lp, fabs(lp[i] - lpi) / fabs(lpi));
                for (int c = 0; c < K; c++) {
                    rs[i * K + c] = exp(w[i * K + c] - lpi);
                    e_pr = fmax(e_pr, fabs(pr[i * K + c] - rs[i * K + c]));
                }
            }
            /* one EM iteration from these parameters against the textbook M-step */
            gd_gmm_options o;
            gd_gmm_options_default(&o);
            o.k = K, o.cov = cov, o.init = GD_GMM_INIT_PARAMS, o.max_iter = 1, o.tol = 0;
            o.means = mu, o.weights = wt, o.covariances = cv;
            ok = ok && !gd_gmm_fit(&f, x, N, d, &o, &err);
            double e_par = 0, tot = 0;
            for (int c = 0; ok && c < K; c++) {
                double s = 0, *mc = mu + c * d;
                for (int i = 0; i < N; i++) s += rs[i * K + c];
                nk[c] = s + 10 * DBL_EPSILON;
                tot += nk[c];
                for (int a = 0; a < d; a++) {
                    double t = 0;
                    for (int i = 0; i < N; i++) t += rs[i * K + c] * x[i * d + a];
                    mc[a] = t / nk[c];
                    e_par = fmax(e_par, fabs(f.means[c * d + a] - mc[a]) / fabs(mc[a]));
                }
            }
            for (int c = 0; ok && c < K; c++) {
                e_par = fmax(e_par, fabs(f.weights[c] - nk[c] / tot) / (nk[c] / tot));
                for (int a = 0; a < d; a++)
                    for (int b = 0; b <= a; b++) {
                        if (cov != GD_GMM_COV_FULL && a != b) continue;
                        double t = 0;
                        for (int i = 0; i < N; i++)
                            t += rs[i * K + c] * (x[i * d + a] - mu[c * d + a]) *
                                 (x[i * d + b] - mu[c * d + b]);
                        t /= nk[c];
                        double got = cov == GD_GMM_COV_FULL ? f.covariances[c * d * d + a * d + b]
                                     : cov == GD_GMM_COV_DIAG ? f.covariances[c * d + a] - 1e-6
                                                              : NAN;
                        if (cov == GD_GMM_COV_FULL && a == b) got -= 1e-6;
                        if (cov == GD_GMM_COV_FULL || cov == GD_GMM_COV_DIAG)
                            e_par = fmax(e_par, fabs(got - t) / t);
                    }
            }
            char label[160];
            snprintf(label, sizeof label, "kernels d=%d %s: log p %.1e, posteriors %.1e, one EM "
                     "step %.1e from the scalar reference", d, covs[cvt], e_lp, e_pr, e_par);
            printf("%s\n", label);
            TEST_COND(label, ok && e_lp <= 1e-13 && e_pr <= 1e-12 &&
                             (cov == GD_GMM_COV_TIED || cov == GD_GMM_COV_SPHERICAL || e_par <= 1e-11));
            gd_gmm_free(&m), gd_gmm_free(&f);
        }
        free(x), free(w), free(lp), free(pr), free(mu), free(cv), free(rs);
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *fixdir = argc > 1 ? argv[1] : "tests/fixtures";
    gd_set_num_threads(1); /* small problems; (g) varies the count */
    double t0 = now();
    for (int i = 0; i < NSETS; i++) check_fixture(fixdir, sets[i]);
    double t1 = now();
    printf("agreement over %d fits: |score - sklearn| <= %.1e, parameters <= %.1e (normwise "
           "relative), held-out log p <= %.1e (relative), %d iteration counts differ; "
           "k-means++: at worst %.1e %s sklearn; largest lower-bound drop %.1e\n",
           n_fits, worst_score_a, worst_param_a, worst_logp, n_iter_diff, fabs(worst_kpp),
           worst_kpp > 0 ? "behind" : "ahead of", worst_drop);
    check_inits(fixdir);
    double t2 = now();
    check_degenerate();
    double t3 = now();
    char tmp[] = "/tmp/gd_test_gmm_XXXXXX";
    if (!mkdtemp(tmp)) return 1;
    check_files(fixdir, tmp);
    check_sampling();
    double t4 = now();
    check_threads();
    check_exp();
    check_kernels();
    printf("seconds: fixtures %.2f, inits %.2f, degenerate %.2f, files and sampling %.2f, "
           "threads %.2f\n", t1 - t0, t2 - t1, t3 - t2, t4 - t3, now() - t4);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", tmp);
    return gd_test_report("test_gmm");
}
