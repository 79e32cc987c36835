/* test_threads.c - results do not depend on the thread count: ops and five training steps of
 * the composed network with 1 thread and with 2 (and 3, oversubscribed) agree to float
 * tolerance; the project's own loops agree bit for bit (BLAS may differ in the last bits). */
#include "gmmdiff/ops.h"
#include "gmmdiff/optim.h"
#include "smallnet.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* runs the workload with t threads; writes every result into out (out_n floats) */
static size_t workload(int threads, float *out) {
    gd_set_num_threads(threads);
    gd_rng r;
    gd_rng_seed(&r, 99);
    size_t o = 0;
    /* conv2d forward + backward */
    gd_conv2d_dims d = {5, 8, 9, 9, 6, 3, 2, 1, 0};
    float x[5 * 8 * 81], w[6 * 8 * 9], b[6], y[5 * 6 * 25], dy[5 * 6 * 25];
    gd_rng_fill_normal(&r, x, sizeof x / 4, 0, 1);
    gd_rng_fill_normal(&r, w, sizeof w / 4, 0, 0.3f);
    gd_rng_fill_normal(&r, b, 6, 0, 1);
    gd_rng_fill_normal(&r, dy, sizeof dy / 4, 0, 1);
    float *scratch = calloc(gd_conv2d_scratch_floats(&d), 4);
    float *dx = out + o + sizeof y / 4, *dw = dx + sizeof x / 4, *db = dw + sizeof w / 4;
    gd_conv2d_forward(out + o, x, w, b, &d, scratch);
    memset(dx, 0, sizeof x + sizeof w + sizeof b);
    gd_conv2d_backward(dx, dw, db, dy, x, w, &d, scratch);
    o += (sizeof y + sizeof x + sizeof w + sizeof b) / 4;
    free(scratch);
    /* group norm (own loops only: must be bit-exact) */
    float g[8], be[8], mean[10], rstd[10];
    gd_rng_fill_normal(&r, g, 8, 1, 0.2f);
    gd_rng_fill_normal(&r, be, 8, 0, 0.2f);
    gd_group_norm_forward(out + o, mean, rstd, x, g, be, 5, 8, 81, 2, 1e-5f);
    o += sizeof x / 4;
    /* five training steps of the composed network */
    smallnet s = smallnet_build(3, 8, 8);
    size_t np;
    float *p = gd_graph_params(s.g, &np), *gr = gd_graph_param_grads(s.g, NULL);
    gd_rng_fill_normal(&r, p, np, 0, 0.3f);
    gd_rng_fill_normal(&r, gd_data(s.g, s.x), gd_numel(s.g, s.x), 0, 1);
    gd_rng_fill_normal(&r, gd_data(s.g, s.y), gd_numel(s.g, s.y), 0, 1);
    float *m = calloc(np, 4), *v = calloc(np, 4);
    gd_adamw_config cfg = gd_adamw_defaults();
    for (int step = 1; step <= 5; step++) {
        gd_graph_forward(s.g);
        gd_graph_zero_grad(s.g);
        gd_graph_backward(s.g, s.loss);
        gd_adamw_step(p, gr, m, v, np, step, &cfg);
    }
    memcpy(out + o, p, sizeof(float) * np);
    o += np;
    free(m);
    free(v);
    gd_graph_free(s.g);
    /* a Winograd convolution (16 channels each way, 49 tiles: its weight gradient too),
     * forward + backward; the per-image tasks and fixed groups make it bit-exact */
    gd_conv2d_dims dw2 = {5, 16, 14, 14, 16, 3, 1, 1, 0};
    const size_t nx = 5 * 16 * 196, nw = 16 * 16 * 9;
    float *x2 = malloc(4 * nx), *w2 = malloc(4 * nw), *b2 = malloc(4 * 16), *dy2 = malloc(4 * nx);
    float *scr = calloc(gd_conv2d_scratch_floats(&dw2), 4);
    gd_rng_fill_normal(&r, x2, nx, 0, 1);
    gd_rng_fill_normal(&r, w2, nw, 0, 0.1f);
    gd_rng_fill_normal(&r, b2, 16, 0, 1);
    gd_rng_fill_normal(&r, dy2, nx, 0, 1);
    float *y2 = out + o, *dx2 = y2 + nx, *dww = dx2 + nx, *db2 = dww + nw;
    gd_conv2d_forward(y2, x2, w2, b2, &dw2, scr);
    memset(dx2, 0, 4 * (nx + nw + 16));
    gd_conv2d_backward(dx2, dww, db2, dy2, x2, w2, &dw2, scr);
    o += 2 * nx + nw + 16;
    free(x2);
    free(w2);
    free(b2);
    free(dy2);
    free(scr);
    return o;
}

int main(void) {
    enum { CAP = 200000 };
    float *r1 = calloc(CAP, 4), *r2 = calloc(CAP, 4), *r3 = calloc(CAP, 4);
    size_t n1 = workload(1, r1), n2 = workload(2, r2), n3 = workload(3, r3);
    TEST_COND("same amount of output", n1 == n2 && n2 == n3 && n1 < CAP);
    double e2 = gd_rel_err(r2, r1, n1), e3 = gd_rel_err(r3, r1, n1);
    printf("1 vs 2 threads: %.2e, 1 vs 3 threads: %.2e, bit-identical: %s / %s\n", e2, e3,
           memcmp(r1, r2, 4 * n1) ? "no" : "yes", memcmp(r1, r3, 4 * n1) ? "no" : "yes");
    TEST_COND("2 threads agree with 1 to float tolerance", e2 <= 1e-5);
    TEST_COND("3 threads agree with 1 to float tolerance", e3 <= 1e-5);
    /* the group-norm slice comes from our own loops only: bitwise equal */
    size_t gn_off = (5 * 6 * 25 + 5 * 8 * 81 + 6 * 8 * 9 + 6), gn_n = 5 * 8 * 81;
    TEST_COND("own loops are bit-identical across thread counts",
              !memcmp(r1 + gn_off, r2 + gn_off, 4 * gn_n) &&
                  !memcmp(r1 + gn_off, r3 + gn_off, 4 * gn_n));
    size_t wn = 2 * 5 * 16 * 196 + 16 * 16 * 9 + 16, wo = n1 - wn; /* the Winograd conv, last */
    TEST_COND("Winograd convolution is bit-identical across thread counts",
              !memcmp(r1 + wo, r2 + wo, 4 * wn) && !memcmp(r1 + wo, r3 + wo, 4 * wn));
    free(r1);
    free(r2);
    free(r3);
    return gd_test_report("test_threads");
}
