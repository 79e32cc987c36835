/* test_graph.c - the graph driver: gradient flags, explicit zeroing and accumulation, a
 * whole-graph finite-difference check, determinism, parameter save/load and its errors. */
#include "gmmdiff/safetensors.h"
#include "smallnet.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void randomise(smallnet *s, uint64_t seed) {
    gd_rng r;
    gd_rng_seed(&r, seed);
    size_t np;
    float *p = gd_graph_params(s->g, &np);
    gd_rng_fill_normal(&r, p, np, 0.0f, 0.3f);
    gd_rng_fill_normal(&r, gd_data(s->g, s->x), gd_numel(s->g, s->x), 0.0f, 1.0f);
    gd_rng_fill_normal(&r, gd_data(s->g, s->y), gd_numel(s->g, s->y), 0.0f, 1.0f);
}

static double loss_at(smallnet *s) {
    gd_graph_forward(s->g);
    return gd_data(s->g, s->loss)[0];
}

int main(void) {
    smallnet s = smallnet_build(2, 6, 6);
    randomise(&s, 11);
    size_t np;
    float *p = gd_graph_params(s.g, &np), *g = gd_graph_param_grads(s.g, NULL);

    TEST_COND("input without gradient has none", gd_grad(s.g, s.x) == NULL);
    TEST_COND("parameters have gradients", g != NULL && np == 16 * 27 + 16 + 32 + 32 +
                                                              4 * (256 + 16) + 3 * 144 + 3);
    TEST_COND("output has a gradient", gd_grad(s.g, s.out) != NULL);

    /* determinism of repeated forwards */
    float l1 = (float)loss_at(&s), l2 = (float)loss_at(&s);
    TEST_COND("forward is repeatable bit for bit", memcmp(&l1, &l2, sizeof l1) == 0);

    /* backward adds; zeroing is explicit */
    gd_graph_zero_grad(s.g);
    gd_graph_backward(s.g, s.loss);
    float *once = malloc(sizeof(float) * np);
    memcpy(once, g, sizeof(float) * np);
    gd_graph_backward(s.g, s.loss);
    int doubled = 1;
    for (size_t i = 0; i < np; i++) doubled &= fabsf(g[i] - 2 * once[i]) <= 1e-6f * fabsf(once[i]) + 1e-12f;
    TEST_COND("a second backward without zeroing doubles the gradients", doubled);
    gd_graph_zero_grad(s.g);
    gd_graph_backward(s.g, s.loss);
    TEST_COND("zero_grad then backward gives the same gradients",
              memcmp(g, once, sizeof(float) * np) == 0);

    /* whole-graph check: d loss / d p by central differences of the float forward on a sample
     * of parameters (every tensor at least once); float forward noise limits this to ~1e-3 */
    gd_rng r;
    gd_rng_seed(&r, 5);
    double md = 0, mg = 0;
    for (int i = 0; i < gd_graph_num_params(s.g); i++) {
        gd_t t = gd_graph_param(s.g, i);
        float *d = gd_data(s.g, t), *gt = gd_grad(s.g, t);
        for (int k = 0; k < 3; k++) {
            size_t j = (size_t)gd_rng_below(&r, gd_numel(s.g, t));
            float x0 = d[j], h = 1e-2f;
            d[j] = x0 + h;
            double lp = loss_at(&s);
            d[j] = x0 - h;
            double lm = loss_at(&s);
            d[j] = x0;
            double fd = (lp - lm) / (2.0 * h);
            md = fmax(md, fabs(fd - gt[j]));
            mg = fmax(mg, fabs(fd));
        }
    }
    printf("whole-graph gradient vs central differences: max error %.2e, max gradient %.2e\n",
           md, mg);
    TEST_COND("whole-graph gradients match central differences", md <= 5e-3 * mg);

    /* parameters round-trip through safetensors */
    char path[] = "/tmp/gd_test_graph_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    gd_error err = {0};
    TEST_COND("save parameters", gd_graph_save_params(s.g, path, &err) == GD_OK);
    smallnet s2 = smallnet_build(2, 6, 6);
    gd_safetensors st;
    TEST_COND("open saved parameters", gd_st_open(&st, path, &err) == GD_OK);
    TEST_COND("load saved parameters", gd_graph_load_params(s2.g, &st, "", &err) == GD_OK);
    TEST_COND("parameters round-trip exactly",
              memcmp(gd_graph_params(s2.g, NULL), p, sizeof(float) * np) == 0);
    gd_st_close(&st);

    /* a file whose tensor has the wrong shape is refused, naming file and tensor */
    float wrong[16 * 3 * 3 * 2] = {0};
    gd_st_entry e = {"conv_in.weight", wrong, 4, (int64_t[]){16, 2, 3, 3}};
    TEST_COND("write mismatching file", gd_st_write(path, &e, 1, &err) == GD_OK);
    TEST_COND("open mismatching file", gd_st_open(&st, path, &err) == GD_OK);
    gd_status rc = gd_graph_load_params(s2.g, &st, "", &err);
    printf("shape mismatch message: %s\n", err.msg);
    TEST_COND("shape mismatch is GD_ERR_SHAPE", rc == GD_ERR_SHAPE);
    TEST_COND("message names the file", strstr(err.msg, path) != NULL);
    TEST_COND("message names the tensor", strstr(err.msg, "conv_in.weight") != NULL);
    TEST_COND("message gives both shapes",
              strstr(err.msg, "[16,2,3,3]") && strstr(err.msg, "[16,3,3,3]"));
    gd_st_close(&st);
    unlink(path);

    /* an op declared exactly when the tensor table grows: its builder must not read the input's
     * shape through a pointer into the old table (AddressSanitizer catches a regression) */
    for (int fill = 60; fill < 70; fill++) {
        gd_graph *g3 = gd_graph_new();
        gd_t x3 = gd_input(g3, "x", 4, (int[]){2, 4, 3, 3}, 0);
        gd_t ga = gd_param(g3, "g", 1, (int[]){4}), bb = gd_param(g3, "b", 1, (int[]){4});
        for (int i = 3; i < fill; i++) gd_op_silu(g3, x3);
        gd_t y3 = gd_op_group_norm(g3, x3, ga, bb, 2, 1e-5f);
        gd_t z3 = gd_op_attention(g3, y3, (gd_t[]){ga, bb, gd_param(g3, "q", 2, (int[]){4, 4}), ga,
                                                   gd_param(g3, "k", 2, (int[]){4, 4}), ga,
                                                   gd_param(g3, "v", 2, (int[]){4, 4}), ga,
                                                   gd_param(g3, "o", 2, (int[]){4, 4}), ga},
                                  2, 2, 1e-5f);
        int ok = gd_ndim(g3, y3) == 4 && gd_shape(g3, y3)[1] == 4 && gd_shape(g3, z3)[3] == 3;
        ok &= gd_graph_plan(g3, &err) == GD_OK;
        if (fill == 60 || !ok) TEST_COND("ops declared across table growth keep their shapes", ok);
        gd_graph_free(g3);
    }

    /* activation gradients share memory: a chain of L SiLUs needs L activations but only a few
     * gradient buffers, so ten more ops cost exactly ten more activations */
    {
        const int shape[2] = {3, 50};
        size_t bytes[2];
        float *gx[2], dt[150];
        for (int i = 0; i < 150; i++) dt[i] = 0.01f * (float)(i % 17) - 0.07f;
        for (int v = 0; v < 2; v++) {
            int L = v ? 20 : 10;
            gd_graph *c = gd_graph_new();
            gd_t x = gd_input(c, "x", 2, shape, 1), h = x, mid = -1;
            for (int i = 0; i < L; i++) {
                h = gd_op_silu(c, h);
                if (i == 4) mid = h;
            }
            gd_t tg = gd_input(c, "target", 2, shape, 0);
            gd_t loss = gd_op_mse(c, h, tg);
            TEST_COND("chain plans", gd_graph_plan(c, &err) == GD_OK);
            for (int i = 0; i < 150; i++) gd_data(c, x)[i] = 0.02f * (float)i - 1.5f;
            gd_graph_forward(c);
            gd_graph_backward(c, loss);
            /* then from the fifth SiLU with a given output gradient: every gradient buffer the
             * full pass left behind must be cleared before it is reused */
            gd_graph_backward_seed(c, mid, dt);
            gx[v] = malloc(sizeof(float) * 150);
            memcpy(gx[v], gd_grad(c, x), sizeof(float) * 150);
            bytes[v] = gd_graph_bytes(c);
            gd_graph_free(c);
        }
        TEST_COND("ten more ops cost ten activations, no more gradient memory",
                  bytes[1] - bytes[0] == 10 * 150 * sizeof(float));
        /* d/dx of silu^5 by hand, with dt */
        double worst = 0;
        for (int i = 0; i < 150; i++) {
            double h = 0.02 * i - 1.5, d = 1;
            for (int k = 0; k < 5; k++) {
                double sg = 1 / (1 + exp(-h));
                d *= sg * (1 + h * (1 - sg));
                h *= sg;
            }
            double e = fabs(d * dt[i] - gx[0][i]);
            if (e > worst) worst = e;
        }
        TEST_COND("a backward seeded mid-chain after a full one gives that chain's gradient",
                  worst < 1e-6 && memcmp(gx[0], gx[1], sizeof(float) * 150) == 0);
        free(gx[0]);
        free(gx[1]);
    }

    /* activations share memory too: in blocks h = silu(h) + c the SiLU output is read only by
     * the add, whose backward needs no input, so its memory is reused; the add's output is
     * read by the next SiLU's backward and kept. Ten more blocks cost ten activations. An
     * inference plan keeps none of them: its size does not grow with the chain. */
    {
        const int shape[2] = {3, 50};
        size_t bytes[2], ibytes[2];
        float *gx[2], *out[2];
        for (int v = 0; v < 2; v++) {
            int L = v ? 20 : 10;
            for (int inf = 0; inf < 2; inf++) {
                gd_graph *c = gd_graph_new();
                gd_t x = gd_input(c, "x", 2, shape, 1), cc = gd_input(c, "c", 2, shape, 0), h = x;
                for (int i = 0; i < L; i++) h = gd_op_add(c, gd_op_silu(c, h), cc);
                gd_t tg = gd_input(c, "target", 2, shape, 0);
                gd_t loss = gd_op_mse(c, h, tg);
                gd_status ps = inf ? gd_graph_plan_inference(c, &err) : gd_graph_plan(c, &err);
                TEST_COND("block chain plans", ps == GD_OK);
                for (int i = 0; i < 150; i++) {
                    gd_data(c, x)[i] = 0.02f * (float)i - 1.5f;
                    gd_data(c, cc)[i] = 0.01f * (float)(i % 7) - 0.03f;
                    gd_data(c, tg)[i] = 0.0f;
                }
                gd_graph_forward(c);
                if (inf) {
                    ibytes[v] = gd_graph_bytes(c);
                    TEST_COND("an inference plan has no gradients", gd_grad(c, x) == NULL);
                    if (v == 0)
                        TEST_COND("an inference forward gives the training plan's loss",
                                  gd_data(c, loss)[0] == out[0][0]);
                } else {
                    out[v] = malloc(sizeof(float));
                    out[v][0] = gd_data(c, loss)[0];
                    gd_graph_backward(c, loss);
                    gx[v] = malloc(sizeof(float) * 150);
                    memcpy(gx[v], gd_grad(c, x), sizeof(float) * 150);
                    bytes[v] = gd_graph_bytes(c);
                }
                gd_graph_free(c);
            }
        }
        TEST_COND("ten more blocks cost ten activations",
                  bytes[1] - bytes[0] == 10 * 150 * sizeof(float));
        TEST_COND("an inference plan does not grow with the chain", ibytes[1] == ibytes[0]);
        /* d loss / dx through ten blocks, by hand: prod silu'(h_k) * 2 (h_L - 0) / 150 */
        double worst = 0, scale = 0;
        for (int i = 0; i < 150; i++) {
            double h = 0.02 * i - 1.5, c = 0.01 * (i % 7) - 0.03, d = 1;
            for (int k = 0; k < 10; k++) {
                double sg = 1 / (1 + exp(-h));
                d *= sg * (1 + h * (1 - sg));
                h = h * sg + c;
            }
            d *= 2 * h / 150;
            worst = fmax(worst, fabs(d - gx[0][i]));
            scale = fmax(scale, fabs(d));
        }
        TEST_COND("gradients through reused activations are right", worst <= 1e-5 * scale);
        for (int v = 0; v < 2; v++) {
            free(gx[v]);
            free(out[v]);
        }
    }

    /* model FLOPs, counted from shapes: a conv, a linear and an attention block */
    {
        gd_graph *c = gd_graph_new();
        gd_t x = gd_input(c, "x", 4, (int[]){2, 3, 6, 6}, 0);
        gd_t h = gd_op_conv2d(c, x, gd_param(c, "w", 4, (int[]){8, 3, 3, 3}), -1, 2, 1);
        gd_t ap[10];
        for (int i = 0; i < 10; i++) {
            char nm[8];
            snprintf(nm, sizeof nm, "a%d", i);
            ap[i] = i >= 2 && i % 2 == 0 ? gd_param(c, nm, 2, (int[]){8, 8})
                                         : gd_param(c, nm, 1, (int[]){8});
        }
        h = gd_op_attention(c, h, ap, 2, 2, 1e-5f);
        h = gd_op_reshape(c, h, 2, (int[]){2, 72});
        gd_op_linear(c, h, gd_param(c, "l", 2, (int[]){5, 72}), -1);
        /* conv 2*8*3*3 outputs x 27, attention 2 x (4*64*9 + 2*81*8), linear 2*72*5; x 2 */
        double want = 2.0 * (2 * 8 * 9 * 27 + 2 * (4 * 64 * 9 + 2 * 81 * 8) + 2 * 72 * 5);
        TEST_COND("gd_graph_flops counts conv, attention and linear", gd_graph_flops(c) == want);
        gd_graph_free(c);
    }

    /* the fused group norm + SiLU is bit for bit the two ops: values and every gradient */
    {
        const int shape[4] = {3, 8, 5, 7};
        float *res[2][4];
        for (int v = 0; v < 2; v++) {
            gd_graph *c = gd_graph_new();
            gd_t x = gd_input(c, "x", 4, shape, 1);
            gd_t ga = gd_param(c, "gamma", 1, (int[]){8}), be = gd_param(c, "beta", 1, (int[]){8});
            gd_t y = v ? gd_op_group_norm_silu(c, x, ga, be, 4, 1e-5f)
                       : gd_op_silu(c, gd_op_group_norm(c, x, ga, be, 4, 1e-5f));
            gd_t tg = gd_input(c, "target", 4, shape, 0);
            gd_t loss = gd_op_mse(c, y, tg);
            TEST_COND("norm+silu graph plans", gd_graph_plan(c, &err) == GD_OK);
            gd_rng r;
            gd_rng_seed(&r, 9);
            gd_rng_fill_normal(&r, gd_data(c, x), 840, 0.5f, 2.0f);
            gd_rng_fill_normal(&r, gd_data(c, tg), 840, 0.0f, 1.0f);
            gd_rng_fill_normal(&r, gd_data(c, ga), 8, 1.0f, 0.3f);
            gd_rng_fill_normal(&r, gd_data(c, be), 8, 0.0f, 0.3f);
            gd_graph_forward(c);
            gd_graph_zero_grad(c);
            gd_graph_backward(c, loss);
            const gd_t keep[4] = {y, x, ga, be};
            for (int k = 0; k < 4; k++) {
                size_t n = gd_numel(c, keep[k]);
                res[v][k] = malloc(sizeof(float) * n);
                memcpy(res[v][k], k ? gd_grad(c, keep[k]) : gd_data(c, keep[k]),
                       sizeof(float) * n);
            }
            gd_graph_free(c);
        }
        int same = 1;
        const size_t sizes[4] = {840, 840, 8, 8};
        for (int k = 0; k < 4; k++) {
            same &= memcmp(res[0][k], res[1][k], sizeof(float) * sizes[k]) == 0;
            free(res[0][k]);
            free(res[1][k]);
        }
        TEST_COND("group_norm_silu equals silu(group_norm) bit for bit, with gradients", same);
    }

    free(once);
    gd_graph_free(s.g);
    gd_graph_free(s2.g);
    return gd_test_report("test_graph");
}
