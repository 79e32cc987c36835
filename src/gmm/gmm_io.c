/* gmm_io.c - a model from parameters (validated), and the model's JSON file: written by hand so
 * each matrix row is one line, numbers with 17 significant digits (an exact round trip); read
 * with jansson and checked key by key, naming the file and the problem. */
#include "gmm/gmm_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_status gd_gmm_from_params(gd_gmm *m, int k, int d, gd_gmm_cov cov, const double *weights,
                             const double *means, const double *covariances, const char *what,
                             gd_error *err) {
    GD_ASSERT(m && weights && means && covariances && what);
    gd_status s = gd_gmm_alloc(m, k, d, cov, err);
    if (s) return s;
    size_t nc = gd_gmm_cov_numel(cov, k, d);
    double t = 0;
    for (int c = 0; c < k; c++) {
        if (!(weights[c] >= 0 && weights[c] <= 1)) {
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: weights[%d] = %g is not in [0, 1]", what,
                             c, weights[c]);
            goto fail;
        }
        t += weights[c];
    }
    if (!(fabs(t - 1) <= 1e-6)) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: the weights sum to %.9g, not 1", what, t);
        goto fail;
    }
    for (size_t i = 0; i < (size_t)k * d; i++)
        if (!isfinite(means[i])) {
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: means[%zu][%zu] is not finite", what,
                             i / d, i % d);
            goto fail;
        }
    for (size_t i = 0; i < nc; i++)
        if (!isfinite(covariances[i])) {
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: covariance value %zu is not finite", what, i);
            goto fail;
        }
    if (cov == GD_GMM_COV_FULL || cov == GD_GMM_COV_TIED) {
        size_t dd = (size_t)d * d;
        for (size_t c = 0; c < nc / dd; c++)
            for (int a = 0; a < d; a++)
                for (int b = 0; b < a; b++) {
                    const double *cm = covariances + c * dd;
                    double u = cm[(size_t)a * d + b], v = cm[(size_t)b * d + a];
                    double scale = sqrt(fabs(cm[(size_t)a * d + a] * cm[(size_t)b * d + b]));
                    if (!(fabs(u - v) <= 1e-8 * scale)) {
                        s = gd_error_set(err, GD_ERR_FORMAT, "%s: covariance %zu is not "
                                         "symmetric ([%d][%d] = %g, [%d][%d] = %g)", what, c, a,
                                         b, u, b, a, v);
                        goto fail;
                    }
                }
    }
    memcpy(m->weights, weights, sizeof(double) * k);
    memcpy(m->means, means, sizeof(double) * k * d);
    memcpy(m->covariances, covariances, sizeof(double) * nc);
    int bad = gd_gmm_update_precisions(m);
    if (bad == -2) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", what);
    } else if (bad >= 0) {
        if (cov == GD_GMM_COV_TIED)
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: the tied covariance is not positive "
                             "definite", what);
        else
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: the covariance of component %d is not "
                             "positive definite", what, bad);
    }
    if (!s) return GD_OK;
fail:
    gd_gmm_free(m);
    return s;
}

/* ---- writing ---- */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
    for (;;) {
        if (b->oom) return;
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t nc = b->cap ? 2 * b->cap : 4096;
        while (nc < b->n + (size_t)w + 1) nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
}

/* one row of n numbers */
static void sb_row(sbuf *b, const double *v, int n) {
    sb_printf(b, "[");
    for (int i = 0; i < n; i++) sb_printf(b, "%s%.17g", i ? ", " : "", v[i]);
    sb_printf(b, "]");
}

/* rows x n matrix, one row per line, at the given indent */
static void sb_matrix(sbuf *b, const double *v, int rows, int n, const char *indent) {
    sb_printf(b, "[\n");
    for (int r = 0; r < rows; r++) {
        sb_printf(b, "%s  ", indent);
        sb_row(b, v + (size_t)r * n, n);
        sb_printf(b, "%s\n", r + 1 < rows ? "," : "");
    }
    sb_printf(b, "%s]", indent);
}

