/* ops.h - the op kernels: each a _forward/_backward pair on float32 buffers (NCHW, row-major).
 *
 * Conventions (llm.c):
 *  - shapes are given beside each argument;
 *  - backward functions ADD into gradient buffers (+=); zeroing is the caller's explicit step;
 *  - a gradient pointer may be NULL when that gradient is not wanted;
 *  - kernels never allocate: temporary space comes from a caller-supplied scratch buffer whose
 *    size is given by the matching _scratch_floats function;
 *  - loops are threaded with OpenMP over independent outputs and every reduction runs in a
 *    fixed order, so results do not depend on the thread count (BLAS aside, within float
 *    tolerance).
 */
#ifndef GMMDIFF_OPS_H
#define GMMDIFF_OPS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear: out = inp @ w^T + b ------------------------------------------------------------ */
void gd_linear_forward(float *out,          /* [B, OC] */
                       const float *inp,    /* [B, IC] */
                       const float *w,      /* [OC, IC] */
                       const float *b,      /* [OC] or NULL */
                       int B, int IC, int OC);
void gd_linear_backward(float *dinp,        /* [B, IC] or NULL */
                        float *dw,          /* [OC, IC] or NULL */
                        float *db,          /* [OC] or NULL */
                        const float *dout,  /* [B, OC] */
                        const float *inp,   /* [B, IC] */
                        const float *w,     /* [OC, IC] */
                        int B, int IC, int OC);

/* ---- conv2d: square kernel k, stride, zero padding (PyTorch Conv2d semantics) ---------------- */
typedef struct gd_conv2d_dims {
    int n, ic, h, w;      /* input [n, ic, h, w] */
    int oc, k, stride, pad;
    int threads;          /* the most threads one call may use, each with its own area of the
                             scratch buffer; 0: 16. Fixed when the scratch is sized (a graph
                             takes the thread count it is declared with). */
} gd_conv2d_dims;
int gd_conv2d_out_size(int in, int k, int stride, int pad);
size_t gd_conv2d_scratch_floats(const gd_conv2d_dims *d);
void gd_conv2d_forward(float *out,          /* [n, oc, oh, ow] */
                       const float *inp,    /* [n, ic, h, w] */
                       const float *w,      /* [oc, ic, k, k] */
                       const float *b,      /* [oc] or NULL */
                       const gd_conv2d_dims *d, float *scratch);
void gd_conv2d_backward(float *dinp,        /* [n, ic, h, w] or NULL */
                        float *dw,          /* [oc, ic, k, k] or NULL */
                        float *db,          /* [oc] or NULL */
                        const float *dout,  /* [n, oc, oh, ow] */
                        const float *inp,   /* [n, ic, h, w] */
                        const float *w,     /* [oc, ic, k, k] */
                        const gd_conv2d_dims *d, float *scratch);

/* ---- group norm over [N, C, HW] with G groups, per-channel affine ---------------------------- */
void gd_group_norm_forward(float *out,       /* [N, C, HW] */
                           float *mean,      /* [N, G] saved for backward */
                           float *rstd,      /* [N, G] saved for backward */
                           const float *inp, /* [N, C, HW] */
                           const float *gamma, const float *beta, /* [C] each */
                           int N, int C, int HW, int G, float eps);
void gd_group_norm_backward(float *dinp,     /* [N, C, HW] or NULL */
                            float *dgamma, float *dbeta, /* [C] each, or NULL */
                            const float *dout, const float *inp, /* [N, C, HW] */
                            const float *mean, const float *rstd, /* [N, G] */
                            const float *gamma, int N, int C, int HW, int G);

/* group norm then SiLU in one pass: the same bits as gd_group_norm_forward followed by
 * gd_silu_forward, without storing the normalised tensor; the backward recomputes it from inp
 * and the statistics (dh: scratch of N*C*HW floats) */
void gd_group_norm_silu_forward(float *out, float *mean, float *rstd, const float *inp,
                                const float *gamma, const float *beta, int N, int C, int HW,
                                int G, float eps);
void gd_group_norm_silu_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, const float *beta, int N, int C, int HW,
                                 int G, float *dh);

/* ---- elementwise ---------------------------------------------------------------------------- */
void gd_silu_forward(float *out, const float *inp, size_t n);
void gd_silu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void gd_add_forward(float *out, const float *a, const float *b, size_t n);
void gd_add_backward(float *da, float *db, const float *dout, size_t n);
/* out[n, c, p] = x[n, c, p] + e[n, c]  (a per-channel vector such as a time embedding) */
void gd_add_channel_forward(float *out, const float *x, const float *e, int N, int C, int HW);
void gd_add_channel_backward(float *dx, float *de, const float *dout, int N, int C, int HW);

/* ---- embedding lookup: out[n] = table[idx[n]]; idx holds integers stored as float, and -1
 * gives a zero row (the zero null condition of classifier-free guidance) ---------------------- */
void gd_embedding_forward(float *out,          /* [N, D] */
                          const float *idx,    /* [N], each in [-1, K) */
                          const float *table,  /* [K, D] */
                          int N, int K, int D);
void gd_embedding_backward(float *dtable, const float *dout, const float *idx, int N, int K,
                           int D);

/* ---- layout --------------------------------------------------------------------------------- */
void gd_upsample2x_forward(float *out,       /* [NC, 2H, 2W] */
                           const float *inp, /* [NC, H, W] */
                           int NC, int H, int W);
