/* smallnet.h - the engine's composed test network, conv -> group norm -> SiLU -> attention ->
 * conv, declared with the graph API under the parameter names of its PyTorch twin
 * (tools/ref/make_fixtures.py, SmallNet). */
#ifndef GMMDIFF_TEST_SMALLNET_H
#define GMMDIFF_TEST_SMALLNET_H

#include "gmmdiff/graph.h"

typedef struct smallnet {
    gd_graph *g;
    gd_t x, y, out, loss;
} smallnet;

/* batch [n, 3, h, w]; returns a planned graph */
static inline smallnet smallnet_build(int n, int h, int w) {
    smallnet s;
    gd_graph *g = s.g = gd_graph_new();
    int shape[4] = {n, 3, h, w};
    s.x = gd_input(g, "x", 4, shape, 0);
    s.y = gd_input(g, "y", 4, shape, 0);
    gd_t w_in = gd_param(g, "conv_in.weight", 4, (int[]){16, 3, 3, 3});
    gd_t b_in = gd_param(g, "conv_in.bias", 1, (int[]){16});
    gd_t nw = gd_param(g, "norm.weight", 1, (int[]){16});
    gd_t nb = gd_param(g, "norm.bias", 1, (int[]){16});
    const char *an[10] = {"attn.group_norm.weight", "attn.group_norm.bias", "attn.to_q.weight",
                          "attn.to_q.bias",         "attn.to_k.weight",     "attn.to_k.bias",
                          "attn.to_v.weight",       "attn.to_v.bias",       "attn.to_out.0.weight",
                          "attn.to_out.0.bias"};
    gd_t ap[10];
    for (int i = 0; i < 10; i++) {
        int mat = i >= 2 && i % 2 == 0;
        ap[i] = mat ? gd_param(g, an[i], 2, (int[]){16, 16}) : gd_param(g, an[i], 1, (int[]){16});
    }
    gd_t w_out = gd_param(g, "conv_out.weight", 4, (int[]){3, 16, 3, 3});
    gd_t b_out = gd_param(g, "conv_out.bias", 1, (int[]){3});
    gd_t h1 = gd_op_conv2d(g, s.x, w_in, b_in, 1, 1);
    gd_t h2 = gd_op_silu(g, gd_op_group_norm(g, h1, nw, nb, 4, 1e-5f));
    gd_t h3 = gd_op_attention(g, h2, ap, 4, 2, 1e-5f);
    s.out = gd_op_conv2d(g, h3, w_out, b_out, 1, 1);
    s.loss = gd_op_mse(g, s.out, s.y);
    GD_ASSERT(gd_graph_plan(g, NULL) == GD_OK);
    return s;
}

#endif
