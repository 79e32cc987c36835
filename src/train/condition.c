/* condition.c - GMM feature conditioning: components, composition, feature strings, files. */
#include "gmmdiff/condition.h"
#include "gmmdiff/gmm.h"
#include "gmmdiff/safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_status gd_condition_build(gd_condition *c, const gd_dataset *d, int dim, float sigma,
                             int cont_k, uint64_t seed, gd_error *err) {
    memset(c, 0, sizeof *c);
    if (dim < 1 || !(sigma >= 0) || cont_k < 1 || cont_k > GD_COND_MAX_COMPONENTS)
        return gd_error_set(err, GD_ERR_ARG, "feature conditioning: dim %d, sigma %g or %d "
                            "components per continuous attribute out of range (1..%d)", dim,
                            (double)sigma, cont_k, GD_COND_MAX_COMPONENTS);
    if (d->n_attrs < 1)
        return gd_error_set(err, GD_ERR_ARG, "feature conditioning: data set '%s' has no "
                            "attributes", d->name);
    c->dim = dim;
    c->sigma = sigma;
    c->n_attrs = d->n_attrs;
    int row = 0;
    for (int a = 0; a < d->n_attrs; a++) {
        gd_cond_attr *ca = &c->attrs[a];
        const gd_attr *da = &d->attrs[a];
        snprintf(ca->name, sizeof ca->name, "%s", da->name);
        ca->kind = da->kind;
        if (da->kind == GD_ATTR_CATEGORICAL) {
            ca->n = da->n_values;
            for (int v = 0; v < da->n_values; v++)
                snprintf(ca->values[v], GD_DATA_NAME_MAX, "%s", da->values[v]);
            for (int i = 0; i < d->n; i++) {
                int v = d->labels[(size_t)i * (size_t)d->n_attrs + (size_t)a];
                if (v >= 0 && v < ca->n) ca->freq[v] += 1.0 / d->n;
            }
        } else {
            gd_gmm m = {0};
            gd_gmm_options o;
            gd_gmm_options_default(&o);
            o.k = cont_k;
            o.n_init = 3;
            o.seed = seed + (uint64_t)a;
            gd_status s = gd_gmm_fit_1d(&m, d->cont + a, d->n, d->n_attrs, &o, err);
            if (s) {
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                return gd_error_set(err, s, "feature conditioning: the 1-D GMM of '%s': %s",
                                    da->name, msg);
            }
            ca->n = m.k;
            /* components in increasing order of their means, so rows read low to high */
            int ord[GD_COND_MAX_COMPONENTS];
            for (int k = 0; k < m.k; k++) ord[k] = k;
            for (int i = 1; i < m.k; i++)
                for (int j = i; j > 0 && m.means[ord[j]] < m.means[ord[j - 1]]; j--) {
                    int x = ord[j];
                    ord[j] = ord[j - 1];
                    ord[j - 1] = x;
                }
            for (int k = 0; k < m.k; k++) {
                ca->freq[k] = m.weights[ord[k]];
                ca->mean[k] = m.means[ord[k]];
                ca->var[k] = m.covariances[ord[k]];
                snprintf(ca->values[k], GD_DATA_NAME_MAX, "c%d", k);
            }
            gd_gmm_free(&m);
        }
        ca->row0 = row;
        row += ca->n;
    }
    for (int a = 0; a < c->n_attrs; a++) c->attrs[a].null_row = row++;
    c->rows = row;
    return GD_OK;
}

void gd_condition_init_means(const gd_condition *c, float *means, gd_rng *rng) {
    gd_rng_fill_normal(rng, means, (size_t)c->rows * (size_t)c->dim, 0.0f,
                       1.0f / sqrtf((float)c->n_attrs));
}

