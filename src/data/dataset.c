/* dataset.c - the in-memory data set shared by every reader (see data.h). */
#include "gmmdiff/data.h"

#include <math.h>
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
