/* folder.c - a folder of PNG images described by an attributes CSV (see readers.h).
 *
 * The CSV is read whole and cut in place: each data row's fields, trimmed, are packed at the
 * start of its line as consecutive NUL-terminated strings, so later passes walk them with
 * strlen. Pass 1 checks the rows; pass 2 types each column and names categorical values; pass 3
 * reads the PNGs, the first one fixing the image size. */
#include "gmmdiff/readers.h"

#include "gmmdiff/image.h"
#include "data/text_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLDER_PATH_MAX 4200

typedef struct {
    const char *csv;   /* the CSV's path, for messages */
    int ncol;          /* columns, file included */
    int n;             /* data rows */
    char **row;        /* [n] packed fields of each row */
    int *line;         /* [n] 1-based line number of each row */
    char *col_name[GD_DATA_MAX_ATTRS + 2]; /* [ncol] header names (in the CSV text) */
    int class_col;     /* index of the `class` column, or -1 */
    int attr_col[GD_DATA_MAX_ATTRS]; /* CSV column of each attribute */
    int n_attrs;
    gd_attr *attrs;    /* [n_attrs] */
} folder_csv;

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
    return 1;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t')) s[--l] = '\0';
    return s;
}

/* splits line at commas into at most max trimmed fields; returns the field count (max + 1 when
 * there are more) */
static int split(char *line, char **f, int max) {
    int k = 0;
    for (char *p = line;;) {
        char *c = strchr(p, ',');
        if (c) *c = '\0';
        if (k < max) f[k] = trim(p);
        k++;
        if (!c || k > max) return k;
        p = c + 1;
    }
}

/* the next packed field after f */
static const char *next_field(const char *f) { return f + strlen(f) + 1; }

static int parse_number(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == '\0';
}

/* reads the header and packs every data row (pass 1) */
static gd_status csv_rows(folder_csv *t, char *text, gd_error *err) {
    char *p = text, *l, *f[GD_DATA_MAX_ATTRS + 2];
    int ln = 0, cap = 0;
    const int maxcol = GD_DATA_MAX_ATTRS + 2;
    while ((l = gd_text_next_line(&p)) && (++ln, is_blank(l))) {}
    if (!l) return gd_error_set(err, GD_ERR_FORMAT, "%s: empty: no header row", t->csv);
    if (strchr(l, '"'))
        return gd_error_set(err, GD_ERR_FORMAT,
                            "%s line %d: quoted fields are not supported", t->csv, ln);
    t->ncol = split(l, f, maxcol);
    if (t->ncol > maxcol)
        return gd_error_set(err, GD_ERR_FORMAT, "%s line %d: more than %d attribute columns",
                            t->csv, ln, GD_DATA_MAX_ATTRS);
    if (strcmp(f[0], "file") != 0)
        return gd_error_set(err, GD_ERR_FORMAT,
                            "%s line %d: the header's first column is '%s', expected 'file'",
                            t->csv, ln, f[0]);
    t->class_col = -1;
    memcpy(t->col_name, f, sizeof(char *) * (size_t)t->ncol);
    for (int j = 1; j < t->ncol; j++) {
        if (!*f[j] || strlen(f[j]) >= GD_DATA_NAME_MAX)
            return gd_error_set(err, GD_ERR_FORMAT,
                                "%s line %d: column %d's name is empty or longer than %d", t->csv,
                                ln, j + 1, GD_DATA_NAME_MAX - 1);
        for (int k = 0; k < j; k++)
            if (!strcmp(f[k], f[j]))
                return gd_error_set(err, GD_ERR_FORMAT, "%s line %d: column '%s' appears twice",
                                    t->csv, ln, f[j]);
        if (!strcmp(f[j], "class")) {
            t->class_col = j;
        } else {
            if (t->n_attrs == GD_DATA_MAX_ATTRS)
                return gd_error_set(err, GD_ERR_FORMAT, "%s line %d: more than %d attributes",
                                    t->csv, ln, GD_DATA_MAX_ATTRS);
            t->attr_col[t->n_attrs] = j;
            snprintf(t->attrs[t->n_attrs++].name, GD_DATA_NAME_MAX, "%s", f[j]);
        }
    }
    while ((l = gd_text_next_line(&p))) {
        ln++;
        if (is_blank(l)) continue;
        if (strchr(l, '"'))
            return gd_error_set(err, GD_ERR_FORMAT,
                                "%s line %d: quoted fields are not supported", t->csv, ln);
        int k = split(l, f, t->ncol);
        if (k != t->ncol)
            return gd_error_set(err, GD_ERR_FORMAT, "%s line %d: %s%d fields, the header has %d",
                                t->csv, ln, k > t->ncol ? "more than " : "", k > t->ncol ? t->ncol : k,
                                t->ncol);
        char *q = l;
        for (int j = 0; j < k; j++) {
            if (!*f[j])
                return gd_error_set(err, GD_ERR_FORMAT, "%s line %d: empty value in column '%s'",
                                    t->csv, ln, t->col_name[j]);
            size_t len = strlen(f[j]);
            memmove(q, f[j], len + 1);
            q += len + 1;
        }
        if (t->n == GD_READER_MAX_ITEMS)
            return gd_error_set(err, GD_ERR_NOMEM, "%s line %d: more than %d rows, the limit",
                                t->csv, ln, GD_READER_MAX_ITEMS);
        if (t->n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **r = realloc(t->row, sizeof(char *) * (size_t)cap);
            if (r) t->row = r;
            int *li = realloc(t->line, sizeof(int) * (size_t)cap);
            if (li) t->line = li;
            if (!r || !li) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", t->csv);
        }
        t->row[t->n] = l;
        t->line[t->n++] = ln;
    }
    if (!t->n) return gd_error_set(err, GD_ERR_FORMAT, "%s: no data rows after the header", t->csv);
    return GD_OK;
}

