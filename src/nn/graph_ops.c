/* graph_ops.c - op builders (shape checks, output shape, saved/scratch sizes) and the bindings
 * that call the kernels of src/ops on a planned graph. */
#include "graph_internal.h"
#include "gmmdiff/ops.h"

#include <string.h>

#define T(id) gd_graph_tensor(g, (id))
#define IN(t, i) gd_graph_tensor(g, (t)->in[i])
/* the gradient of input i, or NULL when it needs none */
#define DIN(t, i) (IN(t, i)->requires_grad ? IN(t, i)->grad : NULL)

static gd_t make_op(gd_graph *g, gd_opcode op, int ndim, const int *shape, int nin,
                    const gd_t *in) {
    GD_ASSERT(nin <= GD_MAX_INPUTS);
    int rg = 0;
    for (int i = 0; i < nin; i++)
        if (in[i] >= 0) rg |= T(in[i])->requires_grad;
    gd_t id = gd_graph_add(g, GD_KIND_OP, NULL, ndim, shape);
    gd_tensor *t = T(id);
    t->op = op;
    t->nin = nin;
    memcpy(t->in, in, sizeof(gd_t) * (size_t)nin);
    t->requires_grad = rg;
    return id;
}

static int same_shape(const gd_tensor *a, const gd_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static int spatial(const gd_tensor *x) { /* product of dims after [N, C] */
    int s = 1;
    for (int i = 2; i < x->ndim; i++) s *= x->shape[i];
    return s;
}

/* ---- linear ---- */
gd_t gd_op_linear(gd_graph *g, gd_t x, gd_t w, gd_t b) {
    gd_tensor *X = T(x), *W = T(w);
    GD_ASSERT_MSG(X->ndim == 2 && W->ndim == 2 && W->shape[1] == X->shape[1],
                  "linear: x [B, IC] and w [OC, IC]");
    GD_ASSERT_MSG(b < 0 || (T(b)->ndim == 1 && T(b)->shape[0] == W->shape[0]), "linear: b [OC]");
    int shape[2] = {X->shape[0], W->shape[0]};
    return make_op(g, GD_OP_LINEAR, 2, shape, 3, (gd_t[]){x, w, b});
}
static void linear_fwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0), *w = IN(t, 1);
    gd_linear_forward(t->data, x->data, w->data, t->in[2] >= 0 ? IN(t, 2)->data : NULL,
                      x->shape[0], x->shape[1], w->shape[0]);
}
static void linear_bwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0), *w = IN(t, 1);
    gd_linear_backward(DIN(t, 0), DIN(t, 1), t->in[2] >= 0 ? DIN(t, 2) : NULL, t->grad, x->data,
                       w->data, x->shape[0], x->shape[1], w->shape[0]);
}

