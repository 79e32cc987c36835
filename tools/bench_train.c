/* bench_train.c - `gmmdiff bench train` and `gmmdiff bench sample`: the C side of
 * bench/train_bench.sh. A UNet2DModel (a config.json, or the default 28x28 one: channels 32, 64,
 * 128, attention at the lowest level) is trained by the real trainer (noise, forward, MSE,
 * backward, clipping, AdamW, EMA) on synthetic data, or samples with DDIM from a graph planned
 * for inference, as `gmmdiff sample` does. Prints one line per timed step or call and, last,
 * the median, the model FLOPs rate and the peak memory. */
#include "cli.h"
#include "gmmdiff/core.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/graph.h"
#include "gmmdiff/train.h"
#include "gmmdiff/unet.h"
#include "core/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>


/* resident set size now, in MiB (/proc/self/statm's second field) */
static double rss_mib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static void bench_train_help(const char *what) {
    printf("usage: gmmdiff bench %s [--config FILE] [--batch N] [--steps S] [--warmup W]\n"
           "                         [--threads T] [--sample-steps K]\n"
           "  --config FILE     a UNet2DModel config.json (default: the 28x28 default UNet,\n"
           "                    channels 32,64,128, attention at the lowest level)\n"
           "  --batch N         batch size (default 64)\n"
           "  --steps S         timed steps (train) or sampling calls (sample) (default 10 / 2)\n"
           "  --warmup W        untimed steps or calls first (default 2 / 1)\n"
           "  --sample-steps K  DDIM steps per sampling call (default 50)\n"
           "  --threads T       threads for OpenMP and BLAS (default: all cores)\n"
           "  --write-config F  write the model's config.json to F and exit\n"
           "  --profile         print the time of each op kind over the timed steps\n",
           what);
}

/* the model FLOPs of one forward of UNet u at batch n, counted on its graph */
static double unet_forward_flops(const gd_unet_config *u, int n) {
    gd_graph *g = gd_graph_new();
    gd_unet_declare(g, u, n, u->sample_size, u->sample_size);
    double f = gd_graph_flops(g);
    gd_graph_free(g);
    return f;
}

