/* linalg.h - small dense linear algebra in double that BLAS does not give: the eigen-
 * decomposition of a symmetric matrix (cyclic Jacobi rotations; exact to rounding, O(p^3) per
 * sweep, for the p up to a few hundred that PCA and the Frechet distance need). */
#ifndef GMMDIFF_LINALG_H
#define GMMDIFF_LINALG_H

#ifdef __cplusplus
extern "C" {
#endif

/* a [p, p] symmetric (destroyed): eigenvalues into w [p], eigenvectors as the columns of
 * v [p, p] (v[i * p + j]: coordinate i of vector j), in no particular order */
void gd_sym_eigen(double *a, int p, double *w, double *v);

#ifdef __cplusplus
}
#endif
#endif