/* ---- conv2d ---- */
static gd_conv2d_dims conv_dims(gd_graph *g, const gd_tensor *t) {
    gd_tensor *x = IN(t, 0), *w = IN(t, 1);
    gd_conv2d_dims d = {x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                        w->shape[0], w->shape[2], t->iattr[0], t->iattr[1], t->iattr[2]};
    return d;
}
gd_t gd_op_conv2d(gd_graph *g, gd_t x, gd_t w, gd_t b, int stride, int pad) {
    gd_tensor *X = T(x), *W = T(w);
    GD_ASSERT_MSG(X->ndim == 4 && W->ndim == 4, "conv2d: x [N,IC,H,W], w [OC,IC,K,K]");
    GD_ASSERT_MSG(W->shape[1] == X->shape[1], "conv2d: input channels differ from the weight's");
    GD_ASSERT_MSG(W->shape[2] == W->shape[3], "conv2d: square kernels only");
    GD_ASSERT_MSG(b < 0 || (T(b)->ndim == 1 && T(b)->shape[0] == W->shape[0]), "conv2d: b [OC]");
    GD_ASSERT(stride >= 1 && pad >= 0);
    int k = W->shape[2];
    int shape[4] = {X->shape[0], W->shape[0], gd_conv2d_out_size(X->shape[2], k, stride, pad),
                    gd_conv2d_out_size(X->shape[3], k, stride, pad)};
    GD_ASSERT_MSG(shape[2] > 0 && shape[3] > 0, "conv2d: kernel larger than padded input");
    gd_t id = make_op(g, GD_OP_CONV2D, 4, shape, 3, (gd_t[]){x, w, b});
    gd_tensor *t = T(id);
    t->iattr[0] = stride;
    t->iattr[1] = pad;
    t->iattr[2] = gd_get_num_threads(); /* scratch areas for this many threads */
    gd_conv2d_dims d = conv_dims(g, t);
    t->scratch_n = gd_conv2d_scratch_floats(&d);
    return id;
}
static void conv2d_fwd(gd_graph *g, gd_tensor *t) {
    gd_conv2d_dims d = conv_dims(g, t);
    gd_conv2d_forward(t->data, IN(t, 0)->data, IN(t, 1)->data,
                      t->in[2] >= 0 ? IN(t, 2)->data : NULL, &d, g->scratch);
}
static void conv2d_bwd(gd_graph *g, gd_tensor *t) {
    gd_conv2d_dims d = conv_dims(g, t);
    gd_conv2d_backward(DIN(t, 0), DIN(t, 1), t->in[2] >= 0 ? DIN(t, 2) : NULL, t->grad,
                       IN(t, 0)->data, IN(t, 1)->data, &d, g->scratch);
}

/* ---- group norm ---- */
gd_t gd_op_group_norm(gd_graph *g, gd_t x, gd_t gamma, gd_t beta, int groups, float eps) {
    gd_tensor *X = T(x);
    GD_ASSERT_MSG(X->ndim >= 2, "group_norm: x [N, C, ...]");
    int C = X->shape[1];
    GD_ASSERT_MSG(groups > 0 && C % groups == 0, "group_norm: groups must divide channels");
    GD_ASSERT_MSG(T(gamma)->numel == (size_t)C && T(beta)->numel == (size_t)C,
                  "group_norm: gamma and beta [C]");
    gd_t id = make_op(g, GD_OP_GROUP_NORM, X->ndim, X->shape, 3, (gd_t[]){x, gamma, beta});
    gd_tensor *t = T(id);
    t->iattr[0] = groups;
    t->fattr[0] = eps;
    t->saved_n = 2 * (size_t)t->shape[0] * groups;
    return id;
}
static void group_norm_fwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0);
    int N = x->shape[0], G = t->iattr[0];
    gd_group_norm_forward(t->data, t->saved, t->saved + (size_t)N * G, x->data, IN(t, 1)->data,
                          IN(t, 2)->data, N, x->shape[1], spatial(x), G, t->fattr[0]);
}
static void group_norm_bwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0);
    int N = x->shape[0], G = t->iattr[0];
    gd_group_norm_backward(DIN(t, 0), DIN(t, 1), DIN(t, 2), t->grad, x->data, t->saved,
                           t->saved + (size_t)N * G, IN(t, 1)->data, N, x->shape[1], spatial(x),
                           G);
}

gd_t gd_op_group_norm_silu(gd_graph *g, gd_t x, gd_t gamma, gd_t beta, int groups, float eps) {
    gd_t id = gd_op_group_norm(g, x, gamma, beta, groups, eps);
    gd_tensor *t = T(id);
    t->op = GD_OP_GROUP_NORM_SILU;
    t->scratch_n = t->numel; /* the backward's d(normalised) */
    return id;
}
static void group_norm_silu_fwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0);
    int N = x->shape[0], G = t->iattr[0];
    gd_group_norm_silu_forward(t->data, t->saved, t->saved + (size_t)N * G, x->data,
                               IN(t, 1)->data, IN(t, 2)->data, N, x->shape[1], spatial(x), G,
                               t->fattr[0]);
}
static void group_norm_silu_bwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0);
    int N = x->shape[0], G = t->iattr[0];
    gd_group_norm_silu_backward(DIN(t, 0), DIN(t, 1), DIN(t, 2), t->grad, x->data, t->saved,
                                t->saved + (size_t)N * G, IN(t, 1)->data, IN(t, 2)->data, N,
                                x->shape[1], spatial(x), G, g->scratch);
}

