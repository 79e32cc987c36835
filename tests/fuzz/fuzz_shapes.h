/* fuzz_shapes.h - the small data set the harnesses that need a real model build at start-up:
 * the shapes data (four categorical attributes) at 16x16, plus "ink", a continuous attribute
 * measured from each image, so that conditions built from it have both kinds of attribute. */
#ifndef GD_FUZZ_SHAPES_H
#define GD_FUZZ_SHAPES_H

#include "fuzz_util.h"

#include "gmmdiff/readers.h"
#include "gmmdiff/shapes.h"

/* d: n items of 16x16 shapes with attributes shape, size, position, intensity, ink */
static FUZZ_UNUSED void fuzz_shapes_data(gd_dataset *d, int n) {
    gd_dataset s;
    gd_error err = {0};
    FUZZ_OK(gd_shapes_make(&s, 16, n, 7, GD_SHAPES_ALL, &err), err);
    const int na = s.n_attrs + 1;
    FUZZ_OK(gd_dataset_alloc(d, s.n, s.c, s.h, s.w, na, &err), err);
    snprintf(d->name, sizeof d->name, "%s", s.name);
    memcpy(d->images, s.images, sizeof(float) * (size_t)s.n * s.c * s.h * s.w);
    memcpy(d->attrs, s.attrs, sizeof s.attrs[0] * (size_t)s.n_attrs);
    gd_attr *ink = &d->attrs[s.n_attrs];
    snprintf(ink->name, sizeof ink->name, "ink");
    ink->kind = GD_ATTR_CONTINUOUS;
    for (int i = 0; i < s.n; i++) {
        for (int a = 0; a < s.n_attrs; a++) {
            d->labels[(size_t)i * na + a] = s.labels[(size_t)i * s.n_attrs + a];
            d->cont[(size_t)i * na + a] = s.cont[(size_t)i * s.n_attrs + a];
        }
        float f[GD_FEATURE_COUNT];
        gd_image_features(s.images + (size_t)i * s.c * s.h * s.w, s.c, s.h, s.w, f);
        d->cont[(size_t)i * na + s.n_attrs] = f[GD_FEATURE_INK];
    }
    memcpy(d->cls, s.cls, sizeof(int) * (size_t)s.n);
    d->n_classes = s.n_classes;
    gd_dataset_free(&s);
}

#endif