gd_status gd_gmm_save(const gd_gmm *m, const char *path, gd_error *err) {
    GD_ASSERT(m && m->weights && path);
    int k = m->k, d = m->d;
    size_t nc = gd_gmm_cov_numel(m->cov, k, d);
    for (size_t i = 0; i < nc; i++)
        if (!isfinite(m->covariances[i]))
            return gd_error_set(err, GD_ERR_NUMERIC, "%s: the model has a non-finite covariance",
                                path);
    for (size_t i = 0; i < (size_t)k * d; i++)
        if (!isfinite(m->means[i]) || (i < (size_t)k && !isfinite(m->weights[i])))
            return gd_error_set(err, GD_ERR_NUMERIC, "%s: the model has a non-finite weight or "
                                "mean", path);
    sbuf b = {0};
    sb_printf(&b, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"covariance_type\": \"%s\",\n"
              "  \"n_components\": %d,\n  \"n_features\": %d,\n  \"weights\": ", GD_GMM_FORMAT,
              GD_GMM_FORMAT_VERSION, gd_gmm_cov_name(m->cov), k, d);
    sb_row(&b, m->weights, k);
    sb_printf(&b, ",\n  \"means\": ");
    sb_matrix(&b, m->means, k, d, "  ");
    sb_printf(&b, ",\n  \"covariances\": ");
    switch (m->cov) {
    case GD_GMM_COV_FULL:
        sb_printf(&b, "[\n");
        for (int c = 0; c < k; c++) {
            sb_printf(&b, "    ");
            sb_matrix(&b, m->covariances + (size_t)c * d * d, d, d, "    ");
            sb_printf(&b, "%s\n", c + 1 < k ? "," : "");
        }
        sb_printf(&b, "  ]");
        break;
    case GD_GMM_COV_TIED: sb_matrix(&b, m->covariances, d, d, "  "); break;
    case GD_GMM_COV_DIAG: sb_matrix(&b, m->covariances, k, d, "  "); break;
    case GD_GMM_COV_SPHERICAL: sb_row(&b, m->covariances, k); break;
    }
    sb_printf(&b, ",\n  \"converged\": %s,\n  \"n_iter\": %d,\n  \"lower_bound\": %.17g,\n"
              "  \"reg_covar\": %.17g\n}\n", m->converged ? "true" : "false", m->n_iter,
              isfinite(m->lower_bound) ? m->lower_bound : 0.0, m->reg_covar);
    gd_status s;
    if (b.oom) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    } else {
        const void *parts[1] = {b.p};
        size_t sizes[1] = {b.n};
        s = gd_write_file_atomic(path, parts, sizes, 1, err);
    }
    free(b.p);
    return s;
}

/* ---- reading ---- */
static const char *const known_keys[] = {"format", "version", "covariance_type", "n_components",
                                         "n_features", "weights", "means", "covariances",
                                         "converged", "n_iter", "lower_bound", "reg_covar"};

/* the nested array v of shape dims[0..nd) into out (row-major), or only checked when out is
 * NULL; name is its place in the file, e.g. "means[2]", for messages */
static gd_status read_array(const char *path, const char *name, json_t *v, const int *dims,
                            int nd, double *out, gd_error *err) {
    if (nd == 0) {
        if (!json_is_number(v))
            return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' is not a number", path, name);
        double x = json_number_value(v);
        if (!isfinite(x))
            return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' is not finite", path, name);
        if (out) *out = x;
        return GD_OK;
    }
    if (!v) return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' is missing", path, name);
    if (!json_is_array(v) || json_array_size(v) != (size_t)dims[0])
        return gd_error_set(err, GD_ERR_SHAPE, "%s: '%s' must be an array of %d entries (as "
                            "n_components and n_features say)", path, name, dims[0]);
    size_t inner = 1;
    for (int i = 1; i < nd; i++) inner *= (size_t)dims[i];
    for (int i = 0; i < dims[0]; i++) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s[%d]", name, i);
        gd_status s = read_array(path, sub, json_array_get(v, (size_t)i), dims + 1, nd - 1,
                                 out ? out + i * inner : NULL, err);
        if (s) return s;
    }
    return GD_OK;
}

static gd_status get_int(const char *path, json_t *root, const char *key, int lo, int hi, int *out,
                         gd_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v) return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' is missing", path, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' must be an integer in [%d, %d]", path,
                            key, lo, hi);
    *out = (int)json_integer_value(v);
    return GD_OK;
}

