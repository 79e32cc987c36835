/* bench_gmm.c - `gmmdiff bench gmm`: EM iterations of the Gaussian mixture engine timed from a
 * given initialisation (the C side of bench/gmm_bench.sh, against scikit-learn's
 * GaussianMixture). A fixed number of iterations (tol 0), each timed through the fit's
 * per-iteration callback; prints the median milliseconds per iteration (the first iteration,
 * which also pays for the initialisation, excluded) and the final mean log-likelihood. */
#include "cli.h"
#include "gmmdiff/core.h"
#include "gmmdiff/gmm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static void bg_help(void) {
    printf("usage: gmmdiff bench gmm [--data X.npy --init INIT.json] [--n N --d D --k K]\n"
           "                         [--cov full|tied|diag|spherical] [--iters I]\n"
           "                         [--reg-covar R] [--threads T]\n"
           "  --data X.npy     the points [n, d] (default: a fixed-seed mixture of --k blobs)\n"
           "  --init INIT.json the initial weights, means and covariances as a gmmdiff model\n"
           "                   file (`gmmdiff gmm` format; default: uniform weights, means at k\n"
           "                   evenly spaced points, identity covariances)\n"
           "  --n N, --d D     points and features of the generated data (default 100000, 16)\n"
           "  --k K            components when there is no --init (default 10)\n"
           "  --cov C          covariance type (default full; with --init: the file's)\n"
           "  --iters I        EM iterations, no early stop (default 20)\n"
           "  --reg-covar R    added to every variance (default 1e-6)\n"
           "  --threads T      threads (default: all cores)\n"
           "prints 'ms_per_iter=' (median over iterations 2..I), 'total_ms=' (the whole fit)\n"
           "and 'loglik=' (the mean log-likelihood per point of the final model)\n");
}

typedef struct bg_clock {
    double *stamp; /* [iters + 1]: stamp[0] before the fit, stamp[it] after iteration it */
    int iters;
} bg_clock;

static void bg_on_iter(void *ctx, int init, int iter, double lower_bound) {
    (void)init, (void)lower_bound;
    bg_clock *c = ctx;
    if (iter >= 1 && iter <= c->iters) c->stamp[iter] = gd_bench_now_ms();
}

/* a mixture of k blobs in d dimensions, n points, from a fixed seed */
static double *bg_make_data(int64_t n, int d, int k) {
    double *x = malloc(sizeof(double) * (size_t)n * d), *c = malloc(sizeof(double) * k * d);
    if (!x || !c) {
        free(x), free(c);
        return NULL;
    }
    gd_rng r;
    gd_rng_seed(&r, 7);
    for (int i = 0; i < k * d; i++) c[i] = 3 * gd_rng_normal(&r);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            x[i * d + j] = c[(i % k) * d + j] + (1 + (i % k) * 0.1) * gd_rng_normal(&r);
    free(c);
    return x;
}

