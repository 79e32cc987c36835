/* linalg.c - the eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations
 * (linalg.h). */
#include "gmmdiff/linalg.h"

#include <math.h>

void gd_sym_eigen(double *a, int p, double *w, double *v) {
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++) v[i * p + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0, diag = 0.0;
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++) {
                if (i != j) off += a[i * p + j] * a[i * p + j];
                else diag += a[i * p + j] * a[i * p + j];
            }
        if (off <= 1e-30 * diag || off == 0.0) break;
        for (int i = 0; i < p; i++)
            for (int j = i + 1; j < p; j++) {
                double aij = a[i * p + j];
                if (aij == 0.0) continue;
                double theta = (a[j * p + j] - a[i * p + i]) / (2.0 * aij);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < p; k++) { /* columns i and j */
                    double x = a[k * p + i], y = a[k * p + j];
                    a[k * p + i] = c * x - s * y;
                    a[k * p + j] = s * x + c * y;
                }
                for (int k = 0; k < p; k++) { /* rows i and j */
                    double x = a[i * p + k], y = a[j * p + k];
                    a[i * p + k] = c * x - s * y;
                    a[j * p + k] = s * x + c * y;
                }
                for (int k = 0; k < p; k++) {
                    double x = v[k * p + i], y = v[k * p + j];
                    v[k * p + i] = c * x - s * y;
                    v[k * p + j] = s * x + c * y;
                }
            }
    }
    for (int i = 0; i < p; i++) w[i] = a[i * p + i];
}
