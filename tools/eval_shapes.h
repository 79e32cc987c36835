/* eval_shapes.h - the judge's scores of a class-conditioned shapes model (used by the demo). */
#ifndef GMMDIFF_EVAL_SHAPES_H
#define GMMDIFF_EVAL_SHAPES_H

#include "gmmdiff/shapes.h"
#include "gmmdiff/unet.h"

typedef struct gd_eval_shapes_opts {
    int per_class;   /* samples per trained combination */
    int sampler;     /* gd_sampler_kind; DDIM uses the clamped x0's eps (docs/MODELS.md) */
    int steps;       /* sampler steps */
    float cfg;       /* classifier-free guidance scale (1: off) */
    uint64_t seed;
    const char *grid; /* PNG of every sample, NULL: none */
    int heldout;      /* the 6 held-out combinations instead of the 42 trained ones (feature
                         models only: a class model has no row for them) */
    const char *classifier;  /* classifier guidance toward the intended values: a classifier
                                directory with heads shape, size, position, intensity; NULL off */
    float classifier_scale;  /* its scale s (gd_guidance) */
} gd_eval_shapes_opts;

typedef struct gd_eval_shapes_result {
    int n, n_combos;
    gd_shapes_summary summary;
} gd_eval_shapes_result;

/* samples run_dir/model per trained (or held-out) combination, judges every sample against
 * its intended combination. A class model gets the combination's class row; a feature model
 * (model/condition.json) the sum of its values' component means (no component noise) */
gd_status gd_eval_shapes(const char *run_dir, const gd_eval_shapes_opts *o,
                         gd_eval_shapes_result *res, gd_error *err);
/* a one-page Markdown summary of the result */
gd_status gd_eval_shapes_write_md(const char *path, const char *title,
                                  const gd_eval_shapes_opts *o, const gd_eval_shapes_result *r,
                                  const char *extra, gd_error *err);

#endif