gd_status gd_gmm_load(gd_gmm *m, const char *path, gd_error *err) {
    GD_ASSERT(m && path);
    gd_gmm_free(m);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (je.line < 1)
            return gd_error_set(err, GD_ERR_IO, "%s: cannot read: %s", path, je.text);
        return gd_error_set(err, GD_ERR_FORMAT, "%s: line %d, column %d: %s", path, je.line,
                            je.column, je.text);
    }
    gd_status s = GD_OK;
    double *w = NULL, *mu = NULL, *cv = NULL;
    int version = 0, k = 0, d = 0;
    gd_gmm_cov cov = GD_GMM_COV_FULL;
    const char *key;
    json_t *v;
    if (!json_is_object(root)) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    json_object_foreach(root, key, v) {
        size_t i = 0;
        while (i < sizeof known_keys / sizeof known_keys[0] && strcmp(key, known_keys[i])) i++;
        if (i == sizeof known_keys / sizeof known_keys[0]) {
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: unknown key '%s'", path, key);
            goto done;
        }
    }
    v = json_object_get(root, "format");
    if (!json_is_string(v) || strcmp(json_string_value(v), GD_GMM_FORMAT)) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: not a gmmdiff GMM model ('format' must be "
                         "\"%s\")", path, GD_GMM_FORMAT);
        goto done;
    }
    if ((s = get_int(path, root, "version", 1, 1 << 30, &version, err))) goto done;
    if (version != GD_GMM_FORMAT_VERSION) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: format version %d; this build reads version %d",
                         path, version, GD_GMM_FORMAT_VERSION);
        goto done;
    }
    v = json_object_get(root, "covariance_type");
    if (!json_is_string(v) || gd_gmm_cov_parse(json_string_value(v), &cov)) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: 'covariance_type' must be full, tied, diag or "
                         "spherical", path);
        goto done;
    }
    if ((s = get_int(path, root, "n_components", 1, GD_GMM_MAX_K, &k, err)) ||
        (s = get_int(path, root, "n_features", 1, GD_GMM_MAX_D, &d, err)))
        goto done;
    if (cov == GD_GMM_COV_FULL && (double)k * d * d > 1e9) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: %d full %dx%d covariances are beyond the limits",
                         path, k, d, d);
        goto done;
    }
    size_t nc = gd_gmm_cov_numel(cov, k, d);
    int dk[1] = {k}, dkd[2] = {k, d}, dkdd[3] = {k, d, d}, ddd[2] = {d, d};
    const int *cdims = cov == GD_GMM_COV_FULL ? dkdd : cov == GD_GMM_COV_TIED ? ddd
                     : cov == GD_GMM_COV_DIAG ? dkd : dk;
    int cnd = cov == GD_GMM_COV_FULL ? 3 : cov == GD_GMM_COV_SPHERICAL ? 1 : 2;
    /* the arrays' shapes are checked before anything is allocated from n_components and
     * n_features: every number must then be in the file, so a short file cannot ask for more
     * than it holds (100000 x 100000 means would be 80 GB) */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            w = malloc(sizeof(double) * k);
            mu = malloc(sizeof(double) * k * d);
            cv = malloc(sizeof(double) * nc);
            if (!w || !mu || !cv) {
                s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
        }
        if ((s = read_array(path, "weights", json_object_get(root, "weights"), dk, 1, w, err)) ||
            (s = read_array(path, "means", json_object_get(root, "means"), dkd, 2, mu, err)) ||
            (s = read_array(path, "covariances", json_object_get(root, "covariances"), cdims, cnd,
                            cv, err)))
            goto done;
    }
    if ((s = gd_gmm_from_params(m, k, d, cov, w, mu, cv, path, err))) goto done;
    v = json_object_get(root, "converged");
    if (v && !json_is_boolean(v)) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: 'converged' must be true or false", path);
        goto done;
    }
    m->converged = v && json_is_true(v);
    if (json_object_get(root, "n_iter") &&
        (s = get_int(path, root, "n_iter", 0, 1 << 30, &m->n_iter, err)))
        goto done;
    const char *nums[2] = {"lower_bound", "reg_covar"};
    double *dst[2] = {&m->lower_bound, &m->reg_covar};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(root, nums[i]);
        if (v && (!json_is_number(v) || !isfinite(json_number_value(v)) ||
                  (i == 1 && json_number_value(v) < 0))) {
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' must be a finite number%s", path,
                             nums[i], i == 1 ? " >= 0" : "");
            goto done;
        }
        if (v) *dst[i] = json_number_value(v);
    }
done:
    if (s) gd_gmm_free(m);
    json_decref(root);
    free(w), free(mu), free(cv);
    return s;
}
