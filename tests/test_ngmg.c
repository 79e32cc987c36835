/* test_ngmg.c - the negative Gaussian mixture gradient (DESIGN.md section 4): it is the
 * gradient of its potential (central differences in R^m), its norm bound holds and is reached,
 * its magnitude over the ladder's range is nearly flat, and on the parallel-lines example the
 * NGMG distance is continuous in theta with a non-zero gradient where Jensen-Shannon has none.
 * The graph op's forward and backward are checked in test_gradcheck. */
#include "gmmdiff/core.h"
#include "gmmdiff/ops.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>

static double norm(const double *g, int m) {
    double s = 0;
    for (int k = 0; k < m; k++) s += g[k] * g[k];
    return sqrt(s);
}

int main(void) {
    gd_rng r;
    gd_rng_seed(&r, 3);
    /* 1. NGMG = grad U, by central differences of U in double */
    const struct { float lo, hi; int J; } lad[] = {{1, 1, 1}, {0.3f, 0.3f, 1}, {0.5f, 8, 5},
                                                   {0.1f, 10, 9}, {2, 3, 2}};
    double worst = 0;
    for (size_t l = 0; l < sizeof lad / sizeof *lad; l++)
        for (int m = 1; m <= 6; m += (m < 2 ? 1 : 4))
            for (int trial = 0; trial < 40; trial++) {
                float y[6], mu[6];
                double scale = lad[l].hi * (0.05 + 2.0 * gd_rng_uniform(&r));
                for (int k = 0; k < m; k++) {
                    mu[k] = (float)gd_rng_normal(&r);
                    y[k] = mu[k] + (float)(scale * gd_rng_normal(&r) / sqrt(m));
                }
                double g[6];
                gd_ngmg_potential(y, mu, m, lad[l].lo, lad[l].hi, lad[l].J, g);
                double fd[6], h = 1e-3 * lad[l].lo;
                for (int k = 0; k < m; k++) {
                    /* U is evaluated at float y, so shift mu the other way in double instead:
                     * U depends on y - mu only */
                    double up, dn;
                    float mu2[6];
                    for (int q = 0; q < m; q++) mu2[q] = mu[q];
                    mu2[k] = (float)(mu[k] - h);
                    double hu = (double)mu[k] - mu2[k];
                    up = gd_ngmg_potential(y, mu2, m, lad[l].lo, lad[l].hi, lad[l].J, NULL);
                    mu2[k] = (float)(mu[k] + hu);
                    double hd = (double)mu2[k] - mu[k];
                    dn = gd_ngmg_potential(y, mu2, m, lad[l].lo, lad[l].hi, lad[l].J, NULL);
                    fd[k] = (up - dn) / (hu + hd);
                }
                double diff[6];
                for (int k = 0; k < m; k++) diff[k] = g[k] - fd[k];
                double e = norm(diff, m) / (norm(g, m) + 1e-3 * gd_ngmg_norm_bound(lad[l].lo, lad[l].hi, lad[l].J));
                if (e > worst) worst = e;
            }
    printf("NGMG vs central differences of U: worst relative error %.2e\n", worst);
    TEST_COND("NGMG is the gradient of its potential", worst < 1e-3);

    /* 2. the norm bound J e^(-1/2) / sum s holds everywhere; a single width reaches it at r = s */
    for (size_t l = 0; l < sizeof lad / sizeof *lad; l++) {
        double bound = gd_ngmg_norm_bound(lad[l].lo, lad[l].hi, lad[l].J), peak = 0;
        for (int i = 0; i <= 4000; i++) {
            float y[3] = {0, 0, 0}, mu[3] = {0, 0, 0};
            double rad = 1e-3 * pow(10.0, 7.0 * i / 4000.0), g[3];
            y[0] = (float)(rad * 0.6);
            y[2] = (float)(-rad * 0.8);
            gd_ngmg_potential(y, mu, 3, lad[l].lo, lad[l].hi, lad[l].J, g);
            if (norm(g, 3) > peak) peak = norm(g, 3);
        }
        printf("ladder %g..%g, %d widths: largest |NGMG| %.6f, bound %.6f\n", (double)lad[l].lo,
               (double)lad[l].hi, lad[l].J, peak, bound);
        TEST_COND("|NGMG| <= J e^-1/2 / sum s", peak <= bound * (1 + 1e-9));
        if (lad[l].J == 1) TEST_COND("a single width reaches the bound", peak > 0.999 * bound);
    }
    /* 3. over the ladder's range the magnitude is nearly flat; a single width's is not */
    double lo_l = 1e9, hi_l = 0, lo_s = 1e9, hi_s = 0;
    for (int i = 0; i <= 100; i++) {
        float y = (float)(0.5 * pow(16.0, i / 100.0)), mu = 0; /* 0.5 .. 8 */
        double g;
        gd_ngmg_potential(&y, &mu, 1, 0.5f, 8.0f, 5, &g);
        lo_l = fmin(lo_l, fabs(g));
        hi_l = fmax(hi_l, fabs(g));
        gd_ngmg_potential(&y, &mu, 1, 1.0f, 1.0f, 1, &g);
        lo_s = fmin(lo_s, fabs(g));
        hi_s = fmax(hi_s, fabs(g));
    }
    printf("|NGMG| over |y - mu| in [0.5, 8]: ladder 0.5..8 x5 varies %.2fx, single width 1 "
           "varies %.3gx\n", hi_l / lo_l, hi_s / lo_s);
    TEST_COND("ladder's magnitude within 2x over its range", hi_l / lo_l < 2.0);
    TEST_COND("single width's magnitude collapses far out", hi_s / lo_s > 1e6);

    /* 4. parallel lines */
    double prev = 0, dprev = 0;
    int monotone = 1, grad_ok = 1;
    printf("theta   D_ngmg(theta)   dD/dtheta   (JS: log 2 = %.4f for theta != 0, gradient 0)\n",
           log(2.0));
    for (int i = 1; i <= 40; i++) {
        double th = 0.1 * i, g;
        double d = gd_ngmg_parallel_lines(th, 0.5f, 8.0f, 5, 64, &g);
        double dp = gd_ngmg_parallel_lines(th + 1e-2, 0.5f, 8.0f, 5, 64, NULL);
        double dm = gd_ngmg_parallel_lines(th - 1e-2, 0.5f, 8.0f, 5, 64, NULL);
        double fd = (dp - dm) / 2e-2; /* h 1e-2: theta is rounded to float inside */
        if (i % 10 == 0) printf("%5.2f   %.6f        %.6f (central differences %.6f)\n", th, d, g, fd);
        monotone &= d > prev;
        grad_ok &= g > 0 && fabs(g - fd) < 1e-3 * fabs(g) + 1e-7;
        prev = d;
        dprev = g;
    }
    (void)dprev;
    TEST_COND("D(theta) increases strictly with theta on (0, 4]", monotone);
    TEST_COND("dD/dtheta > 0 and equals the NGMG average", grad_ok);
    double d0 = gd_ngmg_parallel_lines(0.0, 0.5f, 8.0f, 5, 64, NULL);
    double dsmall = gd_ngmg_parallel_lines(1e-3, 0.5f, 8.0f, 5, 64, NULL);
    TEST_COND("D(0) = 0", fabs(d0) < 1e-12);
    TEST_COND("continuous at 0: D(1e-3) < 1e-5 (JS jumps to log 2)", dsmall >= 0 && dsmall < 1e-5);
    double g4;
    gd_ngmg_parallel_lines(4.0, 0.5f, 8.0f, 5, 64, &g4);
    double g4s;
    gd_ngmg_parallel_lines(4.0, 1.0f, 1.0f, 1, 64, &g4s);
    printf("dD/dtheta at theta = 4: ladder %.3e, single width 1: %.3e\n", g4, g4s);
    TEST_COND("the ladder still pulls at theta = 4", g4 > 1e-2);
    return gd_test_report("ngmg");
}