/* the packed field of column j in row i */
static const char *cell(const folder_csv *t, int i, int j) {
    const char *f = t->row[i];
    while (j--) f = next_field(f);
    return f;
}

/* types each attribute column, names categorical values and checks the class column (pass 2) */
static gd_status csv_columns(folder_csv *t, gd_error *err) {
    for (int a = 0; a < t->n_attrs; a++) {
        gd_attr *at = &t->attrs[a];
        int j = t->attr_col[a], numeric = 1;
        double v;
        for (int i = 0; i < t->n && numeric; i++) numeric = parse_number(cell(t, i, j), &v);
        at->kind = numeric ? GD_ATTR_CONTINUOUS : GD_ATTR_CATEGORICAL;
        for (int i = 0; i < t->n; i++) {
            const char *s = cell(t, i, j);
            if (numeric) {
                parse_number(s, &v);
                if (!isfinite(v) || !isfinite((float)v))
                    return gd_error_set(err, GD_ERR_NUMERIC,
                                        "%s line %d: '%s' in numeric column '%s' is not a finite "
                                        "number", t->csv, t->line[i], s, at->name);
            } else if (gd_attr_value_index(at, s) < 0) {
                if (strlen(s) >= GD_DATA_NAME_MAX)
                    return gd_error_set(err, GD_ERR_FORMAT,
                                        "%s line %d: value '%.60s' of column '%s' is longer than %d",
                                        t->csv, t->line[i], s, at->name, GD_DATA_NAME_MAX - 1);
                if (at->n_values == GD_DATA_MAX_VALUES)
                    return gd_error_set(err, GD_ERR_FORMAT,
                                        "%s line %d: column '%s' has more than %d distinct values",
                                        t->csv, t->line[i], at->name, GD_DATA_MAX_VALUES);
                snprintf(at->values[at->n_values++], GD_DATA_NAME_MAX, "%s", s);
            }
        }
    }
    for (int i = 0; t->class_col >= 0 && i < t->n; i++) {
        const char *s = cell(t, i, t->class_col);
        char *end;
        long c = strtol(s, &end, 10);
        if (*end || c < 0 || c >= GD_FOLDER_MAX_CLASSES)
            return gd_error_set(err, GD_ERR_FORMAT,
                                "%s line %d: class '%s' is not an integer in [0, %d)", t->csv,
                                t->line[i], s, GD_FOLDER_MAX_CLASSES);
    }
    return GD_OK;
}

