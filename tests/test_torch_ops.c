/* test_torch_ops.c - every op's forward and backward against PyTorch (fixture made by
 * tools/ref/make_fixtures.py): normwise relative error <= 1e-4 on outputs and gradients. */
#include "fixture.h"
#include "gmmdiff/ops.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static gd_safetensors st;

typedef struct {
    const char *name;
    int nin;
    float *in[11], *grad[11], *ref_grad[11], *out, *ref_out, *dout;
    size_t in_n[11], out_n;
} fcase;

static fcase load(const char *name, int nin) {
    fcase c = {.name = name, .nin = nin};
    char key[128];
    for (int i = 0; i < nin; i++) {
        snprintf(key, sizeof key, "%s.in%d", name, i);
        c.in[i] = fx_get(&st, key, &c.in_n[i]);
        snprintf(key, sizeof key, "%s.grad%d", name, i);
        c.ref_grad[i] = fx_get(&st, key, NULL);
        c.grad[i] = fx_zeros(c.in_n[i]);
    }
    snprintf(key, sizeof key, "%s.out", name);
    c.ref_out = fx_get(&st, key, &c.out_n);
    snprintf(key, sizeof key, "%s.dout", name);
    c.dout = fx_get(&st, key, NULL);
    c.out = fx_zeros(c.out_n);
    return c;
}

static void check(fcase *c) {
    char label[160];
    double e = gd_rel_err(c->out, c->ref_out, c->out_n);
    snprintf(label, sizeof label, "%s: forward vs torch (%.2e)", c->name, e);
    TEST_COND(label, e <= TOL);
    for (int i = 0; i < c->nin; i++) {
        e = gd_rel_err(c->grad[i], c->ref_grad[i], c->in_n[i]);
        snprintf(label, sizeof label, "%s: gradient of input %d vs torch (%.2e)", c->name, i, e);
        TEST_COND(label, e <= TOL);
    }
    for (int i = 0; i < c->nin; i++) { free(c->in[i]); free(c->grad[i]); free(c->ref_grad[i]); }
    free(c->out); free(c->ref_out); free(c->dout);
}

static void conv(const char *name, int n, int ic, int h, int w, int oc, int k, int s, int p) {
    fcase c = load(name, 3);
    gd_conv2d_dims d = {n, ic, h, w, oc, k, s, p, 0};
    TEST_COND(name, c.in_n[0] == (size_t)n * ic * h * w && c.in_n[1] == (size_t)oc * ic * k * k);
    float *scratch = fx_zeros(gd_conv2d_scratch_floats(&d));
    gd_conv2d_forward(c.out, c.in[0], c.in[1], c.in[2], &d, scratch);
    gd_conv2d_backward(c.grad[0], c.grad[1], c.grad[2], c.dout, c.in[0], c.in[1], &d, scratch);
    free(scratch);
    check(&c);
}

