/* eval_classes.h - class-conditional samples of a trained run, scored by an attribute
 * classifier trained on real data: for every class of the run's data set, samples drawn with
 * that class and the classifier's per-attribute accuracy against the class's attributes; the
 * Frechet distance (FD) and k-NN precision/recall of all samples against as many real images of
 * the evaluation split, in the classifier's feature space (docs/EVALUATION.md). */
#ifndef GMMDIFF_EVAL_CLASSES_H
#define GMMDIFF_EVAL_CLASSES_H

#include "gmmdiff/classifier.h"

typedef struct gd_eval_classes_opts {
    int per_class;    /* samples per class */
    int steps;        /* DDIM steps (eps from the clamped x0) */
    float cfg;        /* classifier-free guidance scale (1: off) */
    uint64_t seed;
    int chunk;        /* samples per UNet batch */
    const char *grid; /* PNG of the samples (one row per class, at most 10 columns), NULL: none */
} gd_eval_classes_opts;

typedef struct gd_eval_classes_result {
    int n, n_classes, n_heads;
    double acc[GD_CLS_MAX_HEADS]; /* per head */
    double exact;                 /* every head right */
    char head_names[GD_CLS_MAX_HEADS][GD_DATA_NAME_MAX];
    /* in the classifier's feature space, against as many real items of the evaluation split */
    int n_real;
    double fd, precision, recall; /* quality.h; k-NN with k = 5 */
    /* the same of the split's next n_real items against those: what real data scores at this
     * sample size (NaN when the split is too small) */
    double fd_real, precision_real, recall_real;
} gd_eval_classes_result;

/* the result as a JSON object: samples, classes, accuracy (per head), exact, fd, precision,
 * recall, real_items, fd_real, precision_real, recall_real */
#include <jansson.h>
json_t *gd_eval_classes_json(const gd_eval_classes_result *r);

gd_status gd_eval_classes(const char *run_dir, gd_classifier *clf,
                          const gd_eval_classes_opts *o, gd_eval_classes_result *res,
                          gd_error *err);

#endif