int gd_condition_cont_row(const gd_condition *c, int a, double v, double u) {
    const gd_cond_attr *ca = &c->attrs[a];
    double lp[GD_COND_MAX_COMPONENTS], mx = -INFINITY;
    for (int k = 0; k < ca->n; k++) {
        double z = v - ca->mean[k];
        lp[k] = log(ca->freq[k] > 0 ? ca->freq[k] : 1e-300) - 0.5 * log(6.283185307179586 * ca->var[k]) -
                0.5 * z * z / ca->var[k];
        if (lp[k] > mx) mx = lp[k];
    }
    int best = 0;
    for (int k = 1; k < ca->n; k++)
        if (lp[k] > lp[best]) best = k;
    if (u < 0 || !isfinite(mx)) return ca->row0 + best;
    double sum = 0;
    for (int k = 0; k < ca->n; k++) sum += exp(lp[k] - mx);
    double acc = 0;
    for (int k = 0; k < ca->n; k++) {
        acc += exp(lp[k] - mx) / sum;
        if (u < acc) return ca->row0 + k;
    }
    return ca->row0 + ca->n - 1;
}

gd_status gd_condition_bind(const gd_condition *c, const gd_dataset *d, int *attr_map,
                            gd_error *err) {
    for (int a = 0; a < c->n_attrs; a++) {
        int j = gd_dataset_attr_index(d, c->attrs[a].name);
        if (j < 0 || d->attrs[j].kind != c->attrs[a].kind ||
            (c->attrs[a].kind == GD_ATTR_CATEGORICAL && d->attrs[j].n_values != c->attrs[a].n))
            return gd_error_set(err, GD_ERR_ARG, "feature conditioning: data set '%s' has no "
                                "attribute '%s' of the same kind and values", d->name,
                                c->attrs[a].name);
        attr_map[a] = j;
    }
    return GD_OK;
}

void gd_condition_item_rows(const gd_condition *c, const gd_dataset *d, const int *attr_map,
                            int i, gd_rng *rng, int *rows) {
    for (int a = 0; a < c->n_attrs; a++) {
        size_t at = (size_t)i * (size_t)d->n_attrs + (size_t)attr_map[a];
        if (c->attrs[a].kind == GD_ATTR_CATEGORICAL) {
            int v = d->labels[at];
            rows[a] = v >= 0 && v < c->attrs[a].n ? c->attrs[a].row0 + v : c->attrs[a].null_row;
        } else {
            double u = rng ? gd_rng_uniform(rng) : -1.0;
            float v = d->cont[at];
            rows[a] = isfinite(v) ? gd_condition_cont_row(c, a, v, u) : c->attrs[a].null_row;
        }
    }
}

void gd_condition_compose(const gd_condition *c, const float *means, const int *rows,
                          gd_rng *rng, float *out) {
    memset(out, 0, sizeof(float) * (size_t)c->dim);
    for (int a = 0; a < c->n_attrs; a++) {
        GD_ASSERT(rows[a] >= 0 && rows[a] < c->rows);
        const float *mu = means + (size_t)rows[a] * (size_t)c->dim;
        for (int j = 0; j < c->dim; j++) out[j] += mu[j];
        if (rng && c->sigma > 0)
            for (int j = 0; j < c->dim; j++) out[j] += c->sigma * (float)gd_rng_normal(rng);
    }
}

void gd_condition_backward(const gd_condition *c, const int *rows, int n, const float *grad_c,
                           float *grad_means) {
    int A = c->n_attrs, D = c->dim;
    memset(grad_means, 0, sizeof(float) * (size_t)c->rows * (size_t)D);
    for (int i = 0; i < n; i++)
        for (int a = 0; a < A; a++) {
            int r = rows[(size_t)i * (size_t)A + (size_t)a];
            GD_ASSERT(r >= 0 && r < c->rows);
            float *gm = grad_means + (size_t)r * (size_t)D;
            const float *g = grad_c + (size_t)i * (size_t)D;
            for (int j = 0; j < D; j++) gm[j] += g[j];
        }
}

void gd_condition_null(const gd_condition *c, const float *means, float *out) {
    int rows[GD_DATA_MAX_ATTRS];
    for (int a = 0; a < c->n_attrs; a++) rows[a] = c->attrs[a].null_row;
    gd_condition_compose(c, means, rows, NULL, out);
}