void gd_upsample2x_backward(float *dinp, const float *dout, int NC, int H, int W);
void gd_concat_forward(float *out,           /* [N, C1 + C2, HW] */
                       const float *a,       /* [N, C1, HW] */
                       const float *b,       /* [N, C2, HW] */
                       int N, int C1, int C2, int HW);
void gd_concat_backward(float *da, float *db, const float *dout, int N, int C1, int C2, int HW);

/* ---- self-attention over spatial positions (diffusers' Attention in UNet2DModel) -------------
 * out = x + to_out(softmax(q k^T / sqrt(d)) v), with q, k, v = to_q/to_k/to_v(group_norm(x))
 * over the HW positions as tokens of width C, heads = C / d. */
typedef struct gd_attention_dims {
    int n, c, hw, groups, heads;
    float eps;
} gd_attention_dims;
typedef struct gd_attention_params {
    const float *gn_w, *gn_b;                 /* [C] */
    const float *wq, *bq, *wk, *bk, *wv, *bv; /* [C, C], [C] */
    const float *wo, *bo;                     /* [C, C], [C] */
} gd_attention_params;
typedef struct gd_attention_grads {
    float *gn_w, *gn_b, *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo; /* as the params, or NULL */
} gd_attention_grads;
size_t gd_attention_saved_floats(const gd_attention_dims *d);
size_t gd_attention_scratch_floats(const gd_attention_dims *d);
void gd_attention_forward(float *out,        /* [N, C, HW] */
                          float *saved,      /* gd_attention_saved_floats, kept for backward */
                          const float *x,    /* [N, C, HW] */
                          const gd_attention_params *p, const gd_attention_dims *d,
                          float *scratch);
void gd_attention_backward(float *dx,        /* [N, C, HW] or NULL */
                           const gd_attention_grads *g,
                           const float *dout, const float *x, const float *saved,
                           const gd_attention_params *p, const gd_attention_dims *d,
                           float *scratch);

/* ---- sinusoidal timestep embedding (diffusers' get_timestep_embedding) ------------------------
 * freq_i = exp(-ln(max_period) * i / (half - freq_shift)), arg = t * freq_i, out = [sin, cos]
 * ([cos, sin] when flip_sin_to_cos); an odd dim is padded with a zero column. */
void gd_timestep_embedding_forward(float *out,     /* [N, dim] */
                                   const float *t, /* [N] */
                                   int N, int dim, int flip_sin_to_cos, float freq_shift,
                                   float max_period);
void gd_timestep_embedding_backward(float *dt, const float *dout, const float *t, int N, int dim,
                                    int flip_sin_to_cos, float freq_shift, float max_period);

/* ---- losses (mean reduction); dloss is the incoming gradient of the scalar ------------------- */
float gd_mse_forward(const float *a, const float *b, size_t n);
void gd_mse_backward(float *da, float *db, const float *a, const float *b, size_t n, float dloss);
/* BCE with logits: mean(max(x,0) - x*y + log(1 + exp(-|x|))) */
float gd_bce_logits_forward(const float *x, const float *y, size_t n);
void gd_bce_logits_backward(float *dx, float *dy, const float *x, const float *y, size_t n,
                            float dloss);

/* ---- NGMG: the negative Gaussian mixture potential and its gradient (src/ops/ngmg.c) ------- */
#define GD_NGMG_MAX_WIDTHS 16
/* the ladder s_j = s_min (s_max / s_min)^(j / (J - 1)), j < J (J = 1: s_min) into s; 0 when
 * s_min <= 0, s_max < s_min, s_max not finite, or J outside [1, GD_NGMG_MAX_WIDTHS] */
int gd_ngmg_widths(float s_min, float s_max, int J, double *s);
/* U(y) = -sum_j w_j exp(-|y - mu|^2 / (2 s_j^2)), w_j = s_j / sum s, for y, mu in R^m; its
 * gradient dU/dy (the NGMG) into grad [m] when not NULL */
double gd_ngmg_potential(const float *y, const float *mu, int m, float s_min, float s_max, int J,
                         double *grad);
/* the bound of |dU/dy| over all y: J e^(-1/2) / sum_j s_j */
double gd_ngmg_norm_bound(float s_min, float s_max, int J);
/* the loss of scalar outputs: the mean over n of U(y_i) with centre mu_i; the backward adds
 * dloss * dU/dy_i / n to dy (and its negative to dmu); either may be NULL */
float gd_ngmg_forward(const float *y, const float *mu, size_t n, float s_min, float s_max, int J);
void gd_ngmg_backward(float *dy, float *dmu, const float *y, const float *mu, size_t n,
                      float s_min, float s_max, int J, float dloss);
/* The parallel-lines example (Arjovsky et al. 2017): the target P0 uniform on {0} x [0, 1], the
 * model P_theta uniform on {theta} x [0, 1]. The NGMG distance
 *   D(theta) = E_{x ~ P_theta} U0(x) - E_{x ~ P0} U0(x),  U0(x) = E_{x0 ~ P0} U(x; x0),
 * the target mixture's potential, by an n-point midpoint rule in z and z0; dD/dtheta (from the
 * NGMG, by the same rule) into *grad when not NULL. D(0) = 0 and D grows with |theta|, where
 * the Jensen-Shannon divergence is log 2 for every theta != 0 (no gradient) and the earth
 * mover's distance is |theta|. */
double gd_ngmg_parallel_lines(double theta, float s_min, float s_max, int J, int n,
                              double *grad);

#ifdef __cplusplus
}
#endif
#endif