int gd_bench_gmm(int argc, char **argv) {
    const char *data = NULL, *init = NULL, *cov_name = NULL;
    int d = 16, k = 10, iters = 20, threads = 0;
    int64_t n = 100000;
    double reg = 1e-6;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { bg_help(); return 0; }
        else if (!strcmp(a, "--data") && v) { data = v; i++; }
        else if (!strcmp(a, "--init") && v) { init = v; i++; }
        else if (!strcmp(a, "--cov") && v) { cov_name = v; i++; }
        else if (!strcmp(a, "--n")) { n = gd_cli_int(a, v, 2, 1 << 30); i++; }
        else if (!strcmp(a, "--d")) { d = gd_cli_int(a, v, 1, 4096); i++; }
        else if (!strcmp(a, "--k")) { k = gd_cli_int(a, v, 1, 4096); i++; }
        else if (!strcmp(a, "--iters")) { iters = gd_cli_int(a, v, 2, 100000); i++; }
        else if (!strcmp(a, "--reg-covar")) { reg = gd_cli_num(a, v, 0, 1e300); i++; }
        else if (!strcmp(a, "--threads")) { threads = gd_cli_int(a, v, 1, 1024); i++; }
        else {
            fprintf(stderr, "gmmdiff bench gmm: unknown or incomplete flag '%s'\n", a);
            return 2;
        }
    }
    gd_gmm_cov cov = GD_GMM_COV_FULL;
    if (cov_name && gd_gmm_cov_parse(cov_name, &cov)) {
        fprintf(stderr, "gmmdiff bench gmm: --cov '%s' is not full, tied, diag or spherical\n",
                cov_name);
        return 2;
    }
    gd_set_num_threads(threads);
    gd_error err = {0};
    double *x = NULL;
    gd_gmm start = {0}, m = {0};
    if (data) {
        if (gd_gmm_read_matrix(data, &x, &n, &d, &err)) goto fail;
    } else if (!(x = bg_make_data(n, d, k))) {
        gd_error_set(&err, GD_ERR_NOMEM, "out of memory for %lld points", (long long)n);
        goto fail;
    }
    if (init) {
        if (gd_gmm_load(&start, init, &err)) goto fail;
        if (start.d != d) {
            gd_error_set(&err, GD_ERR_SHAPE, "%s has %d features, the data %d", init, start.d, d);
            goto fail;
        }
        if (cov_name && start.cov != cov) {
            gd_error_set(&err, GD_ERR_ARG, "%s holds %s covariances, not %s", init,
                         gd_gmm_cov_name(start.cov), cov_name);
            goto fail;
        }
        k = start.k;
        cov = start.cov;
    } else {
        if (k > n) {
            gd_error_set(&err, GD_ERR_ARG, "k = %d > n = %lld", k, (long long)n);
            goto fail;
        }
        size_t nc = gd_gmm_cov_numel(cov, k, d);
        double *w = malloc(sizeof(double) * k), *mu = malloc(sizeof(double) * k * d);
        double *cv = calloc(nc, sizeof(double));
        gd_status s = w && mu && cv ? GD_OK : GD_ERR_NOMEM;
        for (int c = 0; !s && c < k; c++) {
            w[c] = 1.0 / k;
            memcpy(mu + (size_t)c * d, x + (n / k) * c * d, sizeof(double) * d);
        }
        if (!s) {
            if (cov == GD_GMM_COV_FULL || cov == GD_GMM_COV_TIED)
                for (int c = 0; c < (cov == GD_GMM_COV_FULL ? k : 1); c++)
                    for (int j = 0; j < d; j++) cv[(size_t)c * d * d + (size_t)j * d + j] = 1;
            else
                for (size_t i = 0; i < nc; i++) cv[i] = 1;
            s = gd_gmm_from_params(&start, k, d, cov, w, mu, cv, "the default init", &err);
        } else {
            gd_error_set(&err, GD_ERR_NOMEM, "out of memory");
        }
        free(w), free(mu), free(cv);
        if (s) goto fail;
    }
    gd_gmm_options o;
    gd_gmm_options_default(&o);
    o.k = k;
    o.cov = cov;
    o.init = GD_GMM_INIT_PARAMS;
    o.weights = start.weights;
    o.means = start.means;
    o.covariances = start.covariances;
    o.reg_covar = reg;
    o.tol = 0; /* |change| < 0 never holds: exactly iters iterations */
    o.max_iter = iters;
    bg_clock clk = {calloc((size_t)iters + 1, sizeof(double)), iters};
    double *dt = malloc(sizeof(double) * iters);
    if (!clk.stamp || !dt) {
        free(clk.stamp), free(dt);
        gd_error_set(&err, GD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    o.on_iter = bg_on_iter;
    o.ctx = &clk;
    clk.stamp[0] = gd_bench_now_ms();
    gd_status s = gd_gmm_fit(&m, x, n, d, &o, &err);
    double total = gd_bench_now_ms() - clk.stamp[0], ll = NAN;
    if (!s) s = gd_gmm_score(&m, x, n, &ll, &err);
    if (s) {
        free(clk.stamp), free(dt);
        goto fail;
    }
    for (int it = 2; it <= iters; it++) dt[it - 2] = clk.stamp[it] - clk.stamp[it - 1];
    qsort(dt, (size_t)iters - 1, sizeof(double), gd_bench_cmp_double);
    printf("# gmmdiff EM n=%lld d=%d k=%d cov=%s iters=%d threads=%d reg_covar=%g\n",
           (long long)n, d, k, gd_gmm_cov_name(cov), iters, gd_get_num_threads(), reg);
    printf("ms_per_iter=%.4f\ntotal_ms=%.3f\nfirst_iter_ms=%.3f\nloglik=%.17g\nlower_bound=%.17g\n",
           dt[(iters - 1) / 2], total, clk.stamp[1] - clk.stamp[0], ll, m.lower_bound);
    free(clk.stamp), free(dt);
    gd_gmm_free(&m), gd_gmm_free(&start);
    free(x);
    return 0;
fail:
    fprintf(stderr, "gmmdiff bench gmm: %s\n", err.msg);
    gd_gmm_free(&m), gd_gmm_free(&start);
    free(x);
    return 1;
}
