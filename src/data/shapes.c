/* shapes.c - the built-in `shapes` data set: attribute tables, the held-out combinations, the
 * deterministic renderer and gd_shapes_make (see shapes.h; the judge is in shapes_judge.c).
 *
 * Geometry, in base units b = size / 16 pixels (1, 1.75, 2), with pixel (i, j) covering
 * [j, j + 1) x [i, i + 1) and y growing downwards:
 *   quadrant centres (4b | 12b, 4b | 12b); the shape's centre is quadrant centre + (dx, dy) * b;
 *   radius r = 2b (small) or 3b (large), so a shape with jitter in {-1, 0, 1} stays inside its
 *   quadrant;
 *   circle: u^2 + v^2 <= r^2; square: |u|, |v| <= r; triangle (apex up): v <= r and
 *   2|u| <= v + r, with (u, v) the offset from the centre.
 * Each pixel is the mean of 4x4 subsamples at offsets (2k + 1) / 8. All coordinates are
 * multiples of 1/8, so every product is exact in double and the coverage count is the same on
 * every machine; pixel = -1 + (ink + 1) * count / 16 is exact in float.
 */
#include "gmmdiff/shapes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int shapes_radix[GD_SHAPES_N_ATTRS] = {3, 2, 4, 2};
static const char *const shapes_attr_names[GD_SHAPES_N_ATTRS] = {"shape", "size", "position",
                                                                 "intensity"};
static const char *const shapes_value_names[GD_SHAPES_N_ATTRS][4] = {
    {"circle", "square", "triangle", NULL},
    {"small", "large", NULL, NULL},
    {"top_left", "top_right", "bottom_left", "bottom_right"},
    {"dim", "bright", NULL, NULL},
};
static const float shapes_ink[2] = {0.0f, 1.0f}; /* dim, bright */

/* The held-out combinations: one per (shape, size) pair; within a shape one dim and one
 * bright; the six positions cover every quadrant. Every single value and every pair of values
 * of two attributes still occurs in training (tests/test_shapes.c checks it). */
static const int shapes_heldout[GD_SHAPES_N_HELDOUT][GD_SHAPES_N_ATTRS] = {
    {0, 0, 0, 0}, /* circle   small top_left     dim    */
    {0, 1, 3, 1}, /* circle   large bottom_right bright */
    {1, 0, 1, 1}, /* square   small top_right    bright */
    {1, 1, 2, 0}, /* square   large bottom_left  dim    */
    {2, 0, 3, 0}, /* triangle small bottom_right dim    */
    {2, 1, 0, 1}, /* triangle large top_left     bright */
};

int gd_shapes_size_ok(int size) { return size == 16 || size == 28 || size == 32; }

int gd_shapes_n_values(int attr) {
    GD_ASSERT(attr >= 0 && attr < GD_SHAPES_N_ATTRS);
    return shapes_radix[attr];
}

const char *gd_shapes_attr_name(int attr) {
    GD_ASSERT(attr >= 0 && attr < GD_SHAPES_N_ATTRS);
    return shapes_attr_names[attr];
}

const char *gd_shapes_value_name(int attr, int value) {
    GD_ASSERT(attr >= 0 && attr < GD_SHAPES_N_ATTRS);
    GD_ASSERT(value >= 0 && value < shapes_radix[attr]);
    return shapes_value_names[attr][value];
}

int gd_shapes_combo_index(const int values[GD_SHAPES_N_ATTRS]) {
    int cls = 0;
    for (int a = 0; a < GD_SHAPES_N_ATTRS; a++) {
        GD_ASSERT(values[a] >= 0 && values[a] < shapes_radix[a]);
        cls = cls * shapes_radix[a] + values[a];
    }
    return cls;
}

void gd_shapes_combo_values(int cls, int values[GD_SHAPES_N_ATTRS]) {
    GD_ASSERT(cls >= 0 && cls < GD_SHAPES_N_COMBOS);
    for (int a = GD_SHAPES_N_ATTRS - 1; a >= 0; a--) {
        values[a] = cls % shapes_radix[a];
        cls /= shapes_radix[a];
    }
}

int gd_shapes_is_heldout(const int values[GD_SHAPES_N_ATTRS]) {
    for (int h = 0; h < GD_SHAPES_N_HELDOUT; h++)
        if (!memcmp(shapes_heldout[h], values, sizeof shapes_heldout[h])) return 1;
    return 0;
}

int gd_shapes_combos(gd_shapes_split which, int cls_out[GD_SHAPES_N_COMBOS]) {
    GD_ASSERT(which == GD_SHAPES_TRAIN || which == GD_SHAPES_HELDOUT || which == GD_SHAPES_ALL);
    int n = 0;
    for (int c = 0; c < GD_SHAPES_N_COMBOS; c++) {
        int v[GD_SHAPES_N_ATTRS];
        gd_shapes_combo_values(c, v);
        int held = gd_shapes_is_heldout(v);
        if (which == GD_SHAPES_ALL || (which == GD_SHAPES_HELDOUT) == held) cls_out[n++] = c;
    }
    return n;
}