/* ---- elementwise ---- */
gd_t gd_op_silu(gd_graph *g, gd_t x) {
    return make_op(g, GD_OP_SILU, T(x)->ndim, T(x)->shape, 1, (gd_t[]){x});
}
static void silu_fwd(gd_graph *g, gd_tensor *t) {
    gd_silu_forward(t->data, IN(t, 0)->data, t->numel);
}
static void silu_bwd(gd_graph *g, gd_tensor *t) {
    if (DIN(t, 0)) gd_silu_backward(DIN(t, 0), t->grad, IN(t, 0)->data, t->numel);
}

gd_t gd_op_add(gd_graph *g, gd_t a, gd_t b) {
    GD_ASSERT_MSG(same_shape(T(a), T(b)), "add: shapes differ");
    return make_op(g, GD_OP_ADD, T(a)->ndim, T(a)->shape, 2, (gd_t[]){a, b});
}
static void add_fwd(gd_graph *g, gd_tensor *t) {
    gd_add_forward(t->data, IN(t, 0)->data, IN(t, 1)->data, t->numel);
}
static void add_bwd(gd_graph *g, gd_tensor *t) {
    gd_add_backward(DIN(t, 0), DIN(t, 1), t->grad, t->numel);
}

gd_t gd_op_reshape(gd_graph *g, gd_t x, int ndim, const int *shape) {
    GD_ASSERT_MSG(ndim >= 1 && ndim <= GD_MAX_DIMS, "reshape: 1 to GD_MAX_DIMS dims");
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        GD_ASSERT_MSG(shape[i] > 0, "reshape: dims must be positive");
        n *= (size_t)shape[i];
    }
    GD_ASSERT_MSG(n == T(x)->numel, "reshape: the element count must not change");
    return make_op(g, GD_OP_RESHAPE, ndim, shape, 1, (gd_t[]){x});
}
static void reshape_fwd(gd_graph *g, gd_tensor *t) {
    memcpy(t->data, IN(t, 0)->data, t->numel * sizeof(float));
}
static void reshape_bwd(gd_graph *g, gd_tensor *t) {
    float *dx = DIN(t, 0);
    if (!dx) return;
    for (size_t i = 0; i < t->numel; i++) dx[i] += t->grad[i];
}

gd_t gd_op_add_channel(gd_graph *g, gd_t x, gd_t e) {
    gd_tensor *X = T(x), *E = T(e);
    GD_ASSERT_MSG(X->ndim >= 2 && E->ndim == 2 && E->shape[0] == X->shape[0] &&
                      E->shape[1] == X->shape[1],
                  "add_channel: x [N, C, ...] and e [N, C]");
    return make_op(g, GD_OP_ADD_CHANNEL, X->ndim, X->shape, 2, (gd_t[]){x, e});
}
static void add_channel_fwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0);
    gd_add_channel_forward(t->data, x->data, IN(t, 1)->data, x->shape[0], x->shape[1],
                           spatial(x));
}
static void add_channel_bwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0);
    gd_add_channel_backward(DIN(t, 0), DIN(t, 1), t->grad, x->shape[0], x->shape[1], spatial(x));
}

