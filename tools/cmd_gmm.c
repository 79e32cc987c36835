/* cmd_gmm.c - `gmmdiff gmm fit|score|predict|sample`: Gaussian mixtures fitted by EM
 * (include/gmmdiff/gmm.h, docs/GMM.md) on a CSV or .npy data matrix, saved as JSON. */
#include "cli.h"
#include "gmmdiff/gmm.h"
#include "gmmdiff/npy.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void gmm_help(FILE *f) {
    fprintf(f,
        "usage: gmmdiff gmm fit --in X --k K --out MODEL.json [options]\n"
        "       gmmdiff gmm score --model MODEL.json --in X\n"
        "       gmmdiff gmm predict --model MODEL.json --in X [--proba] [--out FILE]\n"
        "       gmmdiff gmm sample --model MODEL.json --n N --out FILE [--seed S]\n"
        "\n"
        "Gaussian mixtures fitted by EM with scikit-learn's GaussianMixture semantics (see\n"
        "docs/GMM.md). X is a .npy array ([n] or [n, d]) or a CSV file: numbers only, one row\n"
        "per point, comma separated, no header. FILE is written as .npy (float32) when its name\n"
        "ends in .npy, else as CSV.\n"
        "\n"
        "fit: prints the iterations, whether EM converged, the average log-likelihood and BIC\n"
        "  --in X             the data\n"
        "  --k K              number of components\n"
        "  --cov C            full | tied | diag | spherical (default full)\n"
        "  --init I           kmeans++ (k-means from k-means++ seeds, sklearn's 'kmeans') |\n"
        "                     random | random_from_data (default kmeans++)\n"
        "  --n-init N         restarts; the best lower bound is kept (default 1)\n"
        "  --seed S           seed of the initialisation (default 0)\n"
        "  --reg-covar X      added to every variance (default 1e-6)\n"
        "  --tol X            stop when the average log-likelihood changes by less (default 1e-3)\n"
        "  --max-iter N       EM iterations per restart (default 100)\n"
        "  --out MODEL.json   the fitted model\n"
        "score: prints the average log-likelihood per point of X under the model\n"
        "predict: the most probable component of each point (--proba: the posterior\n"
        "  probabilities, one row per point), to --out FILE or to standard output\n"
        "sample: N points drawn from the model, grouped by component\n"
        "  --n N              number of points\n"
        "  --seed S           seed of the draws (default 0)\n"
        "every command:\n"
        "  --threads T        threads (default: all cores)\n");
}

static int fail(const gd_error *err) {
    fprintf(stderr, "gmmdiff gmm: %s\n", err->msg);
    return 1;
}

/* reads X and checks its width against the model's (d_want > 0) */
static int read_data(const char *path, int d_want, double **x, int64_t *n, int *d) {
    gd_error err = {0};
    if (gd_gmm_read_matrix(path, x, n, d, &err)) return fail(&err);
    if (d_want > 0 && *d != d_want) {
        fprintf(stderr, "gmmdiff gmm: %s has %d features per point; the model has %d\n", path, *d,
                d_want);
        free(*x);
        *x = NULL;
        return 1;
    }
    return 0;
}

static int has_npy_suffix(const char *p) {
    size_t l = strlen(p);
    return l >= 4 && !strcasecmp(p + l - 4, ".npy");
}