int main(int argc, char **argv) {
    fx_open(&st, argc > 1 ? argv[1] : NULL, "ops.safetensors");
    {
        fcase c = load("linear", 3);
        gd_linear_forward(c.out, c.in[0], c.in[1], c.in[2], 5, 7, 4);
        gd_linear_backward(c.grad[0], c.grad[1], c.grad[2], c.dout, c.in[0], c.in[1], 5, 7, 4);
        check(&c);
    }
    conv("conv_k3s1p1", 2, 3, 7, 6, 4, 3, 1, 1);
    conv("conv_k3s2p1", 2, 3, 7, 6, 4, 3, 2, 1);
    conv("conv_k1s1p0", 2, 5, 4, 3, 3, 1, 1, 0);
    conv("conv_k3s2p0", 1, 2, 8, 9, 3, 3, 2, 0);
    conv("conv_unet", 4, 32, 14, 14, 64, 3, 1, 1);
    {
        fcase c = load("group_norm", 3);
        float mean[6], rstd[6]; /* [N=2, G=3] */
        gd_group_norm_forward(c.out, mean, rstd, c.in[0], c.in[1], c.in[2], 2, 6, 20, 3, 1e-5f);
        gd_group_norm_backward(c.grad[0], c.grad[1], c.grad[2], c.dout, c.in[0], mean, rstd,
                               c.in[1], 2, 6, 20, 3);
        check(&c);
    }
    {
        fcase c = load("silu", 1);
        gd_silu_forward(c.out, c.in[0], c.out_n);
        gd_silu_backward(c.grad[0], c.dout, c.in[0], c.out_n);
        check(&c);
    }
    {
        fcase c = load("add", 2);
        gd_add_forward(c.out, c.in[0], c.in[1], c.out_n);
        gd_add_backward(c.grad[0], c.grad[1], c.dout, c.out_n);
        check(&c);
    }
    {
        fcase c = load("add_channel", 2);
        gd_add_channel_forward(c.out, c.in[0], c.in[1], 2, 3, 20);
        gd_add_channel_backward(c.grad[0], c.grad[1], c.dout, 2, 3, 20);
        check(&c);
    }
    {
        fcase c = load("upsample2x", 1);
        gd_upsample2x_forward(c.out, c.in[0], 6, 4, 5);
        gd_upsample2x_backward(c.grad[0], c.dout, 6, 4, 5);
        check(&c);
    }
    {
        fcase c = load("embedding", 1);
        float *idx = fx_get(&st, "embedding.idx", NULL);
        gd_embedding_forward(c.out, idx, c.in[0], 5, 4, 3);
        gd_embedding_backward(c.grad[0], c.dout, idx, 5, 4, 3);
        free(idx);
        check(&c);
    }
    {
        fcase c = load("concat", 2);
        gd_concat_forward(c.out, c.in[0], c.in[1], 2, 2, 3, 12);
        gd_concat_backward(c.grad[0], c.grad[1], c.dout, 2, 2, 3, 12);
        check(&c);
    }
    {
        fcase c = load("attention", 11);
        gd_attention_dims d = {2, 16, 30, 4, 2, 1e-5f};
        gd_attention_params p = {c.in[1], c.in[2], c.in[3], c.in[4], c.in[5],
                                 c.in[6], c.in[7], c.in[8], c.in[9], c.in[10]};
        gd_attention_grads g = {c.grad[1], c.grad[2], c.grad[3], c.grad[4], c.grad[5],
                                c.grad[6], c.grad[7], c.grad[8], c.grad[9], c.grad[10]};
        float *saved = fx_zeros(gd_attention_saved_floats(&d));
        float *scratch = fx_zeros(gd_attention_scratch_floats(&d));
        gd_attention_forward(c.out, saved, c.in[0], &p, &d, scratch);
        gd_attention_backward(c.grad[0], &g, c.dout, c.in[0], saved, &p, &d, scratch);
        free(saved);
        free(scratch);
        /* the key bias has a zero gradient in exact arithmetic (softmax is shift-invariant),
         * so both sides hold only rounding: compare it on the scale of the query bias's */
        double md = 0, mq = 0;
        for (int i = 0; i < 16; i++) {
            double dd = fabs((double)c.grad[6][i] - c.ref_grad[6][i]);
            md = dd > md ? dd : md;
            mq = fabs(c.ref_grad[4][i]) > mq ? fabs(c.ref_grad[4][i]) : mq;
        }
        TEST_COND("attention: key-bias gradient ~ 0 on the query-bias scale", md <= TOL * mq);
        for (int i = 0; i < 16; i++) c.ref_grad[6][i] = c.grad[6][i] = 0.0f;
        check(&c);
    }
    {
        fcase c = load("temb_d32_flip1_shift0", 1);
        gd_timestep_embedding_forward(c.out, c.in[0], 5, 32, 1, 0.0f, 10000.0f);
        gd_timestep_embedding_backward(c.grad[0], c.dout, c.in[0], 5, 32, 1, 0.0f, 10000.0f);
        check(&c);
    }
    {
        fcase c = load("temb_d15_flip0_shift1", 1);
        gd_timestep_embedding_forward(c.out, c.in[0], 5, 15, 0, 1.0f, 10000.0f);
        gd_timestep_embedding_backward(c.grad[0], c.dout, c.in[0], 5, 15, 0, 1.0f, 10000.0f);
        check(&c);
    }
    {
        fcase c = load("mse", 2);
        c.out[0] = gd_mse_forward(c.in[0], c.in[1], c.in_n[0]);
        gd_mse_backward(c.grad[0], c.grad[1], c.in[0], c.in[1], c.in_n[0], c.dout[0]);
        check(&c);
    }
    {
        fcase c = load("bce", 2);
        c.out[0] = gd_bce_logits_forward(c.in[0], c.in[1], c.in_n[0]);
        gd_bce_logits_backward(c.grad[0], c.grad[1], c.in[0], c.in[1], c.in_n[0], c.dout[0]);
        check(&c);
    }
    gd_st_close(&st);
    return gd_test_report("test_torch_ops");
}