/* ---- layout ---- */
gd_t gd_op_upsample2x(gd_graph *g, gd_t x) {
    gd_tensor *X = T(x);
    GD_ASSERT_MSG(X->ndim == 4, "upsample2x: x [N, C, H, W]");
    int shape[4] = {X->shape[0], X->shape[1], 2 * X->shape[2], 2 * X->shape[3]};
    return make_op(g, GD_OP_UPSAMPLE2X, 4, shape, 1, (gd_t[]){x});
}
static void upsample_fwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0);
    gd_upsample2x_forward(t->data, x->data, x->shape[0] * x->shape[1], x->shape[2], x->shape[3]);
}
static void upsample_bwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *x = IN(t, 0);
    if (DIN(t, 0))
        gd_upsample2x_backward(DIN(t, 0), t->grad, x->shape[0] * x->shape[1], x->shape[2],
                               x->shape[3]);
}

gd_t gd_op_concat(gd_graph *g, gd_t a, gd_t b) {
    gd_tensor *A = T(a), *B = T(b);
    GD_ASSERT_MSG(A->ndim == B->ndim && A->ndim >= 2 && A->shape[0] == B->shape[0] &&
                      spatial(A) == spatial(B),
                  "concat: a [N, C1, ...] and b [N, C2, ...] with equal spatial dims");
    for (int i = 2; i < A->ndim; i++) GD_ASSERT(A->shape[i] == B->shape[i]);
    int shape[GD_MAX_DIMS];
    memcpy(shape, A->shape, sizeof shape);
    shape[1] = A->shape[1] + B->shape[1];
    return make_op(g, GD_OP_CONCAT, A->ndim, shape, 2, (gd_t[]){a, b});
}
static void concat_fwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *a = IN(t, 0), *b = IN(t, 1);
    gd_concat_forward(t->data, a->data, b->data, a->shape[0], a->shape[1], b->shape[1],
                      spatial(a));
}
static void concat_bwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *a = IN(t, 0), *b = IN(t, 1);
    gd_concat_backward(DIN(t, 0), DIN(t, 1), t->grad, a->shape[0], a->shape[1], b->shape[1],
                       spatial(a));
}

/* ---- embedding ---- */
gd_t gd_op_embedding(gd_graph *g, gd_t idx, gd_t table) {
    GD_ASSERT_MSG(T(idx)->ndim == 1 && T(table)->ndim == 2, "embedding: idx [N], table [K, D]");
    int shape[2] = {T(idx)->shape[0], T(table)->shape[1]};
    return make_op(g, GD_OP_EMBEDDING, 2, shape, 2, (gd_t[]){idx, table});
}
static void embedding_fwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *tab = IN(t, 1);
    gd_embedding_forward(t->data, IN(t, 0)->data, tab->data, t->shape[0], tab->shape[0],
                         tab->shape[1]);
}
static void embedding_bwd(gd_graph *g, gd_tensor *t) {
    gd_tensor *tab = IN(t, 1);
    if (DIN(t, 1))
        gd_embedding_backward(DIN(t, 1), t->grad, IN(t, 0)->data, t->shape[0], tab->shape[0],
                              tab->shape[1]);
}