void gd_shapes_fill_attrs(gd_attr attrs[GD_SHAPES_N_ATTRS]) {
    for (int a = 0; a < GD_SHAPES_N_ATTRS; a++) {
        gd_attr *t = &attrs[a];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", shapes_attr_names[a]);
        t->kind = GD_ATTR_CATEGORICAL;
        t->n_values = shapes_radix[a];
        for (int v = 0; v < shapes_radix[a]; v++)
            snprintf(t->values[v], sizeof t->values[v], "%s", shapes_value_names[a][v]);
    }
}

/* 1 if (u, v), the offset from the centre in pixels, is inside shape of radius r */
static int shapes_inside(int shape, double u, double v, double r) {
    double au = u < 0 ? -u : u;
    switch (shape) {
    case 0: return u * u + v * v <= r * r;
    case 1: return au <= r && (v < 0 ? -v : v) <= r;
    default: return v <= r && 2.0 * au <= v + r;
    }
}

void gd_shapes_render(float *img, int size, const int values[GD_SHAPES_N_ATTRS], int dx, int dy) {
    gd_shapes_render_offset(img, size, values, (double)dx, (double)dy);
}

void gd_shapes_render_offset(float *img, int size, const int values[GD_SHAPES_N_ATTRS], double dx,
                             double dy) {
    GD_ASSERT(img && gd_shapes_size_ok(size) && dx == dx && dy == dy);
    (void)gd_shapes_combo_index(values); /* asserts the values are in range */
    double b = size / 16.0;
    int pos = values[GD_SHAPES_POSITION];
    double cx = ((pos & 1) ? 12.0 : 4.0) * b + dx * b; /* top_right, bottom_right: right */
    double cy = ((pos & 2) ? 12.0 : 4.0) * b + dy * b; /* bottom_left, bottom_right: bottom */
    double r = (values[GD_SHAPES_SIZE] ? 3.0 : 2.0) * b;
    int shape = values[GD_SHAPES_SHAPE];
    float span = shapes_ink[values[GD_SHAPES_INTENSITY]] + 1.0f;
    for (int i = 0; i < size; i++) {
        for (int j = 0; j < size; j++) {
            int count = 0;
            for (int sy = 0; sy < 4; sy++) {
                double v = i + (2 * sy + 1) / 8.0 - cy;
                for (int sx = 0; sx < 4; sx++)
                    count += shapes_inside(shape, j + (2 * sx + 1) / 8.0 - cx, v, r);
            }
            img[(size_t)i * size + j] = -1.0f + span * (float)count / 16.0f;
        }
    }
}

gd_status gd_shapes_make(gd_dataset *d, int size, int n, uint64_t seed, gd_shapes_split which,
                         gd_error *err) {
    GD_ASSERT(d);
    if (!gd_shapes_size_ok(size))
        return gd_error_set(err, GD_ERR_ARG, "shapes: image size %d is not supported (16, 28 or "
                            "32)", size);
    if (n <= 0) return gd_error_set(err, GD_ERR_ARG, "shapes: %d items requested", n);
    int combos[GD_SHAPES_N_COMBOS];
    int n_combos = gd_shapes_combos(which, combos);
    gd_status s = gd_dataset_alloc(d, n, 1, size, size, GD_SHAPES_N_ATTRS, err);
    if (s != GD_OK) return s;
    snprintf(d->name, sizeof d->name, "shapes");
    gd_shapes_fill_attrs(d->attrs);
    d->n_classes = GD_SHAPES_N_COMBOS;

    /* every (combination, jitter) rendered once, items copied from it */
    size_t px = (size_t)size * size;
    float *tmpl = malloc((size_t)n_combos * GD_SHAPES_N_JITTER * px * sizeof(float));
    if (!tmpl) {
        gd_dataset_free(d);
        return gd_error_set(err, GD_ERR_NOMEM, "shapes: templates: out of memory");
    }
    for (int c = 0; c < n_combos; c++) {
        int v[GD_SHAPES_N_ATTRS];
        gd_shapes_combo_values(combos[c], v);
        for (int t = 0; t < GD_SHAPES_N_JITTER; t++)
            gd_shapes_render(tmpl + ((size_t)c * GD_SHAPES_N_JITTER + t) * px, size, v,
                             t % 3 - 1, t / 3 - 1);
    }
    gd_rng rng;
    gd_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        int c = (int)gd_rng_below(&rng, (uint64_t)n_combos);
        int dx = (int)gd_rng_below(&rng, 3) - 1;
        int dy = (int)gd_rng_below(&rng, 3) - 1;
        int t = (dy + 1) * 3 + (dx + 1);
        memcpy(d->images + (size_t)i * px, tmpl + ((size_t)c * GD_SHAPES_N_JITTER + t) * px,
               px * sizeof(float));
        d->cls[i] = combos[c];
        gd_shapes_combo_values(combos[c], d->labels + (size_t)i * GD_SHAPES_N_ATTRS);
    }
    free(tmpl);
    return GD_OK;
}
