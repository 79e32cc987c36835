/* dataset.c - the in-memory data set shared by every reader (see data.h). */
#include "gmmdiff/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_status gd_dataset_alloc(gd_dataset *d, int n, int c, int h, int w, int n_attrs,
                           gd_error *err) {
    GD_ASSERT(d && n > 0 && c > 0 && h > 0 && w > 0 && n_attrs >= 0 &&
              n_attrs <= GD_DATA_MAX_ATTRS);
    memset(d, 0, sizeof *d);
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    d->n_attrs = n_attrs;
    size_t pix = (size_t)n * c * h * w, na = (size_t)n * (n_attrs ? n_attrs : 1);
    d->images = calloc(pix, sizeof(float));
    d->labels = malloc(na * sizeof(int));
    d->cont = malloc(na * sizeof(float));
    d->cls = calloc((size_t)n, sizeof(int));
    if (!d->images || !d->labels || !d->cont || !d->cls) {
        gd_dataset_free(d);
        return gd_error_set(err, GD_ERR_NOMEM, "data set of %d images %dx%dx%d: out of memory",
                            n, c, h, w);
    }
    for (size_t i = 0; i < na; i++) {
        d->labels[i] = -1;
        d->cont[i] = NAN;
    }
    return GD_OK;
}

void gd_dataset_free(gd_dataset *d) {
    if (!d) return;
    free(d->images);
    free(d->labels);
    free(d->cont);
    free(d->cls);
    d->images = NULL;
    d->labels = NULL;
    d->cont = NULL;
    d->cls = NULL;
    d->n = 0;
}

int gd_dataset_attr_index(const gd_dataset *d, const char *name) {
    for (int i = 0; i < d->n_attrs; i++)
        if (!strcmp(d->attrs[i].name, name)) return i;
    return -1;
}

int gd_attr_value_index(const gd_attr *a, const char *value) {
    for (int i = 0; i < a->n_values; i++)
        if (!strcmp(a->values[i], value)) return i;
    return -1;
}

void gd_dataset_class_firsts(const gd_dataset *d, int *first) {
    for (int k = 0; k < d->n_classes; k++) first[k] = -1;
    for (int i = 0; i < d->n; i++)
        if (first[d->cls[i]] < 0) first[d->cls[i]] = i;
}

gd_status gd_dataset_single_attribute(gd_dataset *d, const char *name, int n_values,
                                      char (*values)[GD_DATA_NAME_MAX], const int *value,
                                      gd_error *err) {
    if (n_values < 1 || n_values > GD_DATA_MAX_VALUES)
        return gd_error_set(err, GD_ERR_ARG, "attribute '%s': %d values (at most %d)", name,
                            n_values, GD_DATA_MAX_VALUES);
    int *labels = malloc(sizeof(int) * (size_t)d->n);
    float *cont = malloc(sizeof(float) * (size_t)d->n);
    if (!labels || !cont) {
        free(labels);
        free(cont);
        return gd_error_set(err, GD_ERR_NOMEM, "data set: out of memory");
    }
    for (int i = 0; i < d->n; i++) {
        GD_ASSERT(value[i] >= 0 && value[i] < n_values);
        labels[i] = value[i];
        cont[i] = NAN;
    }
    for (int i = 0; i < d->n; i++) d->cls[i] = labels[i];
    free(d->labels);
    free(d->cont);
    d->labels = labels;
    d->cont = cont;
    d->n_attrs = 1;
    gd_attr a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", name);
    a.kind = GD_ATTR_CATEGORICAL;
    a.n_values = n_values;
    for (int k = 0; k < n_values; k++) memcpy(a.values[k], values[k], GD_DATA_NAME_MAX);
    memset(d->attrs, 0, sizeof d->attrs);
    d->attrs[0] = a;
    d->n_classes = n_values;
    return GD_OK;
}

gd_status gd_dataset_class_attribute(gd_dataset *d, gd_error *err) {
    if (d->n_classes < 1 || d->n_classes > GD_DATA_MAX_VALUES)
        return gd_error_set(err, GD_ERR_ARG, "%s: %d classes; class components (--cond class "
                            "--cond-sigma > 0) allow at most %d", d->name, d->n_classes,
                            GD_DATA_MAX_VALUES);
    char (*names)[GD_DATA_NAME_MAX] = calloc((size_t)d->n_classes, GD_DATA_NAME_MAX);
    int *first = malloc(sizeof(int) * (size_t)d->n_classes);
    if (!names || !first) {
        free(names);
        free(first);
        return gd_error_set(err, GD_ERR_NOMEM, "data set: out of memory");
    }
    /* a class's name: its categorical values joined by '+', when every class gets a distinct
     * name that fits, else its number. The values: the mixed-radix digits of the class (first
     * attribute most significant) when every item's class is that combination (so classes
     * without items are named too, as shapes' held-out ones), else its first item's values */
    gd_dataset_class_firsts(d, first);
    int radix = 1;
    for (int a = 0; a < d->n_attrs; a++)
        if (d->attrs[a].kind == GD_ATTR_CATEGORICAL) radix *= d->attrs[a].n_values;
    for (int i = 0; i < d->n && radix == d->n_classes; i++) {
        int k = 0;
        for (int a = 0; a < d->n_attrs; a++)
            if (d->attrs[a].kind == GD_ATTR_CATEGORICAL)
                k = k * d->attrs[a].n_values + d->labels[(size_t)i * d->n_attrs + a];
        if (k != d->cls[i]) radix = -1;
    }
    int named = 1;
    for (int k = 0; k < d->n_classes && named; k++) {
        char *s = names[k];
        size_t len = 0;
        int digits[GD_DATA_MAX_ATTRS], rest = k;
        for (int a = d->n_attrs - 1; a >= 0; a--)
            if (d->attrs[a].kind == GD_ATTR_CATEGORICAL) {
                digits[a] = rest % d->attrs[a].n_values;
                rest /= d->attrs[a].n_values;
            }
        const int mixed = radix == d->n_classes;
        for (int a = 0; a < d->n_attrs && (mixed || first[k] >= 0); a++) {
            if (d->attrs[a].kind != GD_ATTR_CATEGORICAL) continue;
            int v = mixed ? digits[a] : d->labels[(size_t)first[k] * d->n_attrs + a];
            const char *vn = v >= 0 ? d->attrs[a].values[v] : "?";
            size_t need = strlen(vn) + (len ? 1 : 0);
            if (len + need >= GD_DATA_NAME_MAX) {
                named = 0;
                break;
            }
            len += (size_t)snprintf(s + len, GD_DATA_NAME_MAX - len, "%s%s", len ? "+" : "", vn);
        }
        if (!len) named = 0;
        for (int j = 0; j < k && named; j++) named = strcmp(names[j], s) != 0;
    }
    if (!named)
        for (int k = 0; k < d->n_classes; k++) snprintf(names[k], GD_DATA_NAME_MAX, "%d", k);
    int n_classes = d->n_classes;
    int *cls = malloc(sizeof(int) * (size_t)d->n);
    gd_status s = GD_OK;
    if (!cls) s = gd_error_set(err, GD_ERR_NOMEM, "data set: out of memory");
    else {
        memcpy(cls, d->cls, sizeof(int) * (size_t)d->n);
        s = gd_dataset_single_attribute(d, "class", n_classes, names, cls, err);
    }
    free(cls);
    free(names);
    free(first);
    return s;
}
