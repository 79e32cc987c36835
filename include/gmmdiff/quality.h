/* quality.h - distances between a set of generated samples and real data in a feature space
 * (DESIGN.md section 6): the Frechet distance (called FD, never FID: the features are ours, not
 * Inception's) and k-NN precision and recall. Features are rows of float [n, d]. */
#ifndef GMMDIFF_QUALITY_H
#define GMMDIFF_QUALITY_H

#include "gmmdiff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_QUALITY_MAX_DIM 1024

/* FD = |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2) between the Gaussians fitted
 * to a [na, d] and b [nb, d] (means and unbiased covariances, in double; the matrix square roots
 * by symmetric eigen-decomposition, negative rounding eigenvalues taken as 0). na, nb >= 2,
 * d <= GD_QUALITY_MAX_DIM; non-finite features are refused. */
gd_status gd_frechet_distance(const float *a, int64_t na, const float *b, int64_t nb, int d,
                              double *fd, gd_error *err);

/* k-NN precision and recall (Kynkaenniemi et al. 2019): each real point's radius is the
 * Euclidean distance to its k-th nearest other real point; precision is the fraction of fake
 * points inside at least one real point's ball, recall the fraction of real points inside at
 * least one fake point's ball (radii from the fakes). k >= 1, fewer than either set's size. */
gd_status gd_knn_precision_recall(const float *real, int64_t nr, const float *fake, int64_t nf,
                                  int d, int k, double *precision, double *recall,
                                  gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
