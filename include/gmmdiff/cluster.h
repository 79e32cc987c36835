/* cluster.h - components without labels (`--cond cluster`, DESIGN.md section 3).
 *
 * The images are embedded by PCA of their pixels (the top `dims` principal directions, found by
 * subspace iteration with a Rayleigh-Ritz step on a sample of at most 20000 items), a GMM is
 * fitted to the embeddings by EM (diagonal covariances, k-means++ start, 3 restarts), and every
 * item is labelled with its most probable component. Training then conditions on those labels
 * exactly as feature conditioning conditions on one categorical attribute, "cluster", whose
 * values are "c0" .. "c<k-1>"; the embedding and the GMM are kept so that any image, generated
 * ones included, can be assigned to a cluster (docs/CONDITIONING.md).
 */
#ifndef GMMDIFF_CLUSTER_H
#define GMMDIFF_CLUSTER_H

#include "gmmdiff/core.h"
#include "gmmdiff/data.h"
#include "gmmdiff/gmm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_CLUSTER_MAX_K GD_DATA_MAX_VALUES
#define GD_CLUSTER_MAX_DIMS 256

typedef struct gd_cluster_model {
    int k, dims, in_dim; /* in_dim = channels * height * width of the images */
    float *mean;         /* [in_dim] the pixel mean */
    float *basis;        /* [dims, in_dim] orthonormal rows, by decreasing variance */
    double *variance;    /* [dims] the variance of the data along each row */
    gd_gmm gmm;          /* over the embeddings, k components */
} gd_cluster_model;

/* Fits the embedding and the GMM to d's images (k in [2, GD_CLUSTER_MAX_K], dims in [1,
 * min(GD_CLUSTER_MAX_DIMS, in_dim)]); seeded, so the same data and seed give the same model. */
gd_status gd_cluster_fit(gd_cluster_model *m, const gd_dataset *d, int k, int dims,
                         uint64_t seed, gd_error *err);
void gd_cluster_free(gd_cluster_model *m); /* safe on a zeroed or freed model */
/* out [n, dims]: each image's coordinates along the basis (images [n, in_dim]) */
void gd_cluster_embed(const gd_cluster_model *m, const float *images, int64_t n, double *out);
/* labels [n]: each image's most probable component */
gd_status gd_cluster_assign(const gd_cluster_model *m, const float *images, int64_t n,
                            int *labels, gd_error *err);
/* Replaces d's attributes by the one categorical attribute "cluster" (values c0 ..), labelled
 * by m; the class of an item becomes its cluster (n_classes = k). */
gd_status gd_cluster_relabel(gd_dataset *d, const gd_cluster_model *m, gd_error *err);

/* dir/cluster.safetensors (mean, basis, variance) and dir/cluster_gmm.json (the GMM, as
 * `gmmdiff gmm fit` writes it) */
gd_status gd_cluster_save(const gd_cluster_model *m, const char *dir, gd_error *err);
gd_status gd_cluster_load(gd_cluster_model *m, const char *dir, gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