/* sgemm GFLOP/s of this machine at threads: a 1024^3 product, median of 5 */
static double sgemm_gflops(void) {
    const int M = 1024;
    float *a = gd_malloc(4 * (size_t)M * M), *b = gd_malloc(4 * (size_t)M * M);
    float *c = gd_malloc(4 * (size_t)M * M);
    if (!a || !b || !c) return 0;
    for (size_t i = 0; i < (size_t)M * M; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    double t[5];
    for (int r = -1; r < 5; r++) {
        double t0 = gd_bench_now_ms();
        gd_sgemm(0, 0, M, M, M, 1.0f, a, M, b, M, 0.0f, c, M);
        if (r >= 0) t[r] = gd_bench_now_ms() - t0;
    }
    qsort(t, 5, sizeof(double), gd_bench_cmp_double);
    gd_free(a);
    gd_free(b);
    gd_free(c);
    return 2.0 * M * M * M / (t[2] * 1e6);
}

int gd_bench_train(int argc, char **argv) {
    const int sample = !strcmp(argv[0], "sample");
    const char *config = NULL, *dump = NULL;
    int profile = 0;
    int batch = 64, steps = sample ? 2 : 10, warmup = sample ? 1 : 2, threads = 0, ksteps = 50;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { bench_train_help(argv[0]); return 0; }
        else if (!strcmp(a, "--config") && v) { config = v; i++; }
        else if (!strcmp(a, "--write-config") && v) { dump = v; i++; }
        else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--batch")) { batch = gd_cli_int(a, v, 1, 4096); i++; }
        else if (!strcmp(a, "--steps")) { steps = gd_cli_int(a, v, 1, 100000); i++; }
        else if (!strcmp(a, "--warmup")) { warmup = gd_cli_int(a, v, 0, 100000); i++; }
        else if (!strcmp(a, "--threads")) { threads = gd_cli_int(a, v, 1, 1024); i++; }
        else if (!strcmp(a, "--sample-steps")) { ksteps = gd_cli_int(a, v, 1, 1000); i++; }
        else {
            fprintf(stderr, "gmmdiff bench %s: unknown or incomplete flag '%s'\n", argv[0], a);
            return 2;
        }
    }
    gd_set_num_threads(threads);
    gd_error err = {0};
    gd_unet_config u;
    gd_unet_config_default(&u);
    if (config && gd_unet_config_load(&u, config, &err)) {
        fprintf(stderr, "gmmdiff bench %s: %s\n", argv[0], err.msg);
        return 1;
    }
    if (dump) { /* the model's config.json, for the peer to build the same model */
        if (gd_unet_config_save(&u, dump, &err)) {
            fprintf(stderr, "gmmdiff bench %s: %s\n", argv[0], err.msg);
            return 1;
        }
        return 0;
    }
    if (u.class_embed != GD_CLASS_EMBED_NONE) {
        fprintf(stderr, "gmmdiff bench %s: %s: the benchmark model has no class input\n",
                argv[0], config);
        return 1;
    }
    double rss0 = rss_mib();
    gd_dataset d;
    memset(&d, 0, sizeof d);
    gd_trainer *t = NULL;
    gd_graph *sg = NULL;
    gd_unet_io io = {0};
    gd_noise_schedule sched = {0};
    gd_sampler_config sc = gd_sampler_defaults(GD_SAMPLER_DDIM);
    gd_rng rng;
    gd_rng_seed(&rng, 7);
    if (sample) { /* a forward-only graph, as `gmmdiff sample` plans it, with fresh weights */
        gd_scheduler_config schc;
        gd_scheduler_config_default(&schc);
        sc.steps = ksteps;
        sg = gd_graph_new();
        io = gd_unet_declare(sg, &u, batch, u.sample_size, u.sample_size);
        if (gd_graph_plan_inference(sg, &err) || gd_schedule_from_config(&sched, &schc, &err)) {
            fprintf(stderr, "gmmdiff bench %s: %s\n", argv[0], err.msg);
            gd_graph_free(sg);
            return 1;
        }
        gd_unet_init(sg, &rng);
    } else { /* the trainer on synthetic data: uniform noise in [-1, 1], one class */
        int n_items = batch * 4;
        if (gd_dataset_alloc(&d, n_items, u.in_channels, u.sample_size, u.sample_size, 0,
                             &err)) {
            fprintf(stderr, "gmmdiff bench %s: %s\n", argv[0], err.msg);
            return 1;
        }
        snprintf(d.name, sizeof d.name, "bench");
        d.n_classes = 1;
        size_t nimg = (size_t)n_items * u.in_channels * u.sample_size * u.sample_size;
        gd_rng_fill_uniform(&rng, d.images, nimg, -1.0f, 1.0f);
        gd_train_config c;
        gd_train_config_default(&c);
        c.batch = batch;
        c.cond = GD_COND_NONE;
        c.warmup = 0;
        c.steps = 1000000;
        c.lr = 1e-4f;
        if (gd_trainer_new(&t, &c, &u, &d, &err)) {
            fprintf(stderr, "gmmdiff bench %s: %s\n", argv[0], err.msg);
            gd_dataset_free(&d);
            return 1;
        }
    }
    double flops = unet_forward_flops(&u, batch) * (sample ? ksteps : 3.0);
    printf("# gmmdiff %s, batch %d, %dx%d, threads %d, OpenBLAS %s\n",
           sample ? "DDIM sampling" : "training step", batch, u.sample_size, u.sample_size,
           gd_get_num_threads(), gd_blas_corename());
    double *times = malloc(sizeof(double) * (size_t)steps);
    float *x = sample ? malloc(sizeof(float) * (size_t)batch * u.in_channels * u.sample_size *
                               u.sample_size) : NULL;
    int rc = 0;
    if (!times || (sample && !x)) {
        fprintf(stderr, "gmmdiff bench %s: out of memory\n", argv[0]);
        rc = 1;
        goto done;
    }
    for (int r = -warmup; r < steps; r++) {
        if (r == 0 && profile) gd_graph_profile(1);
        double t0 = gd_bench_now_ms();
        float loss = 0, norm = 0;
        gd_guidance guide = {1.0f, 0.0f};
        gd_status s = sample ? gd_unet_sample(sg, &io, &sc, &sched, NULL, NULL, &guide, x, &rng,
                                              &err)
                             : gd_trainer_step(t, &loss, &norm, &err);
        if (s) {
            fprintf(stderr, "gmmdiff bench %s: %s\n", argv[0], err.msg);
            rc = 1;
            goto done;
        }
        double ms = gd_bench_now_ms() - t0;
        if (r >= 0) times[r] = ms;
        printf("%s %d ms=%.2f%s", r < 0 ? "warmup" : "step", r, ms, sample ? "\n" : "");
        if (!sample) printf(" loss=%.5f\n", (double)loss);
    }
    if (profile) {
        gd_graph_profile(0);
        gd_graph_profile_report(stdout);
    }
    qsort(times, (size_t)steps, sizeof(double), gd_bench_cmp_double);
    double med = times[steps / 2];
    double peak = peak_rss_mib(); /* before the sgemm measurement's buffers */
    double gf = sgemm_gflops();
    printf("model GFLOP per %s: %.2f; achieved %.1f GFLOP/s; sgemm 1024^3 %.1f GFLOP/s "
           "(%.0f%%)\n", sample ? "call" : "step", flops / 1e9, flops / (med * 1e6), gf,
           gf > 0 ? 100.0 * flops / (med * 1e6) / gf : 0.0);
    printf("MEM peak_rss_mib=%.1f base_rss_mib=%.1f\n", peak, rss0);
    printf("MEDIAN ms=%.3f\n", med);
done:
    free(times);
    free(x);
    gd_trainer_free(t);
    gd_dataset_free(&d);
    gd_graph_free(sg);
    gd_schedule_free(&sched);
    return rc;
}