gd_status gd_condition_parse_features(const gd_condition *c, const char *spec, int *rows,
                                      gd_error *err) {
    for (int a = 0; a < c->n_attrs; a++) rows[a] = -1;
    char buf[4096];
    if (strlen(spec) >= sizeof buf)
        return gd_error_set(err, GD_ERR_ARG, "--features: the list is too long");
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1])
            return gd_error_set(err, GD_ERR_ARG, "--features: '%s' is not attribute=value", tok);
        *eq = 0;
        const char *val = eq + 1;
        int a = 0;
        while (a < c->n_attrs && strcmp(c->attrs[a].name, tok)) a++;
        if (a == c->n_attrs) {
            char names[1024] = "";
            for (int b = 0; b < c->n_attrs; b++) {
                size_t l = strlen(names);
                snprintf(names + l, sizeof names - l, "%s%s", b ? ", " : "", c->attrs[b].name);
            }
            return gd_error_set(err, GD_ERR_ARG, "--features: no attribute '%s' (the model "
                                "knows %s)", tok, names);
        }
        if (rows[a] >= 0)
            return gd_error_set(err, GD_ERR_ARG, "--features: '%s' is given twice", tok);
        const gd_cond_attr *ca = &c->attrs[a];
        if (ca->kind == GD_ATTR_CATEGORICAL) {
            int v = 0;
            while (v < ca->n && strcmp(ca->values[v], val)) v++;
            if (v == ca->n) {
                char names[2048] = "";
                for (int w = 0; w < ca->n; w++) {
                    size_t l = strlen(names);
                    snprintf(names + l, sizeof names - l, "%s%s", w ? ", " : "", ca->values[w]);
                }
                return gd_error_set(err, GD_ERR_ARG, "--features: '%s' is not a value of '%s' "
                                    "(%s)", val, tok, names);
            }
            rows[a] = ca->row0 + v;
        } else {
            char *end;
            double x = strtod(val, &end);
            if (*end || end == val || !isfinite(x))
                return gd_error_set(err, GD_ERR_ARG, "--features: '%s' = '%s' is not a finite "
                                    "number", tok, val);
            rows[a] = gd_condition_cont_row(c, a, x, -1.0);
        }
    }
    return GD_OK;
}

void gd_condition_fill_rows(const gd_condition *c, int *rows, gd_rng *rng) {
    for (int a = 0; a < c->n_attrs; a++) {
        if (rows[a] >= 0) continue;
        const gd_cond_attr *ca = &c->attrs[a];
        double u = gd_rng_uniform(rng), acc = 0, tot = 0;
        for (int k = 0; k < ca->n; k++) tot += ca->freq[k];
        rows[a] = ca->row0 + ca->n - 1;
        for (int k = 0; k < ca->n; k++) {
            acc += ca->freq[k] / (tot > 0 ? tot : 1);
            if (u < acc) {
                rows[a] = ca->row0 + k;
                break;
            }
        }
    }
}

/* ---- files ---- */

