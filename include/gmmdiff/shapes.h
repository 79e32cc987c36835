/* shapes.h - the built-in `shapes` data set: a deterministic renderer of grey shapes with four
 * categorical attributes, the held-out combinations used to test composition, and the judge
 * that scores any image against every rendering (docs/DATA.md, section "shapes").
 *
 * Images are [size, size] grey (one channel) in [-1, 1], background -1; size is 16, 28 or 32.
 * Attributes, in this order (values are indices into the names):
 *   shape     {circle, square, triangle}
 *   size      {small, large}
 *   position  {top_left, top_right, bottom_left, bottom_right}  (the quadrant of the centre)
 *   intensity {dim, bright}                                      (ink 0.0 and 1.0)
 * A combination's class is its mixed-radix index, shape most significant:
 *   cls = ((shape * 2 + size) * 4 + position) * 2 + intensity, in [0, 48).
 * The centre of a shape is jittered by (dx, dy) in {-1, 0, 1}^2 jitter units of size/16 pixels.
 */
#ifndef GMMDIFF_SHAPES_H
#define GMMDIFF_SHAPES_H

#include "gmmdiff/core.h"
#include "gmmdiff/data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_SHAPES_N_ATTRS 4
#define GD_SHAPES_N_COMBOS 48   /* 3 * 2 * 4 * 2 */
#define GD_SHAPES_N_HELDOUT 6   /* combinations never in a training set */
#define GD_SHAPES_N_JITTER 9    /* (dx, dy) in {-1, 0, 1}^2 */
#define GD_SHAPES_DEFAULT_SIZE 16
/* an image is a defect when its best match leaves an RMS residual above GD_SHAPES_RMS_THRESHOLD
 * or a local residual above GD_SHAPES_LOCAL_THRESHOLD (calibrated in docs/DATA.md and
 * tests/test_shapes.c) */
#define GD_SHAPES_RMS_THRESHOLD 0.125f
#define GD_SHAPES_LOCAL_THRESHOLD 0.18f

enum gd_shapes_attr { GD_SHAPES_SHAPE, GD_SHAPES_SIZE, GD_SHAPES_POSITION, GD_SHAPES_INTENSITY };

typedef enum gd_shapes_split {
    GD_SHAPES_TRAIN,   /* the 42 trained combinations */
    GD_SHAPES_HELDOUT, /* the 6 held-out combinations */
    GD_SHAPES_ALL      /* all 48 */
} gd_shapes_split;

/* ---- attributes and combinations ----------------------------------------------------------- */
int gd_shapes_size_ok(int size);                 /* 1 for 16, 28, 32 */
int gd_shapes_n_values(int attr);                /* 3, 2, 4, 2 */
const char *gd_shapes_attr_name(int attr);       /* "shape", "size", "position", "intensity" */
const char *gd_shapes_value_name(int attr, int value);
int gd_shapes_combo_index(const int values[GD_SHAPES_N_ATTRS]);   /* values -> cls */
void gd_shapes_combo_values(int cls, int values[GD_SHAPES_N_ATTRS]); /* cls -> values */
int gd_shapes_is_heldout(const int values[GD_SHAPES_N_ATTRS]);
/* the classes of a split in increasing order, written to cls_out[48]; returns their count */
int gd_shapes_combos(gd_shapes_split which, int cls_out[GD_SHAPES_N_COMBOS]);
/* fills attrs[4] with the names and value names (kind GD_ATTR_CATEGORICAL) */
void gd_shapes_fill_attrs(gd_attr attrs[GD_SHAPES_N_ATTRS]);

/* ---- rendering and the data set ------------------------------------------------------------ */
/* Renders one image img[size, size]. dx, dy move the centre by whole jitter units (size/16
 * pixels); the data set uses {-1, 0, 1}, any integer is allowed (the shape is clipped at the
 * border). Deterministic to the bit: 4x4 supersampling with exact dyadic arithmetic. */
void gd_shapes_render(float *img, int size, const int values[GD_SHAPES_N_ATTRS], int dx, int dy);
/* the same with a fractional offset in jitter units (exact when dx, dy are multiples of 1/8);
 * used to measure how the judge treats positions between the data set's jitters */
void gd_shapes_render_offset(float *img, int size, const int values[GD_SHAPES_N_ATTRS], double dx,
                             double dy);

/* Fills d (which it allocates; free with gd_dataset_free) with n items of a split: combination
 * and jitter uniform, drawn from gd_rng seeded with seed. d: images [n, 1, size, size],
 * labels [n, 4], cls [n], n_classes 48. GD_ERR_ARG for a bad size or n <= 0. */
gd_status gd_shapes_make(gd_dataset *d, int size, int n, uint64_t seed, gd_shapes_split which,
                         gd_error *err);

/* ---- the judge ------------------------------------------------------------------------------ */
typedef struct gd_shapes_verdict {
    int values[GD_SHAPES_N_ATTRS]; /* the best-matching rendering's attribute values */
    int cls;                       /* their combination index */
    int dx, dy;                    /* its jitter */
    float residual;                /* RMS over pixels of image - best rendering (NaN if the
                                      image is not finite) */
    float local;                   /* the largest |mean| of image - best rendering over a
                                      w x w window, w = 3 * size / 16 rounded (3, 5, 6) */
    int defect;                    /* !(residual <= GD_SHAPES_RMS_THRESHOLD) ||
                                      !(local <= GD_SHAPES_LOCAL_THRESHOLD) */
} gd_shapes_verdict;

/* The renderings of all 48 combinations x 9 jitters at one size, made once and reused. */
typedef struct gd_shapes_judge_ctx {
    int size;
    int n_templates;  /* 48 * 9, template t = cls * 9 + (dy + 1) * 3 + (dx + 1) */
    float *templates; /* [n_templates, size * size] */
} gd_shapes_judge_ctx;

gd_status gd_shapes_judge_init(gd_shapes_judge_ctx *ctx, int size, gd_error *err);
void gd_shapes_judge_free(gd_shapes_judge_ctx *ctx); /* safe on a zeroed or freed ctx */
/* imgs [n, 1, size, size] -> out[n]; threaded over images, same result on any thread count */
void gd_shapes_judge_run(const gd_shapes_judge_ctx *ctx, const float *imgs, int n,
                         gd_shapes_verdict *out);
/* init + run + free in one call */
gd_status gd_shapes_judge(const float *imgs, int n, int size, gd_shapes_verdict *out,
                          gd_error *err);

/* ---- summary ------------------------------------------------------------------------------- */
typedef struct gd_shapes_summary {
    int n, n_defect;
    double defect_rate;                     /* n_defect / n */
    /* against the intended values, over all n items, a defect counting as wrong */
    double attr_acc[GD_SHAPES_N_ATTRS];
    double exact_acc;                       /* all four attributes right */
    /* the same among the n - n_defect non-defects (NaN when there are none) */
    double attr_acc_ok[GD_SHAPES_N_ATTRS];
    double exact_acc_ok;
    /* the best match's values against the intended ones over all n items, defects or not
     * (what a classifier reading the images would report) */
    double attr_acc_any[GD_SHAPES_N_ATTRS];
    double exact_acc_any;
} gd_shapes_summary;

/* v[n], intended [n, 4] or NULL (then only the defect counts are filled, accuracies NaN) */
void gd_shapes_summarize(const gd_shapes_verdict *v, int n, const int *intended,
                         gd_shapes_summary *out);

#ifdef __cplusplus
}
#endif
#endif
