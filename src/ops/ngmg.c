/* ngmg.c - the negative Gaussian mixture potential and its gradient, NGMG (DESIGN.md section 4,
 * docs/NGMG.md).
 *
 *   U(y) = - sum_j w_j exp(-|y - mu|^2 / (2 s_j^2)),  w_j = s_j / sum_i s_i
 *   NGMG = grad_y U = sum_j w_j exp(-|y - mu|^2 / (2 s_j^2)) (y - mu) / s_j^2
 *
 * over the geometric ladder s_j = s_min (s_max / s_min)^(j / (J - 1)), j = 0 .. J-1 (J = 1: the
 * single width s_min). Each term's norm peaks at |y - mu| = s_j with value w_j e^(-1/2) / s_j =
 * e^(-1/2) / sum_i s_i, the same for every j, so |NGMG| <= J e^(-1/2) / sum_i s_i. */
#include "gmmdiff/ops.h"

#include "gmmdiff/core.h"

#include <math.h>

int gd_ngmg_widths(float s_min, float s_max, int J, double *s) {
    if (!(s_min > 0) || !(s_max >= s_min) || !isfinite(s_max) || J < 1 || J > GD_NGMG_MAX_WIDTHS)
        return 0;
    for (int j = 0; j < J; j++)
        s[j] = J == 1 ? s_min : s_min * pow((double)s_max / s_min, (double)j / (J - 1));
    return 1;
}

double gd_ngmg_norm_bound(float s_min, float s_max, int J) {
    double s[GD_NGMG_MAX_WIDTHS], sum = 0;
    GD_ASSERT(gd_ngmg_widths(s_min, s_max, J, s));
    for (int j = 0; j < J; j++) sum += s[j];
    return J * exp(-0.5) / sum;
}

double gd_ngmg_potential(const float *y, const float *mu, int m, float s_min, float s_max, int J,
                         double *grad) {
    double s[GD_NGMG_MAX_WIDTHS], sum = 0, r2 = 0, u = 0, c = 0;
    GD_ASSERT(gd_ngmg_widths(s_min, s_max, J, s) && m > 0);
    for (int j = 0; j < J; j++) sum += s[j];
    for (int k = 0; k < m; k++) r2 += ((double)y[k] - mu[k]) * ((double)y[k] - mu[k]);
    for (int j = 0; j < J; j++) {
        double e = (s[j] / sum) * exp(-r2 / (2.0 * s[j] * s[j]));
        u -= e;
        c += e / (s[j] * s[j]);
    }
    if (grad)
        for (int k = 0; k < m; k++) grad[k] = c * ((double)y[k] - mu[k]);
    return u;
}

float gd_ngmg_forward(const float *y, const float *mu, size_t n, float s_min, float s_max, int J) {
    GD_ASSERT(y && mu && n > 0);
    double acc = 0;
    for (size_t i = 0; i < n; i++) acc += gd_ngmg_potential(y + i, mu + i, 1, s_min, s_max, J, NULL);
    return (float)(acc / (double)n);
}

void gd_ngmg_backward(float *dy, float *dmu, const float *y, const float *mu, size_t n,
                      float s_min, float s_max, int J, float dloss) {
    GD_ASSERT(y && mu && n > 0);
    const double k = (double)dloss / (double)n;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double g;
        gd_ngmg_potential(y + i, mu + i, 1, s_min, s_max, J, &g);
        if (dy) dy[i] += (float)(k * g);
        if (dmu) dmu[i] -= (float)(k * g);
    }
}

double gd_ngmg_parallel_lines(double theta, float s_min, float s_max, int J, int n,
                              double *grad) {
    GD_ASSERT(n > 0);
    double d = 0, g = 0;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            const float z = (float)((a + 0.5) / n), z0 = (float)((b + 0.5) / n);
            const float x[2] = {(float)theta, z}, x0[2] = {0.0f, z}, mu[2] = {0.0f, z0};
            double gr[2];
            d += gd_ngmg_potential(x, mu, 2, s_min, s_max, J, gr) -
                 gd_ngmg_potential(x0, mu, 2, s_min, s_max, J, NULL);
            g += gr[0];
        }
    if (grad) *grad = g / ((double)n * n);
    return d / ((double)n * n);
}
