/* eval_features.h - scores of feature- and cluster-conditioned runs on any image data
 * (docs/METRICS.md): the controllability error of continuous features measured on the images,
 * and how often samples of a cluster fall in that cluster. */
#ifndef GMMDIFF_EVAL_FEATURES_H
#define GMMDIFF_EVAL_FEATURES_H

#include "gmmdiff/data.h"
#include <jansson.h>

typedef struct gd_eval_features_opts {
    int per;         /* samples per target (component or cluster) */
    int pool;        /* controllability: samples with every attribute drawn from the data */
    int sampler;     /* gd_sampler_kind (gd_sampler_for_model) */
    int steps;
    float cfg;       /* classifier-free guidance scale (1: off) */
    uint64_t seed;
    const char *grid; /* PNG of the targeted samples, NULL: none */
} gd_eval_features_opts;

/* A feature model's continuous attributes that are measured image features (ink,
 * mean_intensity, width, height): for each attribute a and each component j of its 1-D GMM,
 * `per` samples with a's value set to j (every other attribute drawn from the data); the error
 * of one image is |f_a(x) - mean_j| / sd_a, sd_a the standard deviation of the attribute's
 * GMM. Reported beside it: the same error of `pool` samples whose attributes are all drawn
 * (the model not told the target: what no control gives), and of the real items of `real`
 * (their own most probable component as target: the floor; and any target: no control).
 * Every error is averaged over the components with equal weight. Adds its results to out. */
gd_status gd_eval_controllability(const char *run_dir, const gd_dataset *real,
                                  const gd_eval_features_opts *o, json_t *out, gd_error *err);

/* A cluster model (trained with --cond cluster): `per` samples per cluster, each assigned to a
 * cluster by the run's embedding and GMM (run_dir/cluster.safetensors, cluster_gmm.json); the
 * fraction that land in their intended cluster, overall and per cluster. With real data that
 * has labels (real may be NULL), also what the clusters mean: the real items assigned by the
 * same rule, and for each categorical attribute the purity sum_k max_v n(k, v) / n (1: every
 * cluster holds one value; the largest value's share: no relation). Adds to out. */
gd_status gd_eval_clusters(const char *run_dir, const gd_dataset *real,
                           const gd_eval_features_opts *o, json_t *out, gd_error *err);

#endif
