/* attention.c - multi-head self-attention over spatial positions, as diffusers' Attention block
 * in UNet2DModel (group norm, to_q/to_k/to_v/to_out with bias, residual, rescale 1).
 *
 * Saved for backward (gd_attention_saved_floats):
 *   mean, rstd [N, G] | xn, q, k, v, ctx [N, HW, C] tokens
 * The attention probabilities [N, heads, HW, HW] live in the scratch: the backward recomputes
 * them from q and k (the same code, so the same bits) instead of keeping them.
 * The per-head products are single-threaded GEMMs, parallel over (image, head); the projections
 * are linears (BLAS) over all N*HW tokens at once. */
#include "gmmdiff/ops.h"
#include "gmmdiff/core.h"
#include "core/blas.h"
#include "vexp.h"

#include <math.h>
#include <string.h>

typedef struct {
    float *mean, *rstd, *xn, *q, *k, *v, *ctx;
} attn_saved;

static void check(const gd_attention_dims *d) {
    GD_ASSERT(d && d->n > 0 && d->c > 0 && d->hw > 0 && d->groups > 0 && d->heads > 0);
    GD_ASSERT_MSG(d->c % d->heads == 0, "attention: channels must divide into heads");
    GD_ASSERT_MSG(d->c % d->groups == 0, "attention: channels must divide into groups");
}

static attn_saved carve(float *s, const gd_attention_dims *d) {
    size_t ng = (size_t)d->n * d->groups, t = (size_t)d->n * d->hw * d->c;
    attn_saved a;
    a.mean = s; a.rstd = s + ng; s += 2 * ng;
    a.xn = s; a.q = s + t; a.k = s + 2 * t; a.v = s + 3 * t; a.ctx = s + 4 * t;
    return a;
}

size_t gd_attention_saved_floats(const gd_attention_dims *d) {
    check(d);
    return 2 * (size_t)d->n * d->groups + 5 * (size_t)d->n * d->hw * d->c;
}

size_t gd_attention_scratch_floats(const gd_attention_dims *d) {
    check(d);
    size_t t = (size_t)d->n * d->hw * d->c;
    return 7 * t + 2 * (size_t)d->n * d->heads * d->hw * d->hw;
}

/* tok[n, p, c] = x[n, c, p] */
static void to_tokens(float *tok, const float *x, int N, int C, int HW) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++)
            for (int c = 0; c < C; c++)
                tok[((size_t)n * HW + p) * C + c] = x[((size_t)n * C + c) * HW + p];
}

/* x[n, c, p] (+)= tok[n, p, c] */
static void from_tokens(float *x, const float *tok, int N, int C, int HW, int accumulate) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            float *dst = x + ((size_t)n * C + c) * HW;
            for (int p = 0; p < HW; p++) {
                float v = tok[((size_t)n * HW + p) * C + c];
                dst[p] = accumulate ? dst[p] + v : v;
            }
        }
}

/* P = softmax(scale q k^T) by rows for one head (q, k rows C apart), a single-threaded GEMM */
static void head_probs(float *P, const float *q, const float *k, int HW, int D, int C,
                       float scale) {
    gd_sgemm(0, 1, HW, HW, D, scale, q, C, k, C, 0.0f, P, HW);
    for (int i = 0; i < HW; i++) {
        float *row = P + (size_t)i * HW, mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < HW; j++) mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < HW; j++) row[j] = gd_vexpf(row[j] - mx);
        for (int j = 0; j < HW; j++) sum += row[j];
        const float inv = 1.0f / sum;
        for (int j = 0; j < HW; j++) row[j] *= inv;
    }
}