/* ---- attention ---- */
static gd_attention_dims attn_dims(gd_graph *g, const gd_tensor *t) {
    gd_tensor *x = IN(t, 0);
    gd_attention_dims d = {x->shape[0], x->shape[1], spatial(x), t->iattr[0], t->iattr[1],
                           t->fattr[0]};
    return d;
}
gd_t gd_op_attention(gd_graph *g, gd_t x, const gd_t p[10], int groups, int heads, float eps) {
    gd_tensor *X = T(x);
    GD_ASSERT_MSG(X->ndim == 4, "attention: x [N, C, H, W]");
    int C = X->shape[1];
    GD_ASSERT_MSG(heads > 0 && C % heads == 0, "attention: heads must divide channels");
    GD_ASSERT_MSG(groups > 0 && C % groups == 0, "attention: groups must divide channels");
    for (int i = 0; i < 10; i++) {
        size_t want = (i >= 2 && i % 2 == 0) ? (size_t)C * C : (size_t)C;
        GD_ASSERT_MSG(p[i] >= 0 && T(p[i])->numel == want,
                      "attention: norm [C], projection weights [C, C], biases [C]");
    }
    gd_t in[GD_MAX_INPUTS];
    in[0] = x;
    memcpy(in + 1, p, sizeof(gd_t) * 10);
    gd_t id = make_op(g, GD_OP_ATTENTION, 4, X->shape, 11, in);
    gd_tensor *t = T(id);
    t->iattr[0] = groups;
    t->iattr[1] = heads;
    t->fattr[0] = eps;
    gd_attention_dims d = attn_dims(g, t);
    t->saved_n = gd_attention_saved_floats(&d);
    t->scratch_n = gd_attention_scratch_floats(&d);
    return id;
}
static gd_attention_params attn_params(gd_graph *g, const gd_tensor *t) {
    gd_attention_params p = {IN(t, 1)->data, IN(t, 2)->data, IN(t, 3)->data, IN(t, 4)->data,
                             IN(t, 5)->data, IN(t, 6)->data, IN(t, 7)->data, IN(t, 8)->data,
                             IN(t, 9)->data, IN(t, 10)->data};
    return p;
}
static void attention_fwd(gd_graph *g, gd_tensor *t) {
    gd_attention_dims d = attn_dims(g, t);
    gd_attention_params p = attn_params(g, t);
    gd_attention_forward(t->data, t->saved, IN(t, 0)->data, &p, &d, g->scratch);
}
static void attention_bwd(gd_graph *g, gd_tensor *t) {
    gd_attention_dims d = attn_dims(g, t);
    gd_attention_params p = attn_params(g, t);
    gd_attention_grads gr = {DIN(t, 1), DIN(t, 2), DIN(t, 3), DIN(t, 4),  DIN(t, 5),
                             DIN(t, 6), DIN(t, 7), DIN(t, 8), DIN(t, 9), DIN(t, 10)};
    gd_attention_backward(DIN(t, 0), &gr, t->grad, IN(t, 0)->data, t->saved, &p, &d, g->scratch);
}

/* ---- timestep embedding ---- */
gd_t gd_op_timestep_embedding(gd_graph *g, gd_t tt, int dim, int flip_sin_to_cos,
                              float freq_shift) {
    GD_ASSERT_MSG(T(tt)->ndim == 1 && dim >= 2, "timestep_embedding: t [N], dim >= 2");
    int shape[2] = {T(tt)->shape[0], dim};
    gd_t id = make_op(g, GD_OP_TIMESTEP_EMBEDDING, 2, shape, 1, (gd_t[]){tt});
    T(id)->iattr[0] = flip_sin_to_cos;
    T(id)->fattr[0] = freq_shift;
    return id;
}
static void temb_fwd(gd_graph *g, gd_tensor *t) {
    gd_timestep_embedding_forward(t->data, IN(t, 0)->data, t->shape[0], t->shape[1], t->iattr[0],
                                  t->fattr[0], 10000.0f);
}
static void temb_bwd(gd_graph *g, gd_tensor *t) {
    if (DIN(t, 0))
        gd_timestep_embedding_backward(DIN(t, 0), t->grad, IN(t, 0)->data, t->shape[0],
                                       t->shape[1], t->iattr[0], t->fattr[0], 10000.0f);
}

