/* gmm_matrix.c - data matrices for the GMM commands: CSV (numbers only, checked line by line)
 * and .npy in, CSV or .npy out. */
#include "data/text_file.h"
#include "gmm/gmm_internal.h"
#include "gmmdiff/npy.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_npy(const char *path) {
    size_t l = strlen(path);
    return l >= 4 && !strcasecmp(path + l - 4, ".npy");
}

static gd_status read_npy(const char *path, double **x, int64_t *n, int *d, gd_error *err) {
    gd_npy a = {0};
    gd_status s = gd_npy_read(&a, path, err);
    if (s) return s;
    if (a.ndim < 1 || a.ndim > 2) {
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: expected [n] or [n, d] values, got %d "
                         "dimensions", path, a.ndim);
    } else if (a.shape[0] < 1 || (a.ndim == 2 && (a.shape[1] < 1 || a.shape[1] > GD_GMM_MAX_D))) {
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: empty, or more than %d features", path,
                         GD_GMM_MAX_D);
    } else {
        *n = a.shape[0];
        *d = a.ndim == 2 ? (int)a.shape[1] : 1;
        *x = malloc(sizeof(double) * a.numel);
        if (!*x) s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; !s && i < a.numel; i++) (*x)[i] = a.data[i];
        if (!s) s = gd_gmm_check_finite(*x, *n, *d, path, err);
        if (s) {
            free(*x);
            *x = NULL;
        }
    }
    gd_npy_free(&a);
    return s;
}

static int blank(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    return !*s;
}

static gd_status read_csv(const char *path, double **x, int64_t *n, int *d, gd_error *err) {
    char *text;
    size_t len;
    gd_status s = gd_text_read(path, &text, &len, err);
    if (s) return s;
    double *v = NULL;
    size_t nv = 0, cap = 0;
    int64_t rows = 0;
    int cols = 0, first_line = 0;
    char *p = text, *line;
    for (int ln = 1; (line = gd_text_next_line(&p)) != NULL; ln++) {
        if (blank(line)) continue;
        int f = 0;
        char *q = line;
        for (;;) {
            f++;
            while (*q == ' ' || *q == '\t') q++;
            if (*q == ',' || !*q) {
                s = gd_error_set(err, GD_ERR_FORMAT, "%s: line %d, field %d is empty", path, ln,
                                 f);
                goto done;
            }
            char *end;
            double val = strtod(q, &end);
            char *stop = end;
            while (*stop == ' ' || *stop == '\t') stop++;
            if (end == q || (*stop && *stop != ',')) {
                int w = 0;
                while (q[w] && q[w] != ',' && w < 40) w++;
                s = gd_error_set(err, GD_ERR_FORMAT, "%s: line %d, field %d: '%.*s' is not a "
                                 "number", path, ln, f, w, q);
                goto done;
            }
            if (!isfinite(val)) {
                s = gd_error_set(err, GD_ERR_FORMAT, "%s: line %d, field %d: '%.*s' is not a "
                                 "finite number", path, ln, f, (int)(end - q), q);
                goto done;
            }
            if (nv == cap) {
                size_t nc = cap ? 2 * cap : 1024;
                double *t = realloc(v, sizeof(double) * nc);
                if (!t) {
                    s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
                    goto done;
                }
                v = t;
                cap = nc;
            }
            v[nv++] = val;
            q = stop;
            if (!*q) break;
            q++; /* the comma */
        }
        if (!rows) {
            cols = f;
            first_line = ln;
            if (cols > GD_GMM_MAX_D) {
                s = gd_error_set(err, GD_ERR_FORMAT, "%s: line %d has %d fields, more than %d",
                                 path, ln, f, GD_GMM_MAX_D);
                goto done;
            }
        } else if (f != cols) {
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: line %d has %d field%s, expected %d (as "
                             "line %d)", path, ln, f, f == 1 ? "" : "s", cols, first_line);
            goto done;
        }
        rows++;
    }
    if (!rows) s = gd_error_set(err, GD_ERR_FORMAT, "%s: empty: no rows of numbers", path);
done:
    free(text);
    if (s) {
        free(v);
        return s;
    }
    *x = v;
    *n = rows;
    *d = cols;
    return GD_OK;
}

gd_status gd_gmm_read_matrix(const char *path, double **x, int64_t *n, int *d, gd_error *err) {
    GD_ASSERT(path && x && n && d);
    *x = NULL;
    *n = 0;
    *d = 0;
    return is_npy(path) ? read_npy(path, x, n, d, err) : read_csv(path, x, n, d, err);
}

gd_status gd_gmm_write_matrix(const char *path, const double *x, int64_t n, int d,
                              gd_error *err) {
    GD_ASSERT(path && (x || n == 0) && n >= 0 && d >= 1);
    size_t numel = (size_t)n * d;
    if (is_npy(path)) {
        float *f = malloc(sizeof(float) * (numel ? numel : 1));
        if (!f) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < numel; i++) f[i] = (float)x[i];
        int64_t shape[2] = {n, d};
        gd_status s = gd_npy_write(path, f, 2, shape, err);
        free(f);
        return s;
    }
    size_t cap = numel * 26 + (size_t)n + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            len += (size_t)snprintf(buf + len, cap - len, "%.17g%s", x[i * d + j],
                                    j + 1 < d ? "," : "\n");
    const void *parts[1] = {buf};
    size_t sizes[1] = {len};
    gd_status s = gd_write_file_atomic(path, parts, sizes, 1, err);
    free(buf);
    return s;
}
