/* test_core.c - RNG determinism and statistics, error messages, asserts that stay on. */
#include "gmmdiff/core.h"
#include "gmmdiff/graph.h"
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* runs fn in a child process; returns 1 when the child died of SIGABRT (a tripped assert) */
static int aborts(void (*fn)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void bad_conv(void) {
    gd_graph *g = gd_graph_new();
    gd_t x = gd_input(g, "x", 4, (int[]){2, 3, 8, 8}, 0);
    gd_t w = gd_param(g, "w", 4, (int[]){4, 5, 3, 3}); /* 5 input channels != 3 */
    gd_op_conv2d(g, x, w, -1, 1, 1);
}
static void bad_add(void) {
    gd_graph *g = gd_graph_new();
    gd_t a = gd_input(g, "a", 2, (int[]){2, 3}, 0), b = gd_input(g, "b", 2, (int[]){3, 2}, 0);
    gd_op_add(g, a, b);
}
static void bad_group_norm(void) {
    gd_graph *g = gd_graph_new();
    gd_t x = gd_input(g, "x", 4, (int[]){2, 6, 4, 4}, 0);
    gd_t ga = gd_param(g, "g", 1, (int[]){6}), be = gd_param(g, "b", 1, (int[]){6});
    gd_op_group_norm(g, x, ga, be, 4, 1e-5f); /* 4 groups do not divide 6 channels */
}
static void bad_linear(void) {
    gd_graph *g = gd_graph_new();
    gd_t x = gd_input(g, "x", 2, (int[]){2, 3}, 0);
    gd_t w = gd_param(g, "w", 2, (int[]){4, 5});
    gd_op_linear(g, x, w, -1);
}
static void good_graph(void) {
    gd_graph *g = gd_graph_new();
    gd_t x = gd_input(g, "x", 4, (int[]){2, 3, 8, 8}, 0);
    gd_t w = gd_param(g, "w", 4, (int[]){4, 3, 3, 3});
    gd_op_conv2d(g, x, w, -1, 1, 1);
    gd_graph_free(g);
}

int main(void) {
    /* the same seed gives the same stream; different seeds differ */
    gd_rng a, b;
    gd_rng_seed(&a, 42);
    gd_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= gd_rng_u64(&a) == gd_rng_u64(&b);
    TEST_COND("rng: same seed, same stream", same);
    gd_rng_seed(&b, 43);
    TEST_COND("rng: other seed, other stream", gd_rng_u64(&a) != gd_rng_u64(&b));

    /* the stream is pinned: these values are the xoshiro256** outputs for seed 0 (splitmix64
     * seeding) as given by the reference algorithm; a change here breaks every recorded run */
    gd_rng_seed(&a, 0);
    uint64_t first = gd_rng_u64(&a);
    TEST_COND("rng: pinned first output for seed 0", first == 0x99ec5f36cb75f2b4ULL);

    /* gd_det_log against libm */
    double worst = 0.0;
    for (double x = 1e-300; x < 1e300; x *= 1.37) {
        double e = fabs(gd_det_log(x) - log(x)) / fmax(1.0, fabs(log(x)));
        if (e > worst) worst = e;
    }
    TEST_COND("det_log: matches libm to 1e-15", worst < 1e-15);

    /* uniform and normal moments */
    gd_rng_seed(&a, 7);
    enum { N = 200000 };
    double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0;
    double umin = 1, umax = 0;
    for (int i = 0; i < N; i++) {
        double u = gd_rng_uniform(&a), z = gd_rng_normal(&a);
        su += u; su2 += u * u; sn += z; sn2 += z * z; sn4 += z * z * z * z;
        if (u < umin) umin = u;
        if (u > umax) umax = u;
    }
    TEST_COND("uniform: in [0,1)", umin >= 0.0 && umax < 1.0);
    TEST_COND("uniform: mean 1/2", fabs(su / N - 0.5) < 0.005);
    TEST_COND("uniform: variance 1/12", fabs(su2 / N - 0.25 - (su / N - 0.5) - 1.0 / 12) < 0.005);
    TEST_COND("normal: mean 0", fabs(sn / N) < 0.01);
    TEST_COND("normal: variance 1", fabs(sn2 / N - 1.0) < 0.01);
    TEST_COND("normal: kurtosis 3", fabs(sn4 / N - 3.0) < 0.1);
    int below_ok = 1, hits[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t k = gd_rng_below(&a, 7);
        below_ok &= k < 7;
        hits[k < 7 ? k : 0]++;
    }
    for (int k = 0; k < 7; k++) below_ok &= abs(hits[k] - 10000) < 500;
    TEST_COND("rng_below: uniform over [0, 7)", below_ok);

    /* errors */
    gd_error err = {0};
    gd_status s = gd_error_set(&err, GD_ERR_IO, "%s: cannot open", "x.bin");
    TEST_COND("error: status returned", s == GD_ERR_IO && err.status == GD_ERR_IO);
    TEST_COND("error: message kept", strcmp(err.msg, "x.bin: cannot open") == 0);
    TEST_COND("error: NULL err is allowed", gd_error_set(NULL, GD_ERR_ARG, "x") == GD_ERR_ARG);
    gd_free(NULL);
    gd_graph_free(NULL);

    /* asserts stay on in every build and catch mismatched shapes */
    TEST_COND("assert: conv channel mismatch aborts", aborts(bad_conv));
    TEST_COND("assert: add shape mismatch aborts", aborts(bad_add));
    TEST_COND("assert: group norm groups mismatch aborts", aborts(bad_group_norm));
    TEST_COND("assert: linear width mismatch aborts", aborts(bad_linear));
    TEST_COND("assert: a valid graph does not abort", !aborts(good_graph));
    return gd_test_report("test_core");
}