gd_status gd_condition_save(const gd_condition *c, const float *means, const char *dir,
                            gd_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/condition.safetensors", dir);
    int64_t shape[2] = {c->rows, c->dim};
    gd_st_entry e = {"means", means, 2, shape};
    gd_status s = gd_st_write(path, &e, 1, err);
    if (s) return s;
    json_t *o = json_object(), *attrs = json_array();
    json_object_set_new(o, "format", json_string("gmmdiff-condition"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "mode", json_string("feature"));
    json_object_set_new(o, "dim", json_integer(c->dim));
    char sg[32];
    snprintf(sg, sizeof sg, "%.7g", (double)c->sigma); /* the float's short decimal form */
    json_object_set_new(o, "sigma", json_real(strtod(sg, NULL)));
    json_object_set_new(o, "rows", json_integer(c->rows));
    for (int a = 0; a < c->n_attrs; a++) {
        const gd_cond_attr *ca = &c->attrs[a];
        json_t *j = json_object(), *vals = json_array(), *freq = json_array();
        json_object_set_new(j, "name", json_string(ca->name));
        json_object_set_new(j, "kind", json_string(ca->kind == GD_ATTR_CATEGORICAL ? "categorical"
                                                                                  : "continuous"));
        json_object_set_new(j, "row0", json_integer(ca->row0));
        json_object_set_new(j, "null_row", json_integer(ca->null_row));
        for (int k = 0; k < ca->n; k++) {
            json_array_append_new(vals, json_string(ca->values[k]));
            json_array_append_new(freq, json_real(ca->freq[k]));
        }
        json_object_set_new(j, "values", vals);
        json_object_set_new(j, ca->kind == GD_ATTR_CATEGORICAL ? "frequencies" : "weights", freq);
        if (ca->kind == GD_ATTR_CONTINUOUS) {
            json_t *mu = json_array(), *var = json_array();
            for (int k = 0; k < ca->n; k++) {
                json_array_append_new(mu, json_real(ca->mean[k]));
                json_array_append_new(var, json_real(ca->var[k]));
            }
            json_object_set_new(j, "means", mu);
            json_object_set_new(j, "variances", var);
        }
        json_array_append_new(attrs, j);
    }
    json_object_set_new(o, "attributes", attrs);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(o);
    snprintf(path, sizeof path, "%s/condition.json", dir);
    s = gd_write_text_atomic(path, text, err);
    free(text);
    return s;
}

static int jint(json_t *o, const char *key, int lo, int hi, int *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) return 0;
    *out = (int)json_integer_value(v);
    return 1;
}

static int jreals(json_t *arr, int n, double lo, double *out) {
    if (!json_is_array(arr) || (int)json_array_size(arr) != n) return 0;
    for (int k = 0; k < n; k++) {
        json_t *v = json_array_get(arr, (size_t)k);
        if (!json_is_number(v)) return 0;
        out[k] = json_number_value(v);
        if (!isfinite(out[k]) || out[k] < lo) return 0;
    }
    return 1;
}