void gd_attention_forward(float *out, float *saved, const float *x, const gd_attention_params *p,
                          const gd_attention_dims *d, float *scratch) {
    check(d);
    GD_ASSERT(out && saved && x && p && scratch);
    const int N = d->n, C = d->c, HW = d->hw, H = d->heads, D = C / H;
    const int T = N * HW;
    const float scale = 1.0f / sqrtf((float)D);
    attn_saved s = carve(saved, d);
    float *gn = scratch, *o = scratch + (size_t)T * C, *probs = o + (size_t)T * C;

    gd_group_norm_forward(gn, s.mean, s.rstd, x, p->gn_w, p->gn_b, N, C, HW, d->groups, d->eps);
    to_tokens(s.xn, gn, N, C, HW);
    gd_linear_forward(s.q, s.xn, p->wq, p->bq, T, C, C);
    gd_linear_forward(s.k, s.xn, p->wk, p->bk, T, C, C);
    gd_linear_forward(s.v, s.xn, p->wv, p->bv, T, C, C);

    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            const size_t base = (size_t)n * HW * C + h * D;
            float *P = probs + ((size_t)n * H + h) * HW * HW;
            /* P = softmax(scale q k^T) by rows; ctx = P v (single-threaded GEMMs per head) */
            head_probs(P, s.q + base, s.k + base, HW, D, C, scale);
            gd_sgemm(0, 0, HW, D, HW, 1.0f, P, HW, s.v + base, C, 0.0f, s.ctx + base, C);
        }

    gd_linear_forward(o, s.ctx, p->wo, p->bo, T, C, C);
    memcpy(out, x, sizeof(float) * (size_t)T * C);
    from_tokens(out, o, N, C, HW, 1);
}

void gd_attention_backward(float *dx, const gd_attention_grads *g, const float *dout,
                           const float *x, const float *saved, const gd_attention_params *p,
                           const gd_attention_dims *d, float *scratch) {
    check(d);
    GD_ASSERT(g && dout && x && saved && p && scratch);
    const int N = d->n, C = d->c, HW = d->hw, H = d->heads, D = C / H;
    const int T = N * HW;
    const size_t t = (size_t)T * C;
    const float scale = 1.0f / sqrtf((float)D);
    attn_saved s = carve((float *)saved, d);
    float *dO = scratch, *dctx = dO + t, *dq = dctx + t, *dk = dq + t, *dv = dk + t;
    float *dxn = dv + t, *dgn = dxn + t, *dP = dgn + t;
    float *probs = dP + (size_t)N * H * HW * HW;

    if (dx) gd_add_backward(dx, NULL, dout, t); /* the residual path */
    to_tokens(dO, dout, N, C, HW);
    memset(dctx, 0, sizeof(float) * t);
    gd_linear_backward(dctx, g->wo, g->bo, dO, s.ctx, p->wo, T, C, C);

    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            const size_t base = (size_t)n * HW * C + h * D;
            float *P = probs + ((size_t)n * H + h) * HW * HW;
            float *G = dP + ((size_t)n * H + h) * HW * HW;
            head_probs(P, s.q + base, s.k + base, HW, D, C, scale);
            /* dP = dctx v^T, dv = P^T dctx; dS = P * (dP - rowsum(dP * P)) * scale;
             * dq = dS k, dk = dS^T q */
            gd_sgemm(0, 1, HW, HW, D, 1.0f, dctx + base, C, s.v + base, C, 0.0f, G, HW);
            gd_sgemm(1, 0, HW, D, HW, 1.0f, P, HW, dctx + base, C, 0.0f, dv + base, C);
            for (int i = 0; i < HW; i++) {
                const float *prow = P + (size_t)i * HW;
                float *grow = G + (size_t)i * HW, dot = 0.0f;
                for (int j = 0; j < HW; j++) dot += grow[j] * prow[j];
                for (int j = 0; j < HW; j++) grow[j] = prow[j] * (grow[j] - dot) * scale;
            }
            gd_sgemm(0, 0, HW, D, HW, 1.0f, G, HW, s.k + base, C, 0.0f, dq + base, C);
            gd_sgemm(1, 0, HW, D, HW, 1.0f, G, HW, s.q + base, C, 0.0f, dk + base, C);
        }

    memset(dxn, 0, sizeof(float) * t);
    gd_linear_backward(dxn, g->wq, g->bq, dq, s.xn, p->wq, T, C, C);
    gd_linear_backward(dxn, g->wk, g->bk, dk, s.xn, p->wk, T, C, C);
    gd_linear_backward(dxn, g->wv, g->bv, dv, s.xn, p->wv, T, C, C);
    from_tokens(dgn, dxn, N, C, HW, 0);
    gd_group_norm_backward(dx, g->gn_w, g->gn_b, dgn, x, s.mean, s.rstd, p->gn_w, N, C, HW,
                           d->groups);
}