/* ---- losses ---- */
static gd_t loss_op(gd_graph *g, gd_opcode op, gd_t a, gd_t b) {
    GD_ASSERT_MSG(same_shape(T(a), T(b)), "loss: prediction and target shapes differ");
    return make_op(g, op, 1, (int[]){1}, 2, (gd_t[]){a, b});
}
gd_t gd_op_mse(gd_graph *g, gd_t a, gd_t b) { return loss_op(g, GD_OP_MSE, a, b); }
gd_t gd_op_bce_logits(gd_graph *g, gd_t x, gd_t y) { return loss_op(g, GD_OP_BCE_LOGITS, x, y); }
static void mse_fwd(gd_graph *g, gd_tensor *t) {
    t->data[0] = gd_mse_forward(IN(t, 0)->data, IN(t, 1)->data, IN(t, 0)->numel);
}
static void mse_bwd(gd_graph *g, gd_tensor *t) {
    gd_mse_backward(DIN(t, 0), DIN(t, 1), IN(t, 0)->data, IN(t, 1)->data, IN(t, 0)->numel,
                    t->grad[0]);
}
static void bce_fwd(gd_graph *g, gd_tensor *t) {
    t->data[0] = gd_bce_logits_forward(IN(t, 0)->data, IN(t, 1)->data, IN(t, 0)->numel);
}
static void bce_bwd(gd_graph *g, gd_tensor *t) {
    gd_bce_logits_backward(DIN(t, 0), DIN(t, 1), IN(t, 0)->data, IN(t, 1)->data, IN(t, 0)->numel,
                           t->grad[0]);
}
gd_t gd_op_ngmg(gd_graph *g, gd_t y, gd_t mu, float s_min, float s_max, int n_widths) {
    double s[GD_NGMG_MAX_WIDTHS];
    GD_ASSERT_MSG(gd_ngmg_widths(s_min, s_max, n_widths, s), "ngmg: bad width ladder");
    gd_t id = loss_op(g, GD_OP_NGMG, y, mu);
    T(id)->fattr[0] = s_min;
    T(id)->fattr[1] = s_max;
    T(id)->iattr[0] = n_widths;
    return id;
}
static void ngmg_fwd(gd_graph *g, gd_tensor *t) {
    t->data[0] = gd_ngmg_forward(IN(t, 0)->data, IN(t, 1)->data, IN(t, 0)->numel, t->fattr[0],
                                 t->fattr[1], t->iattr[0]);
}
static void ngmg_bwd(gd_graph *g, gd_tensor *t) {
    gd_ngmg_backward(DIN(t, 0), DIN(t, 1), IN(t, 0)->data, IN(t, 1)->data, IN(t, 0)->numel,
                     t->fattr[0], t->fattr[1], t->iattr[0], t->grad[0]);
}

const gd_op_def gd_op_defs[GD_OP_COUNT] = {
    [GD_OP_NONE] = {"none", NULL, NULL, 0},
    [GD_OP_LINEAR] = {"linear", linear_fwd, linear_bwd, 1},
    [GD_OP_CONV2D] = {"conv2d", conv2d_fwd, conv2d_bwd, 1},
    [GD_OP_GROUP_NORM] = {"group_norm", group_norm_fwd, group_norm_bwd, 1},
    [GD_OP_SILU] = {"silu", silu_fwd, silu_bwd, 1},
    [GD_OP_ADD] = {"add", add_fwd, add_bwd, 0},
    [GD_OP_ADD_CHANNEL] = {"add_channel", add_channel_fwd, add_channel_bwd, 0},
    [GD_OP_UPSAMPLE2X] = {"upsample2x", upsample_fwd, upsample_bwd, 0},
    [GD_OP_CONCAT] = {"concat", concat_fwd, concat_bwd, 0},
    [GD_OP_EMBEDDING] = {"embedding", embedding_fwd, embedding_bwd, 1},
    [GD_OP_ATTENTION] = {"attention", attention_fwd, attention_bwd, 1},
    [GD_OP_TIMESTEP_EMBEDDING] = {"timestep_embedding", temb_fwd, temb_bwd, 1},
    [GD_OP_MSE] = {"mse", mse_fwd, mse_bwd, 1},
    [GD_OP_BCE_LOGITS] = {"bce_logits", bce_fwd, bce_bwd, 1},
    [GD_OP_RESHAPE] = {"reshape", reshape_fwd, reshape_bwd, 0},
    [GD_OP_NGMG] = {"ngmg", ngmg_fwd, ngmg_bwd, 1},
    [GD_OP_GROUP_NORM_SILU] = {"group_norm_silu", group_norm_silu_fwd, group_norm_silu_bwd, 1},
};