gd_status gd_condition_load(gd_condition *c, float **means, const char *dir, gd_error *err) {
    char path[4200];
    *means = NULL;
    memset(c, 0, sizeof *c);
    snprintf(path, sizeof path, "%s/condition.json", dir);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: not valid JSON (line %d: %s)", path, je.line,
                            je.text);
    gd_status s = GD_OK;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        s = gd_error_set(err, GD_ERR_FORMAT, __VA_ARGS__);                                         \
        goto done;                                                                                 \
    } while (0)
    json_t *fmt = json_object_get(o, "format"), *attrs = json_object_get(o, "attributes");
    int version;
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "gmmdiff-condition"))
        BAD("%s: not a gmmdiff condition file", path);
    if (!jint(o, "version", 1, 1, &version)) BAD("%s: unsupported version (expected 1)", path);
    if (!jint(o, "dim", 1, 1 << 20, &c->dim)) BAD("%s: dim must be a positive integer", path);
    if (!jint(o, "rows", 1, 1 << 20, &c->rows)) BAD("%s: rows must be a positive integer", path);
    json_t *sg = json_object_get(o, "sigma");
    if (!json_is_number(sg) || !(json_number_value(sg) >= 0) || !isfinite(json_number_value(sg)))
        BAD("%s: sigma must be a non-negative number", path);
    c->sigma = (float)json_number_value(sg);
    if (!json_is_array(attrs) || json_array_size(attrs) < 1 ||
        json_array_size(attrs) > GD_DATA_MAX_ATTRS)
        BAD("%s: attributes must be a list of 1 to %d attributes", path, GD_DATA_MAX_ATTRS);
    c->n_attrs = (int)json_array_size(attrs);
    int used = 0;
    for (int a = 0; a < c->n_attrs; a++) {
        gd_cond_attr *ca = &c->attrs[a];
        json_t *j = json_array_get(attrs, (size_t)a), *name = json_object_get(j, "name");
        json_t *kind = json_object_get(j, "kind"), *vals = json_object_get(j, "values");
        if (!json_is_string(name) || strlen(json_string_value(name)) >= GD_DATA_NAME_MAX)
            BAD("%s: attributes[%d].name must be a short string", path, a);
        snprintf(ca->name, sizeof ca->name, "%s", json_string_value(name));
        if (!json_is_string(kind) || (strcmp(json_string_value(kind), "categorical") &&
                                      strcmp(json_string_value(kind), "continuous")))
            BAD("%s: attribute '%s': kind must be categorical or continuous", path, ca->name);
        ca->kind = strcmp(json_string_value(kind), "categorical") ? GD_ATTR_CONTINUOUS
                                                                 : GD_ATTR_CATEGORICAL;
        int maxn = ca->kind == GD_ATTR_CATEGORICAL ? GD_DATA_MAX_VALUES : GD_COND_MAX_COMPONENTS;
        if (!json_is_array(vals) || json_array_size(vals) < 1 || (int)json_array_size(vals) > maxn)
            BAD("%s: attribute '%s': values must be a list of 1 to %d names", path, ca->name, maxn);
        ca->n = (int)json_array_size(vals);
        for (int k = 0; k < ca->n; k++) {
            json_t *v = json_array_get(vals, (size_t)k);
            if (!json_is_string(v) || strlen(json_string_value(v)) >= GD_DATA_NAME_MAX)
                BAD("%s: attribute '%s': values[%d] must be a short string", path, ca->name, k);
            snprintf(ca->values[k], GD_DATA_NAME_MAX, "%s", json_string_value(v));
        }
        if (!jint(j, "row0", 0, c->rows - ca->n, &ca->row0) ||
            !jint(j, "null_row", 0, c->rows - 1, &ca->null_row))
            BAD("%s: attribute '%s': row0 or null_row outside the %d rows", path, ca->name,
                c->rows);
        used += ca->n + 1;
        if (ca->kind == GD_ATTR_CATEGORICAL) {
            if (!jreals(json_object_get(j, "frequencies"), ca->n, 0, ca->freq))
                BAD("%s: attribute '%s': frequencies must be %d non-negative numbers", path,
                    ca->name, ca->n);
        } else if (!jreals(json_object_get(j, "weights"), ca->n, 0, ca->freq) ||
                   !jreals(json_object_get(j, "means"), ca->n, -INFINITY, ca->mean) ||
                   !jreals(json_object_get(j, "variances"), ca->n, 1e-300, ca->var)) {
            BAD("%s: attribute '%s': weights, means and variances must be %d finite numbers "
                "(weights >= 0, variances > 0)", path, ca->name, ca->n);
        }
    }
    if (used != c->rows)
        BAD("%s: the attributes own %d rows, the file says %d", path, used, c->rows);
#undef BAD
done:
    json_decref(o);
    if (s) return s;
    snprintf(path, sizeof path, "%s/condition.safetensors", dir);
    gd_safetensors st;
    if ((s = gd_st_open(&st, path, err))) return s;
    /* allocated only once the file holds the tensor: rows and dim from the JSON alone could ask
     * for 13 GB; a missing tensor or another shape fails in gd_st_read_f32 before it writes */
    int64_t shape[2] = {c->rows, c->dim};
    const gd_st_tensor *t = gd_st_find(&st, "means");
    int fits = t && t->ndim == 2 && t->shape[0] == shape[0] && t->shape[1] == shape[1];
    float none, *m = fits ? malloc(sizeof(float) * (size_t)c->rows * (size_t)c->dim) : NULL;
    if (fits && !m) {
        gd_st_close(&st);
        return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    }
    s = gd_st_read_f32(&st, "means", fits ? m : &none, 2, shape, err);
    gd_st_close(&st);
    for (size_t i = 0; !s && i < (size_t)c->rows * (size_t)c->dim; i++)
        if (!isfinite(m[i]))
            s = gd_error_set(err, GD_ERR_NUMERIC, "%s: 'means' has a non-finite value", path);
    if (s) {
        free(m);
        return s;
    }
    *means = m;
    return GD_OK;
}