/* attribute values and class of every row into d (d's attrs already set) */
static void fill_attrs(gd_dataset *d, const folder_csv *t) {
    long combos = 1;
    for (int a = 0; a < t->n_attrs; a++)
        if (t->attrs[a].kind == GD_ATTR_CATEGORICAL && combos <= GD_FOLDER_MAX_CLASSES)
            combos *= t->attrs[a].n_values;
    int use_combo = t->class_col < 0 && combos <= GD_FOLDER_MAX_CLASSES;
    d->n_classes = use_combo ? (int)combos : 1;
    for (int i = 0; i < t->n; i++) {
        int combo = 0;
        for (int a = 0; a < t->n_attrs; a++) {
            const char *s = cell(t, i, t->attr_col[a]);
            size_t k = (size_t)i * t->n_attrs + a;
            if (t->attrs[a].kind == GD_ATTR_CONTINUOUS) {
                d->cont[k] = (float)strtod(s, NULL);
            } else {
                d->labels[k] = gd_attr_value_index(&t->attrs[a], s);
                combo = combo * t->attrs[a].n_values + d->labels[k];
            }
        }
        if (t->class_col >= 0) {
            d->cls[i] = (int)strtol(cell(t, i, t->class_col), NULL, 10);
            if (d->cls[i] >= d->n_classes) d->n_classes = d->cls[i] + 1;
        } else {
            d->cls[i] = use_combo ? combo : 0;
        }
    }
}

/* reads row i's PNG; the first allocates d, later ones must match its size (pass 3) */
static gd_status load_image(gd_dataset *d, const folder_csv *t, const char *dir, int i,
                            int channels, char *first, gd_error *err) {
    char path[FOLDER_PATH_MAX];
    float *px = NULL;
    int h = 0, w = 0;
    gd_status s = gd_path_join(path, sizeof path, dir, t->row[i], err);
    if (!s) s = gd_png_read(path, channels, &px, &h, &w, err);
    if (s) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err ? err->msg : "");
        return gd_error_set(err, s, "%s (listed at %s line %d)", m, t->csv, t->line[i]);
    }
    if (i == 0) {
        if ((size_t)t->n * channels * h * w > GD_READER_MAX_FLOATS) {
            free(px);
            return gd_error_set(err, GD_ERR_NOMEM,
                                "%s: %d images of %dx%d (from %s) are beyond the limit of %zu "
                                "floats", t->csv, t->n, h, w, path, GD_READER_MAX_FLOATS);
        }
        if ((s = gd_dataset_alloc(d, t->n, channels, h, w, t->n_attrs, err))) {
            free(px);
            return s;
        }
        snprintf(first, FOLDER_PATH_MAX, "%s", path);
    } else if (h != d->h || w != d->w) {
        free(px);
        return gd_error_set(err, GD_ERR_SHAPE,
                            "%s: image is %dx%d (height x width), but the first, %s, is %dx%d "
                            "(listed at %s line %d)", path, h, w, first, d->h, d->w, t->csv,
                            t->line[i]);
    }
    memcpy(d->images + (size_t)i * channels * h * w, px, sizeof(float) * (size_t)channels * h * w);
    free(px);
    return GD_OK;
}

gd_status gd_folder_load(gd_dataset *d, const char *dir, const char *csv, int channels,
                         gd_error *err) {
    GD_ASSERT(d && dir);
    memset(d, 0, sizeof *d);
    if (channels != 1 && channels != 3)
        return gd_error_set(err, GD_ERR_ARG, "%s: channels must be 1 or 3, not %d", dir, channels);
    char csv_path[FOLDER_PATH_MAX], *text = NULL, *first = NULL;
    folder_csv t = {0};
    gd_status s = GD_OK;
    size_t len;
    if (!csv) {
        if ((s = gd_path_join(csv_path, sizeof csv_path, dir, "attributes.csv", err))) return s;
        csv = csv_path;
    }
    t.csv = csv;
    t.attrs = calloc(GD_DATA_MAX_ATTRS, sizeof *t.attrs);
    first = malloc(FOLDER_PATH_MAX);
    if (!t.attrs || !first) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", csv);
        goto done;
    }
    if ((s = gd_text_read(csv, &text, &len, err))) goto done;
    if ((s = csv_rows(&t, text, err))) goto done;
    if ((s = csv_columns(&t, err))) goto done;
    for (int i = 0; i < t.n && !s; i++) s = load_image(d, &t, dir, i, channels, first, err);
    if (s) goto done;
    snprintf(d->name, sizeof d->name, "folder");
    memcpy(d->attrs, t.attrs, sizeof *t.attrs * (size_t)t.n_attrs);
    fill_attrs(d, &t);
done:
    if (s) {
        gd_dataset_free(d);
        memset(d, 0, sizeof *d);
    }
    free(text);
    free(first);
    free(t.attrs);
    free(t.row);
    free(t.line);
    return s;
}
