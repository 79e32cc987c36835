/* cmd_bench.c - `gmmdiff bench conv`: conv2d forward+backward timings (the C side of
 * bench/conv_bench.sh). Prints one line per shape and a weighted total, in milliseconds.
 * `gmmdiff bench gmm` (EM against scikit-learn) is tools/bench_gmm.c. */
#include "cli.h"
#include "gmmdiff/core.h"
#include "gmmdiff/ops.h"
#include "core/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double gd_bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int gd_bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench_help(void) {
    printf("usage: gmmdiff bench train|sample ... (see gmmdiff bench train --help)\n"
           "       gmmdiff bench gmm ... (EM against scikit-learn; see gmmdiff bench gmm --help)\n"
           "       gmmdiff bench conv [--shapes FILE] [--batch N] [--reps R] [--threads T]\n"
           "  --shapes FILE  lines 'count in_ch out_ch hw kernel stride' (default\n"
           "                 bench/unet28_convs.txt)\n"
           "  --batch N      batch size (default 64)\n"
           "  --reps R       timed repetitions per shape, the median is reported (default 5)\n"
           "  --threads T    threads for OpenMP and BLAS (default: all cores)\n");
}

int gd_cmd_bench(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        bench_help();
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train") || !strcmp(argv[1], "sample"))
        return gd_bench_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "gmm")) return gd_bench_gmm(argc - 1, argv + 1);
    if (strcmp(argv[1], "conv") != 0) {
        fprintf(stderr, "gmmdiff bench: unknown benchmark '%s' (known: conv, train, sample, "
                "gmm)\n", argv[1]);
        return 2;
    }
    const char *shapes = "bench/unet28_convs.txt";
    int batch = 64, reps = 5, threads = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { bench_help(); return 0; }
        else if (!strcmp(a, "--shapes") && v) { shapes = v; i++; }
        else if (!strcmp(a, "--batch")) { batch = gd_cli_int(a, v, 1, 4096); i++; }
        else if (!strcmp(a, "--reps")) { reps = gd_cli_int(a, v, 1, 1000); i++; }
        else if (!strcmp(a, "--threads")) { threads = gd_cli_int(a, v, 1, 1024); i++; }
        else {
            fprintf(stderr, "gmmdiff bench conv: unknown or incomplete flag '%s'\n", a);
            return 2;
        }
    }
    gd_set_num_threads(threads);
    FILE *f = fopen(shapes, "r");
    if (!f) {
        fprintf(stderr, "gmmdiff bench conv: cannot open %s\n", shapes);
        return 1;
    }
    gd_rng rng;
    gd_rng_seed(&rng, 1);
    double total = 0.0;
    char line[256];
    int lineno = 0;
    printf("# gmmdiff conv2d fwd+bwd, batch %d, threads %d, median of %d, OpenBLAS %s\n", batch,
           gd_get_num_threads(), reps, gd_blas_corename());
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') continue;
        int count, ic, oc, hw, k, s;
        if (sscanf(line, "%d %d %d %d %d %d", &count, &ic, &oc, &hw, &k, &s) != 6 || count < 1 ||
            ic < 1 || oc < 1 || hw < 1 || k < 1 || s < 1) {
            fprintf(stderr, "gmmdiff bench conv: %s:%d: expected 'count ic oc hw k stride'\n",
                    shapes, lineno);
            fclose(f);
            return 1;
        }
        gd_conv2d_dims d = {batch, ic, hw, hw, oc, k, s, k / 2, threads};
        int oh = gd_conv2d_out_size(hw, k, s, k / 2);
        size_t nx = (size_t)batch * ic * hw * hw, nw = (size_t)oc * ic * k * k;
        size_t ny = (size_t)batch * oc * oh * oh;
        float *x = gd_malloc(4 * nx), *dx = gd_malloc(4 * nx), *w = gd_malloc(4 * nw);
        float *dw = gd_malloc(4 * nw), *b = gd_malloc(4 * oc), *db = gd_malloc(4 * oc);
        float *y = gd_malloc(4 * ny), *dy = gd_malloc(4 * ny);
        float *scratch = gd_malloc(4 * gd_conv2d_scratch_floats(&d));
        double *times = malloc(sizeof(double) * (size_t)reps);
        if (!x || !dx || !w || !dw || !b || !db || !y || !dy || !scratch || !times) {
            fprintf(stderr, "gmmdiff bench conv: out of memory\n");
            return 1;
        }
        gd_rng_fill_normal(&rng, x, nx, 0, 1);
        gd_rng_fill_normal(&rng, w, nw, 0, 0.1f);
        gd_rng_fill_normal(&rng, b, oc, 0, 0.1f);
        gd_rng_fill_normal(&rng, dy, ny, 0, 1);
        for (int r = -1; r < reps; r++) {
            double t0 = gd_bench_now_ms();
            gd_conv2d_forward(y, x, w, b, &d, scratch);
            memset(dx, 0, 4 * nx);
            memset(dw, 0, 4 * nw);
            memset(db, 0, 4 * oc);
            gd_conv2d_backward(dx, dw, db, dy, x, w, &d, scratch);
            if (r >= 0) times[r] = gd_bench_now_ms() - t0;
        }
        qsort(times, (size_t)reps, sizeof(double), gd_bench_cmp_double);
        double med = times[reps / 2];
        total += count * med;
        printf("conv ic=%d oc=%d hw=%d k=%d s=%d count=%d ms=%.3f\n", ic, oc, hw, k, s, count, med);
        gd_free(x); gd_free(dx); gd_free(w); gd_free(dw); gd_free(b); gd_free(db);
        gd_free(y); gd_free(dy); gd_free(scratch); free(times);
    }
    fclose(f);
    printf("TOTAL ms=%.3f\n", total);
    return 0;
}
