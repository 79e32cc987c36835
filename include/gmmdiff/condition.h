/* condition.h - GMM feature conditioning (DESIGN.md section 3, docs/CONDITIONING.md).
 *
 * Every feature value owns a Gaussian component N(mu_r, sigma^2 I) in R^D (D = the UNet's time
 * embedding width): one per value of a categorical attribute, one per component of a 1-D GMM
 * fitted by EM to a continuous attribute. Each attribute also owns a "null" row; the null
 * condition of classifier-free guidance is the sum of the null rows (learned, no noise).
 *
 * An item with feature values S is conditioned on c = sum_{r in S} z_r, z_r = mu_r + sigma eps_r
 * (reparameterised: the means are learned by backpropagation through c; sigma is fixed). A
 * continuous value picks its component by posterior sampling. c enters the UNet through its
 * identity class-embedding path (added to the time embedding), so the saved UNet is a plain
 * diffusers UNet2DModel with class_embed_type "identity"; the means and the attribute
 * description travel beside it as condition.safetensors and condition.json.
 */
#ifndef GMMDIFF_CONDITION_H
#define GMMDIFF_CONDITION_H

#include "gmmdiff/core.h"
#include "gmmdiff/data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_COND_MAX_COMPONENTS 16 /* of a continuous attribute's 1-D GMM */

typedef struct gd_cond_attr {
    char name[GD_DATA_NAME_MAX];
    gd_attr_kind kind;
    int n;       /* categorical: values; continuous: GMM components */
    int row0;    /* the rows of its components: row0 .. row0 + n - 1 */
    int null_row;
    char values[GD_DATA_MAX_VALUES][GD_DATA_NAME_MAX]; /* categorical value names */
    double freq[GD_DATA_MAX_VALUES]; /* categorical: value frequencies in the training data;
                                        continuous: the GMM's weights */
    double mean[GD_COND_MAX_COMPONENTS], var[GD_COND_MAX_COMPONENTS]; /* continuous GMM */
} gd_cond_attr;

typedef struct gd_condition {
    int n_attrs, rows, dim;
    float sigma;
    gd_cond_attr attrs[GD_DATA_MAX_ATTRS];
} gd_condition;

/* Components for data set d: categorical attributes as they are, continuous ones through a 1-D
 * GMM of cont_k components (k-means++ init from seed, 3 restarts). */
gd_status gd_condition_build(gd_condition *c, const gd_dataset *d, int dim, float sigma,
                             int cont_k, uint64_t seed, gd_error *err);
/* initial means: N(0, 1 / n_attrs) per coordinate, so that a composed c has unit variance
 * like a row of diffusers' class-embedding table; means [rows, dim] */
void gd_condition_init_means(const gd_condition *c, float *means, gd_rng *rng);

/* the component row of attribute a for a continuous value v: drawn from the posterior with u
 * in [0, 1) (u < 0: the most probable component) */
int gd_condition_cont_row(const gd_condition *c, int a, double v, double u);
/* the rows [n_attrs] of item i of d (matched by attribute name; bound by gd_condition_bind),
 * continuous values by posterior sampling from rng (NULL: the most probable component) */
void gd_condition_item_rows(const gd_condition *c, const gd_dataset *d, const int *attr_map,
                            int i, gd_rng *rng, int *rows);
/* attr_map [n_attrs]: each conditioning attribute's index in d; GD_ERR_ARG when d lacks one */
gd_status gd_condition_bind(const gd_condition *c, const gd_dataset *d, int *attr_map,
                            gd_error *err);
/* c = sum of the rows' means, plus sigma * N(0, I) per row when rng is given; out [dim] */
void gd_condition_compose(const gd_condition *c, const float *means, const int *rows,
                          gd_rng *rng, float *out);
/* the backward of compose for a batch: grad_means [rows, dim] = sum over items i and their
 * rows r = rows[i, a] of grad_c[i] (overwritten, not added to); rows [n, n_attrs] */
void gd_condition_backward(const gd_condition *c, const int *rows, int n, const float *grad_c,
                           float *grad_means);
/* the null condition: the sum of every attribute's null row */
void gd_condition_null(const gd_condition *c, const float *means, float *out);

/* Parses "shape=circle,size=large,ink=0.3" into rows [n_attrs]: a named categorical value its
 * row, a continuous number its most probable component, an unnamed attribute -1. GD_ERR_ARG
 * naming the unknown attribute or value. */
gd_status gd_condition_parse_features(const gd_condition *c, const char *spec, int *rows,
                                      gd_error *err);
/* fills the -1 entries of rows from the data's distribution: a categorical value by its
 * frequency, a continuous component by the GMM's weights */
void gd_condition_fill_rows(const gd_condition *c, int *rows, gd_rng *rng);

/* dir/condition.json (the description) and dir/condition.safetensors ("means" [rows, dim]) */
gd_status gd_condition_save(const gd_condition *c, const float *means, const char *dir,
                            gd_error *err);
/* *means is malloc'd; the caller frees it */
gd_status gd_condition_load(gd_condition *c, float **means, const char *dir, gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
