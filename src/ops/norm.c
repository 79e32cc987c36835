/* norm.c - group normalisation (PyTorch nn.GroupNorm: biased variance, eps inside the sqrt).
 * Statistics are accumulated in double, one (image, group) per task. */
#include "gmmdiff/ops.h"
#include "gmmdiff/core.h"
#include "vexp.h"

#include <math.h>

/* sums in double over 16 interleaved lanes (vectorised; a fixed order), then the lanes in turn */
#define LANES 16
static double sum_f(const float *restrict x, size_t n) {
    double acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += (double)x[i + k];
    double s = 0.0;
    for (int k = 0; k < LANES; k++) s += acc[k];
    for (; i < n; i++) s += (double)x[i];
    return s;
}

/* sum of (x - m)^2 the same way */
static double sumsq_dev(const float *restrict x, size_t n, double m) {
    double acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            double d = (double)x[i + k] - m;
            acc[k] += d * d;
        }
    double s = 0.0;
    for (int k = 0; k < LANES; k++) s += acc[k];
    for (; i < n; i++) {
        double d = (double)x[i] - m;
        s += d * d;
    }
    return s;
}

static void gn_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *gamma, const float *beta, int N, int C, int HW, int G,
                       float eps, int silu) {
    GD_ASSERT(out && mean && rstd && inp && gamma && beta);
    GD_ASSERT_MSG(N > 0 && HW > 0 && G > 0 && C % G == 0, "group norm: C must divide into G");
    const int cpg = C / G;
    const size_t gsize = (size_t)cpg * HW;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            const float *x = inp + ((size_t)n * C + (size_t)g * cpg) * HW;
            double m = sum_f(x, gsize) / (double)gsize;
            double v = sumsq_dev(x, gsize, m) / (double)gsize;
            float mf = (float)m, rs = (float)(1.0 / sqrt(v + (double)eps));
            mean[n * G + g] = mf;
            rstd[n * G + g] = rs;
            float *y = out + ((size_t)n * C + (size_t)g * cpg) * HW;
            for (int c = 0; c < cpg; c++) {
                float a = gamma[g * cpg + c] * rs, b = beta[g * cpg + c] - mf * a;
                if (silu) {
                    for (int p = 0; p < HW; p++) {
                        float h = x[c * HW + p] * a + b;
                        y[c * HW + p] = h / (1.0f + gd_vexpf(-h));
                    }
                } else {
                    for (int p = 0; p < HW; p++) y[c * HW + p] = x[c * HW + p] * a + b;
                }
            }
        }
}

void gd_group_norm_forward(float *out, float *mean, float *rstd, const float *inp,
                           const float *gamma, const float *beta, int N, int C, int HW, int G,
                           float eps) {
    gn_forward(out, mean, rstd, inp, gamma, beta, N, C, HW, G, eps, 0);
}

void gd_group_norm_silu_forward(float *out, float *mean, float *rstd, const float *inp,
                                const float *gamma, const float *beta, int N, int C, int HW,
                                int G, float eps) {
    gn_forward(out, mean, rstd, inp, gamma, beta, N, C, HW, G, eps, 1);
}

/* *s1 += sum(g dy), *s2 += sum(g dy xhat) with xhat = (x - m) rs in float, over lanes */
static void dy_sums(const float *restrict dy, const float *restrict x, size_t n, float m,
                    float rs, double g, double *s1, double *s2) {
    double a1[LANES] = {0}, a2[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            double d = (double)dy[i + k] * g;
            a1[k] += d;
            a2[k] += d * ((x[i + k] - m) * rs);
        }
    double t1 = 0.0, t2 = 0.0;
    for (int k = 0; k < LANES; k++) {
        t1 += a1[k];
        t2 += a2[k];
    }
    for (; i < n; i++) {
        double d = (double)dy[i] * g;
        t1 += d;
        t2 += d * ((x[i] - m) * rs);
    }
    *s1 += t1;
    *s2 += t2;
}

void gd_group_norm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                            const float *inp, const float *mean, const float *rstd,
                            const float *gamma, int N, int C, int HW, int G) {
    GD_ASSERT(dout && inp && mean && rstd && gamma);
    GD_ASSERT(N > 0 && HW > 0 && G > 0 && C % G == 0);
    const int cpg = C / G;
    if (dgamma || dbeta) {
        #pragma omp parallel for schedule(static)
        for (int c = 0; c < C; c++) {
            double sg = 0.0, sb = 0.0;
            int g = c / cpg;
            for (int n = 0; n < N; n++) {
                const float *x = inp + ((size_t)n * C + c) * HW;
                const float *dy = dout + ((size_t)n * C + c) * HW;
                dy_sums(dy, x, (size_t)HW, mean[n * G + g], rstd[n * G + g], 1.0, &sb, &sg);
            }
            if (dgamma) dgamma[c] += (float)sg;
            if (dbeta) dbeta[c] += (float)sb;
        }
    }
    if (!dinp) return;
    const double gsize = (double)cpg * HW;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            float m = mean[n * G + g], rs = rstd[n * G + g];
            size_t off = ((size_t)n * C + (size_t)g * cpg) * HW;
            const float *x = inp + off, *dy = dout + off;
            double s1 = 0.0, s2 = 0.0; /* sum(dyhat), sum(dyhat * xhat) */
            for (int c = 0; c < cpg; c++)
                dy_sums(dy + (size_t)c * HW, x + (size_t)c * HW, (size_t)HW, m, rs,
                        (double)gamma[g * cpg + c], &s1, &s2);
            float a1 = (float)(s1 / gsize), a2 = (float)(s2 / gsize);
            float *dx = dinp + off;
            for (int c = 0; c < cpg; c++) {
                float ga = gamma[g * cpg + c];
                for (int p = 0; p < HW; p++) {
                    float xh = (x[c * HW + p] - m) * rs;
                    dx[c * HW + p] += rs * (dy[c * HW + p] * ga - a1 - xh * a2);
                }
            }
        }
}

void gd_group_norm_silu_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, const float *beta, int N, int C, int HW,
                                 int G, float *dh) {
    GD_ASSERT(dout && inp && mean && rstd && gamma && beta && dh);
    GD_ASSERT(N > 0 && HW > 0 && G > 0 && C % G == 0);
    const int cpg = C / G;
    /* dh = dout * silu'(h), h recomputed exactly as the forward computed it */
    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            int g = c / cpg;
            float rs = rstd[n * G + g], mf = mean[n * G + g];
            float a = gamma[c] * rs, b = beta[c] - mf * a;
            size_t off = ((size_t)n * C + c) * HW;
            const float *x = inp + off, *dy = dout + off;
            float *d = dh + off;
            for (int p = 0; p < HW; p++) {
                float h = x[p] * a + b, s = 1.0f / (1.0f + gd_vexpf(-h));
                d[p] = dy[p] * s * (1.0f + h * (1.0f - s));
            }
        }
    gd_group_norm_backward(dinp, dgamma, dbeta, dh, inp, mean, rstd, gamma, N, C, HW, G);
}