int gd_cmd_gmm(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        gmm_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    enum { FIT, SCORE, PREDICT, SAMPLE } cmd;
    if (!strcmp(sub, "fit")) cmd = FIT;
    else if (!strcmp(sub, "score")) cmd = SCORE;
    else if (!strcmp(sub, "predict")) cmd = PREDICT;
    else if (!strcmp(sub, "sample")) cmd = SAMPLE;
    else {
        fprintf(stderr, "gmmdiff gmm: unknown command '%s' (fit, score, predict or sample; see "
                        "--help)\n", sub);
        return 2;
    }
    const char *in = NULL, *out = NULL, *model = NULL, *cov_s = "full", *init_s = "kmeans++";
    int k = 0, n_init = 1, max_iter = 100, seed = 0, threads = 0, proba = 0, n = 0;
    double reg = 1e-6, tol = 1e-3;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int fit = cmd == FIT, use = cmd != FIT, smp = cmd == SAMPLE;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { gmm_help(stdout); return 0; }
        else if (!strcmp(a, "--in") && v && !smp) { in = v; i++; }
        else if (!strcmp(a, "--out") && v && cmd != SCORE) { out = v; i++; }
        else if (!strcmp(a, "--model") && v && use) { model = v; i++; }
        else if (!strcmp(a, "--cov") && v && fit) { cov_s = v; i++; }
        else if (!strcmp(a, "--init") && v && fit) { init_s = v; i++; }
        else if (!strcmp(a, "--k") && fit) { k = gd_cli_int(a, v, 1, GD_GMM_MAX_K); i++; }
        else if (!strcmp(a, "--n-init") && fit) { n_init = gd_cli_int(a, v, 1, 100000); i++; }
        else if (!strcmp(a, "--max-iter") && fit) { max_iter = gd_cli_int(a, v, 0, 1 << 30); i++; }
        else if (!strcmp(a, "--reg-covar") && fit) { reg = gd_cli_num(a, v, 0, 1e30); i++; }
        else if (!strcmp(a, "--tol") && fit) { tol = gd_cli_num(a, v, 0, 1e30); i++; }
        else if (!strcmp(a, "--seed") && (fit || smp)) { seed = gd_cli_int(a, v, 0, INT_MAX); i++; }
        else if (!strcmp(a, "--n") && smp) { n = gd_cli_int(a, v, 1, 100000000); i++; }
        else if (!strcmp(a, "--proba") && cmd == PREDICT) proba = 1;
        else if (!strcmp(a, "--threads")) { threads = gd_cli_int(a, v, 1, 1024); i++; }
        else {
            fprintf(stderr, "gmmdiff gmm %s: unknown or incomplete flag '%s' (see --help)\n", sub,
                    a);
            return 2;
        }
    }
    gd_set_num_threads(threads);
    gd_error err = {0};
    gd_gmm m = {0};
    double *x = NULL;
    int64_t rows = 0;
    int d = 0, rc = 1;

    if (cmd == FIT) {
        gd_gmm_options o;
        gd_gmm_options_default(&o);
        if (!in || !out || !k) {
            fprintf(stderr, "gmmdiff gmm fit: --in, --k and --out are required (see --help)\n");
            return 2;
        }
        if (gd_gmm_cov_parse(cov_s, &o.cov)) {
            fprintf(stderr, "gmmdiff gmm fit: --cov: '%s' is not full, tied, diag or spherical\n",
                    cov_s);
            return 2;
        }
        if (gd_gmm_init_parse(init_s, &o.init)) {
            fprintf(stderr, "gmmdiff gmm fit: --init: '%s' is not kmeans++, random or "
                            "random_from_data\n", init_s);
            return 2;
        }
        o.k = k;
        o.n_init = n_init;
        o.max_iter = max_iter;
        o.reg_covar = reg;
        o.tol = tol;
        o.seed = (uint64_t)seed;
        if (read_data(in, 0, &x, &rows, &d)) return 1;
        double score, bic;
        if (gd_gmm_fit(&m, x, rows, d, &o, &err) || gd_gmm_score(&m, x, rows, &score, &err) ||
            gd_gmm_bic(&m, x, rows, &bic, &err) || gd_gmm_save(&m, out, &err)) {
            rc = fail(&err);
            goto done;
        }
        printf("fit: %lld points x %d features, k = %d, %s covariances, init %s x %d\n",
               (long long)rows, d, k, gd_gmm_cov_name(o.cov), gd_gmm_init_name(o.init), n_init);
        printf("iterations %d, converged %s, average log-likelihood %.10g, BIC %.10g\n",
               m.n_iter, m.converged ? "yes" : "no", score, bic);
        if (!m.converged && max_iter > 0)
            printf("warning: EM did not converge in %d iterations; raise --max-iter or --tol\n",
                   max_iter);
        printf("wrote %s\n", out);
        rc = 0;
        goto done;
    }

    if (!model || (cmd != SAMPLE && !in) || (cmd == SAMPLE && (!out || !n))) {
        fprintf(stderr, "gmmdiff gmm %s: %s are required (see --help)\n", sub,
                cmd == SAMPLE ? "--model, --n and --out" : "--model and --in");
        return 2;
    }
    if (gd_gmm_load(&m, model, &err)) return fail(&err);
    if (cmd == SAMPLE) {
        x = malloc(sizeof(double) * (size_t)n * m.d);
        if (!x) {
            gd_error_set(&err, GD_ERR_NOMEM, "out of memory for %d samples", n);
            rc = fail(&err);
            goto done;
        }
        gd_rng r;
        gd_rng_seed(&r, (uint64_t)seed);
        if (gd_gmm_sample(&m, &r, n, x, NULL, &err) ||
            gd_gmm_write_matrix(out, x, n, m.d, &err)) {
            rc = fail(&err);
            goto done;
        }
        printf("wrote %d samples of %d features to %s\n", n, m.d, out);
        rc = 0;
        goto done;
    }
    if (read_data(in, m.d, &x, &rows, &d)) goto done;
    if (cmd == SCORE) {
        double score;
        if (gd_gmm_score(&m, x, rows, &score, &err)) {
            rc = fail(&err);
            goto done;
        }
        printf("%.10g\n", score);
        rc = 0;
        goto done;
    }
    /* predict */
    int cols = proba ? m.k : 1;
    double *res = malloc(sizeof(double) * (size_t)rows * cols);
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)rows);
    gd_status s = !res || !lab ? gd_error_set(&err, GD_ERR_NOMEM, "out of memory") : GD_OK;
    if (!s && proba) s = gd_gmm_predict_proba(&m, x, rows, res, &err);
    if (!s && !proba) {
        s = gd_gmm_predict(&m, x, rows, lab, &err);
        for (int64_t i = 0; !s && i < rows; i++) res[i] = lab[i];
    }
    if (!s && out) {
        if (!proba && has_npy_suffix(out)) { /* labels as a 1-D array */
            float *f = malloc(sizeof(float) * (size_t)(rows ? rows : 1));
            if (!f) s = gd_error_set(&err, GD_ERR_NOMEM, "out of memory");
            for (int64_t i = 0; !s && i < rows; i++) f[i] = (float)lab[i];
            if (!s) s = gd_npy_write(out, f, 1, &rows, &err);
            free(f);
        } else {
            s = gd_gmm_write_matrix(out, res, rows, cols, &err);
        }
        if (!s) printf("wrote %s of %lld points to %s\n", proba ? "probabilities" : "labels",
                       (long long)rows, out);
    } else if (!s) {
        for (int64_t i = 0; i < rows; i++)
            for (int c = 0; c < cols; c++)
                printf(proba ? "%.17g%s" : "%.0f%s", res[i * cols + c], c + 1 < cols ? "," : "\n");
    }
    free(res);
    free(lab);
    rc = s ? fail(&err) : 0;
done:
    free(x);
    gd_gmm_free(&m);
    return rc;
}
