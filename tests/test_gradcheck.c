/* test_gradcheck.c - every op against an independent double-precision reference.
 *
 * For each op: (1) the float forward matches a naive double forward; (2) the float backward
 * matches central finite differences of that double forward, for the scalar L = sum(R * out)
 * with a random R (so dout = R); (3) backward adds into the gradient buffers (they start
 * non-zero and only the difference is compared). */
#include "gmmdiff/core.h"
#include "gmmdiff/ops.h"
#include "testutil.h"
#include "ops/vexp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXIN 11

typedef struct gc_case {
    const char *name;
    int nin;
    size_t in_n[MAXIN], out_n;
    float in_lo[MAXIN], in_hi[MAXIN]; /* uniform input ranges (0, 0 means [-1, 1]) */
    void (*ref)(const struct gc_case *c, double *out, double *const *in);
    void (*fwd)(const struct gc_case *c, float *out, float *const *in);
    void (*bwd)(const struct gc_case *c, float *const *din, const float *dout, float *const *in,
                const float *out);
    int iv[8];
    float fv[4];
    float *saved, *scratch; /* sized by the case's fwd on first use */
    int max_fd;             /* finite-difference samples per input (0: all) */
} gc_case;

static gd_rng rng;

static float *grow(float **p, size_t n) {
    gd_free(*p);
    *p = gd_calloc(sizeof(float) * (n ? n : 1));
    GD_ASSERT(*p);
    return *p;
}

/* ======================= double references ======================= */
static void ref_linear_d(double *out, const double *x, const double *w, const double *b, int B,
                         int IC, int OC) {
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0.0;
            for (int k = 0; k < IC; k++) s += x[i * IC + k] * w[o * IC + k];
            out[i * OC + o] = s;
        }
}

static void ref_group_norm_d(double *out, const double *x, const double *ga, const double *be,
                             int N, int C, int HW, int G, double eps) {
    int cpg = C / G;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            const double *xs = x + ((size_t)n * C + g * cpg) * HW;
            double m = 0, v = 0;
            for (int i = 0; i < cpg * HW; i++) m += xs[i];
            m /= cpg * HW;
            for (int i = 0; i < cpg * HW; i++) v += (xs[i] - m) * (xs[i] - m);
            v /= cpg * HW;
            double rs = 1.0 / sqrt(v + eps);
            for (int c = 0; c < cpg; c++)
                for (int p = 0; p < HW; p++)
                    out[((size_t)n * C + g * cpg + c) * HW + p] =
                        (xs[c * HW + p] - m) * rs * ga[g * cpg + c] + be[g * cpg + c];
        }
}

/* ======================= cases ======================= */
/* linear: iv = B, IC, OC */
static void linear_ref(const gc_case *c, double *out, double *const *in) {
    ref_linear_d(out, in[0], in[1], in[2], c->iv[0], c->iv[1], c->iv[2]);
}
static void linear_fwd(const gc_case *c, float *out, float *const *in) {
    gd_linear_forward(out, in[0], in[1], in[2], c->iv[0], c->iv[1], c->iv[2]);
}
static void linear_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                       const float *out) {
    (void)out;
    gd_linear_backward(din[0], din[1], din[2], dout, in[0], in[1], c->iv[0], c->iv[1], c->iv[2]);
}

/* conv2d: iv = n, ic, h, w, oc, k, stride, pad */
static gd_conv2d_dims cdims(const gc_case *c) {
    gd_conv2d_dims d = {c->iv[0], c->iv[1], c->iv[2], c->iv[3], c->iv[4], c->iv[5], c->iv[6],
                        c->iv[7], 0};
    return d;
}
static void conv_ref(const gc_case *c, double *out, double *const *in) {
    gd_conv2d_dims d = cdims(c);
    int oh = gd_conv2d_out_size(d.h, d.k, d.stride, d.pad);
    int ow = gd_conv2d_out_size(d.w, d.k, d.stride, d.pad);
    for (int n = 0; n < d.n; n++)
        for (int o = 0; o < d.oc; o++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    double s = in[2][o];
                    for (int ci = 0; ci < d.ic; ci++)
                        for (int i = 0; i < d.k; i++)
                            for (int j = 0; j < d.k; j++) {
                                int yy = y * d.stride - d.pad + i, xx = x * d.stride - d.pad + j;
                                if (yy < 0 || yy >= d.h || xx < 0 || xx >= d.w) continue;
                                s += in[0][(((size_t)n * d.ic + ci) * d.h + yy) * d.w + xx] *
                                     in[1][((o * d.ic + ci) * d.k + i) * d.k + j];
                            }
                    out[(((size_t)n * d.oc + o) * oh + y) * ow + x] = s;
                }
}
static void conv_fwd(gc_case *c, float *out, float *const *in) {
    gd_conv2d_dims d = cdims(c);
    if (!c->scratch) grow(&c->scratch, gd_conv2d_scratch_floats(&d));
    gd_conv2d_forward(out, in[0], in[1], in[2], &d, c->scratch);
}
static void conv_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                     const float *out) {
    (void)out;
    gd_conv2d_dims d = cdims(c);
    gd_conv2d_backward(din[0], din[1], din[2], dout, in[0], in[1], &d, c->scratch);
}

/* group norm: iv = N, C, HW, G; fv = eps */
static void gn_ref(const gc_case *c, double *out, double *const *in) {
    ref_group_norm_d(out, in[0], in[1], in[2], c->iv[0], c->iv[1], c->iv[2], c->iv[3], c->fv[0]);
}
static void gn_fwd(gc_case *c, float *out, float *const *in) {
    int NG = c->iv[0] * c->iv[3];
    if (!c->saved) grow(&c->saved, 2 * (size_t)NG);
    gd_group_norm_forward(out, c->saved, c->saved + NG, in[0], in[1], in[2], c->iv[0], c->iv[1],
                          c->iv[2], c->iv[3], c->fv[0]);
}
static void gn_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                   const float *out) {
    (void)out;
    int NG = c->iv[0] * c->iv[3];
    gd_group_norm_backward(din[0], din[1], din[2], dout, in[0], c->saved, c->saved + NG, in[1],
                           c->iv[0], c->iv[1], c->iv[2], c->iv[3]);
}

/* silu */
static void silu_ref(const gc_case *c, double *out, double *const *in) {
    for (size_t i = 0; i < c->out_n; i++) out[i] = in[0][i] / (1.0 + exp(-in[0][i]));
}
static void silu_fwd(const gc_case *c, float *out, float *const *in) {
    gd_silu_forward(out, in[0], c->out_n);
}
static void silu_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                     const float *out) {
    (void)out;
    gd_silu_backward(din[0], dout, in[0], c->out_n);
}

/* add */
static void add_ref(const gc_case *c, double *out, double *const *in) {
    for (size_t i = 0; i < c->out_n; i++) out[i] = in[0][i] + in[1][i];
}
static void add_fwd(const gc_case *c, float *out, float *const *in) {
    gd_add_forward(out, in[0], in[1], c->out_n);
}
static void add_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                    const float *out) {
    (void)in; (void)out;
    gd_add_backward(din[0], din[1], dout, c->out_n);
}

/* add_channel: iv = N, C, HW */
static void addc_ref(const gc_case *c, double *out, double *const *in) {
    int N = c->iv[0], C = c->iv[1], HW = c->iv[2];
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int p = 0; p < HW; p++)
                out[(n * C + ch) * HW + p] = in[0][(n * C + ch) * HW + p] + in[1][n * C + ch];
}
static void addc_fwd(const gc_case *c, float *out, float *const *in) {
    gd_add_channel_forward(out, in[0], in[1], c->iv[0], c->iv[1], c->iv[2]);
}
static void addc_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                     const float *out) {
    (void)in; (void)out;
    gd_add_channel_backward(din[0], din[1], dout, c->iv[0], c->iv[1], c->iv[2]);
}

/* embedding: iv = N, K, D; the indices are fixed (not differentiable) */
static const float emb_idx[5] = {2, 0, -1, 3, 1}; /* -1: a zero row */
static void emb_ref(const gc_case *c, double *out, double *const *in) {
    int N = c->iv[0], D = c->iv[2];
    for (int n = 0; n < N; n++)
        for (int j = 0; j < D; j++)
            out[n * D + j] = emb_idx[n] < 0 ? 0.0 : in[0][(int)emb_idx[n] * D + j];
}
static void emb_fwd(const gc_case *c, float *out, float *const *in) {
    gd_embedding_forward(out, emb_idx, in[0], c->iv[0], c->iv[1], c->iv[2]);
}
static void emb_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                    const float *out) {
    (void)in; (void)out;
    gd_embedding_backward(din[0], dout, emb_idx, c->iv[0], c->iv[1], c->iv[2]);
}

/* upsample: iv = NC, H, W */
static void up_ref(const gc_case *c, double *out, double *const *in) {
    int NC = c->iv[0], H = c->iv[1], W = c->iv[2];
    for (int k = 0; k < NC; k++)
        for (int y = 0; y < 2 * H; y++)
            for (int x = 0; x < 2 * W; x++)
                out[((size_t)k * 2 * H + y) * 2 * W + x] = in[0][((size_t)k * H + y / 2) * W + x / 2];
}
static void up_fwd(const gc_case *c, float *out, float *const *in) {
    gd_upsample2x_forward(out, in[0], c->iv[0], c->iv[1], c->iv[2]);
}
static void up_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                   const float *out) {
    (void)in; (void)out;
    gd_upsample2x_backward(din[0], dout, c->iv[0], c->iv[1], c->iv[2]);
}

/* concat: iv = N, C1, C2, HW */
static void cat_ref(const gc_case *c, double *out, double *const *in) {
    int N = c->iv[0], C1 = c->iv[1], C2 = c->iv[2], HW = c->iv[3];
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C1 + C2; ch++)
            for (int p = 0; p < HW; p++)
                out[((size_t)n * (C1 + C2) + ch) * HW + p] =
                    ch < C1 ? in[0][((size_t)n * C1 + ch) * HW + p]
                            : in[1][((size_t)n * C2 + ch - C1) * HW + p];
}
static void cat_fwd(const gc_case *c, float *out, float *const *in) {
    gd_concat_forward(out, in[0], in[1], c->iv[0], c->iv[1], c->iv[2], c->iv[3]);
}
static void cat_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                    const float *out) {
    (void)in; (void)out;
    gd_concat_backward(din[0], din[1], dout, c->iv[0], c->iv[1], c->iv[2], c->iv[3]);
}

/* attention: iv = N, C, HW, groups, heads; fv = eps; inputs x, gn_w, gn_b, wq, bq, wk, bk, wv,
 * bv, wo, bo */
static gd_attention_dims adims(const gc_case *c) {
    gd_attention_dims d = {c->iv[0], c->iv[1], c->iv[2], c->iv[3], c->iv[4], c->fv[0]};
    return d;
}
static void attn_ref(const gc_case *c, double *out, double *const *in) {
    int N = c->iv[0], C = c->iv[1], HW = c->iv[2], G = c->iv[3], H = c->iv[4], D = C / H;
    size_t t = (size_t)N * HW * C;
    double *gn = malloc(sizeof(double) * t), *tok = malloc(sizeof(double) * t);
    double *q = malloc(sizeof(double) * t), *k = malloc(sizeof(double) * t);
    double *v = malloc(sizeof(double) * t), *ctx = malloc(sizeof(double) * t);
    double *o = malloc(sizeof(double) * t), *row = malloc(sizeof(double) * HW);
    ref_group_norm_d(gn, in[0], in[1], in[2], N, C, HW, G, c->fv[0]);
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++)
            for (int ch = 0; ch < C; ch++)
                tok[((size_t)n * HW + p) * C + ch] = gn[((size_t)n * C + ch) * HW + p];
    ref_linear_d(q, tok, in[3], in[4], N * HW, C, C);
    ref_linear_d(k, tok, in[5], in[6], N * HW, C, C);
    ref_linear_d(v, tok, in[7], in[8], N * HW, C, C);
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < HW; i++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j < HW; j++) {
                    double s = 0;
                    for (int e = 0; e < D; e++)
                        s += q[((size_t)n * HW + i) * C + h * D + e] *
                             k[((size_t)n * HW + j) * C + h * D + e];
                    row[j] = s / sqrt((double)D);
                    if (row[j] > mx) mx = row[j];
                }
                for (int j = 0; j < HW; j++) sum += (row[j] = exp(row[j] - mx));
                for (int e = 0; e < D; e++) {
                    double s = 0;
                    for (int j = 0; j < HW; j++)
                        s += row[j] / sum * v[((size_t)n * HW + j) * C + h * D + e];
                    ctx[((size_t)n * HW + i) * C + h * D + e] = s;
                }
            }
    ref_linear_d(o, ctx, in[9], in[10], N * HW, C, C);
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int p = 0; p < HW; p++)
                out[((size_t)n * C + ch) * HW + p] =
                    in[0][((size_t)n * C + ch) * HW + p] + o[((size_t)n * HW + p) * C + ch];
    free(gn); free(tok); free(q); free(k); free(v); free(ctx); free(o); free(row);
}
static gd_attention_params aparams(float *const *in) {
    gd_attention_params p = {in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8], in[9], in[10]};
    return p;
}
static void attn_fwd(gc_case *c, float *out, float *const *in) {
    gd_attention_dims d = adims(c);
    if (!c->saved) {
        grow(&c->saved, gd_attention_saved_floats(&d));
        grow(&c->scratch, gd_attention_scratch_floats(&d));
    }
    gd_attention_params p = aparams(in);
    gd_attention_forward(out, c->saved, in[0], &p, &d, c->scratch);
}
static void attn_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                     const float *out) {
    (void)out;
    gd_attention_dims d = adims(c);
    gd_attention_params p = aparams(in);
    gd_attention_grads g = {din[1], din[2], din[3], din[4], din[5],
                            din[6], din[7], din[8], din[9], din[10]};
    gd_attention_backward(din[0], &g, dout, in[0], c->saved, &p, &d, c->scratch);
}

/* timestep embedding: iv = N, dim, flip; fv = shift */
static void temb_ref(const gc_case *c, double *out, double *const *in) {
    int N = c->iv[0], dim = c->iv[1], half = dim / 2;
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < half; i++) {
            double f = exp(-log(10000.0) * i / (half - (double)c->fv[0])), a = in[0][n] * f;
            out[n * dim + i] = c->iv[2] ? cos(a) : sin(a);
            out[n * dim + half + i] = c->iv[2] ? sin(a) : cos(a);
        }
        if (dim % 2) out[n * dim + dim - 1] = 0.0;
    }
}
static void temb_fwd(const gc_case *c, float *out, float *const *in) {
    gd_timestep_embedding_forward(out, in[0], c->iv[0], c->iv[1], c->iv[2], c->fv[0], 10000.0f);
}
static void temb_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                     const float *out) {
    (void)out;
    gd_timestep_embedding_backward(din[0], dout, in[0], c->iv[0], c->iv[1], c->iv[2], c->fv[0],
                                   10000.0f);
}

/* losses: out is the scalar */
static void mse_ref(const gc_case *c, double *out, double *const *in) {
    double s = 0;
    for (size_t i = 0; i < c->in_n[0]; i++) s += (in[0][i] - in[1][i]) * (in[0][i] - in[1][i]);
    out[0] = s / c->in_n[0];
}
static void mse_fwd(const gc_case *c, float *out, float *const *in) {
    out[0] = gd_mse_forward(in[0], in[1], c->in_n[0]);
}
static void mse_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                    const float *out) {
    (void)out;
    gd_mse_backward(din[0], din[1], in[0], in[1], c->in_n[0], dout[0]);
}
static void bce_ref(const gc_case *c, double *out, double *const *in) {
    double s = 0;
    for (size_t i = 0; i < c->in_n[0]; i++) {
        double x = in[0][i], y = in[1][i], p = 1.0 / (1.0 + exp(-x));
        s += -(y * log(p) + (1 - y) * log(1 - p));
    }
    out[0] = s / c->in_n[0];
}
static void bce_fwd(const gc_case *c, float *out, float *const *in) {
    out[0] = gd_bce_logits_forward(in[0], in[1], c->in_n[0]);
}
static void bce_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                    const float *out) {
    (void)out;
    gd_bce_logits_backward(din[0], din[1], in[0], in[1], c->in_n[0], dout[0]);
}

/* NGMG: the ladder of fv[0] .. fv[1] with iv[0] widths; the reference in double from the
 * definition, independent of src/ops/ngmg.c */
static void ngmg_ref(const gc_case *c, double *out, double *const *in) {
    const int J = c->iv[0];
    double s[16], sum = 0, u = 0;
    for (int j = 0; j < J; j++) {
        s[j] = J == 1 ? c->fv[0] : c->fv[0] * pow((double)c->fv[1] / c->fv[0], (double)j / (J - 1));
        sum += s[j];
    }
    for (size_t i = 0; i < c->in_n[0]; i++) {
        double r = in[0][i] - in[1][i];
        for (int j = 0; j < J; j++) u -= s[j] / sum * exp(-r * r / (2 * s[j] * s[j]));
    }
    out[0] = u / c->in_n[0];
}
static void ngmg_fwd(const gc_case *c, float *out, float *const *in) {
    out[0] = gd_ngmg_forward(in[0], in[1], c->in_n[0], c->fv[0], c->fv[1], c->iv[0]);
}
static void ngmg_bwd(const gc_case *c, float *const *din, const float *dout, float *const *in,
                     const float *out) {
    (void)out;
    gd_ngmg_backward(din[0], din[1], in[0], in[1], c->in_n[0], c->fv[0], c->fv[1], c->iv[0],
                     dout[0]);
}

/* ======================= driver ======================= */
typedef void (*fwd_fn)(gc_case *, float *, float *const *);

static void run_case(gc_case *c) {
    float *in[MAXIN] = {0}, *din[MAXIN] = {0}, *d0[MAXIN] = {0};
    double *ind[MAXIN] = {0};
    for (int k = 0; k < c->nin; k++) {
        size_t n = c->in_n[k];
        float lo = c->in_lo[k], hi = c->in_hi[k];
        if (lo == 0 && hi == 0) { lo = -1; hi = 1; }
        in[k] = malloc(sizeof(float) * n);
        din[k] = malloc(sizeof(float) * n);
        d0[k] = malloc(sizeof(float) * n);
        ind[k] = malloc(sizeof(double) * n);
        gd_rng_fill_uniform(&rng, in[k], n, lo, hi);
        gd_rng_fill_uniform(&rng, d0[k], n, -1, 1);
        memcpy(din[k], d0[k], sizeof(float) * n);
        for (size_t i = 0; i < n; i++) ind[k][i] = in[k][i];
    }
    float *out = malloc(sizeof(float) * c->out_n), *R = malloc(sizeof(float) * c->out_n);
    double *outd = malloc(sizeof(double) * c->out_n);
    gd_rng_fill_uniform(&rng, R, c->out_n, -1, 1);

    ((fwd_fn)c->fwd)(c, out, in);
    c->ref(c, outd, ind);
    double fe = gd_rel_err_d(out, outd, c->out_n);
    char label[160];
    snprintf(label, sizeof label, "%s: forward matches double reference (%.2e)", c->name, fe);
    TEST_COND(label, fe < 2e-5);

    c->bwd(c, din, R, in, out);
    double *fd[MAXIN] = {0};
    float *an[MAXIN] = {0};
    size_t nfd[MAXIN] = {0};
    double gmax = 0; /* the largest gradient entry of the op, over all inputs */
    for (int k = 0; k < c->nin; k++) {
        size_t n = c->in_n[k];
        nfd[k] = c->max_fd && (size_t)c->max_fd < n ? (size_t)c->max_fd : n;
        fd[k] = malloc(sizeof(double) * nfd[k]);
        an[k] = malloc(sizeof(float) * nfd[k]);
        for (size_t s = 0; s < nfd[k]; s++) {
            size_t i = nfd[k] == n ? s : (size_t)gd_rng_below(&rng, n);
            double x0 = ind[k][i], h = 1e-5 * fmax(1.0, fabs(x0)), lp = 0, lm = 0;
            ind[k][i] = x0 + h;
            c->ref(c, outd, ind);
            for (size_t j = 0; j < c->out_n; j++) lp += R[j] * outd[j];
            ind[k][i] = x0 - h;
            c->ref(c, outd, ind);
            for (size_t j = 0; j < c->out_n; j++) lm += R[j] * outd[j];
            ind[k][i] = x0;
            fd[k][s] = (lp - lm) / (2 * h);
            an[k][s] = din[k][i] - d0[k][i];
            gmax = fmax(gmax, fabs(fd[k][s]));
        }
    }
    for (int k = 0; k < c->nin; k++) {
        /* normwise relative error per input; the floor (1e-2 of the op's largest gradient)
         * keeps a gradient that is exactly zero in theory (the key bias of attention, to which
         * softmax is invariant) from dividing float rounding by ~0 */
        double md = 0, mf = 0;
        for (size_t s = 0; s < nfd[k]; s++) {
            double d = fabs(an[k][s] - fd[k][s]);
            md = d > md || d != d ? d : md;
            mf = fmax(mf, fabs(fd[k][s]));
        }
        double be = md / fmax(mf, fmax(1e-2 * gmax, 1e-12));
        snprintf(label, sizeof label, "%s: backward of input %d matches finite differences (%.2e)",
                 c->name, k, be);
        TEST_COND(label, be < 1e-4);
        free(fd[k]);
        free(an[k]);
    }
    for (int k = 0; k < c->nin; k++) { free(in[k]); free(din[k]); free(d0[k]); free(ind[k]); }
    free(out); free(R); free(outd);
    gd_free(c->saved); gd_free(c->scratch);
    c->saved = c->scratch = NULL;
}

#define FWD(f) ((void (*)(const gc_case *, float *, float *const *))(f))

static gc_case conv_case(const char *name, int n, int ic, int h, int w, int oc, int k, int s,
                         int p, int max_fd) {
    gc_case c = {.name = name, .nin = 3, .ref = conv_ref, .fwd = FWD(conv_fwd), .bwd = conv_bwd,
                 .iv = {n, ic, h, w, oc, k, s, p}, .max_fd = max_fd};
    int oh = gd_conv2d_out_size(h, k, s, p), ow = gd_conv2d_out_size(w, k, s, p);
    c.in_n[0] = (size_t)n * ic * h * w;
    c.in_n[1] = (size_t)oc * ic * k * k;
    c.in_n[2] = oc;
    c.out_n = (size_t)n * oc * oh * ow;
    return c;
}

int main(void) {
    gd_rng_seed(&rng, 2024);
    gc_case cases[32];
    int nc = 0;
    cases[nc++] = (gc_case){.name = "linear", .nin = 3, .in_n = {5 * 7, 4 * 7, 4}, .out_n = 5 * 4,
                            .ref = linear_ref, .fwd = linear_fwd, .bwd = linear_bwd,
                            .iv = {5, 7, 4}};
    cases[nc++] = conv_case("conv2d k3 s1 p1", 2, 3, 7, 6, 4, 3, 1, 1, 0);
    cases[nc++] = conv_case("conv2d k3 s2 p1", 2, 3, 7, 6, 4, 3, 2, 1, 0);
    cases[nc++] = conv_case("conv2d k1 s1 p0", 2, 5, 4, 3, 3, 1, 1, 0, 0);
    cases[nc++] = conv_case("conv2d k3 s2 p0", 1, 2, 8, 9, 3, 3, 2, 0, 0);
    cases[nc++] = conv_case("conv2d k3 s1 p1 multi-chunk", 3, 64, 64, 64, 2, 3, 1, 1, 40);
    /* 20 images in 8 groups: the weight gradient's GEMMs over several images side by side */
    cases[nc++] = conv_case("conv2d k3 s2 p1 batched dw", 20, 3, 7, 6, 4, 3, 2, 1, 40);
    cases[nc++] = conv_case("conv2d k1 batched dw", 20, 5, 4, 3, 3, 1, 1, 0, 40);
    /* Winograd F(2x2, 3x3) (16+ channels each way): odd sizes (cropped tiles), and 13 images
     * in groups of 12 and 1 */
    cases[nc++] = conv_case("conv2d winograd 7x5", 5, 16, 7, 5, 17, 3, 1, 1, 40);
    cases[nc++] = conv_case("conv2d winograd 8x8 two groups", 13, 16, 8, 8, 16, 3, 1, 1, 40);
    /* 49 tiles or more: the weight gradient by Winograd as well, odd sizes, and 20 images in
     * 16 partial sums, some of two groups */
    cases[nc++] = conv_case("conv2d winograd dw 13x13", 3, 16, 13, 13, 17, 3, 1, 1, 40);
    cases[nc++] = conv_case("conv2d winograd dw 28x28", 20, 16, 28, 28, 16, 3, 1, 1, 40);
    cases[nc++] = (gc_case){.name = "group_norm", .nin = 3, .in_n = {2 * 6 * 5, 6, 6},
                            .out_n = 2 * 6 * 5, .in_lo = {-2, 0.5f, -1}, .in_hi = {3, 1.5f, 1},
                            .ref = gn_ref, .fwd = FWD(gn_fwd), .bwd = gn_bwd, .iv = {2, 6, 5, 3},
                            .fv = {1e-5f}};
    cases[nc++] = (gc_case){.name = "silu", .nin = 1, .in_n = {50}, .out_n = 50,
                            .in_lo = {-6}, .in_hi = {6}, .ref = silu_ref, .fwd = silu_fwd,
                            .bwd = silu_bwd};
    cases[nc++] = (gc_case){.name = "add", .nin = 2, .in_n = {30, 30}, .out_n = 30,
                            .ref = add_ref, .fwd = add_fwd, .bwd = add_bwd};
    cases[nc++] = (gc_case){.name = "add_channel", .nin = 2, .in_n = {2 * 3 * 4, 2 * 3},
                            .out_n = 24, .ref = addc_ref, .fwd = addc_fwd, .bwd = addc_bwd,
                            .iv = {2, 3, 4}};
    cases[nc++] = (gc_case){.name = "upsample2x", .nin = 1, .in_n = {3 * 2 * 3},
                            .out_n = 3 * 4 * 6, .ref = up_ref, .fwd = up_fwd, .bwd = up_bwd,
                            .iv = {3, 2, 3}};
    cases[nc++] = (gc_case){.name = "embedding", .nin = 1, .in_n = {4 * 3}, .out_n = 5 * 3,
                            .ref = emb_ref, .fwd = emb_fwd, .bwd = emb_bwd, .iv = {5, 4, 3}};
    cases[nc++] = (gc_case){.name = "concat", .nin = 2, .in_n = {2 * 2 * 4, 2 * 3 * 4},
                            .out_n = 2 * 5 * 4, .ref = cat_ref, .fwd = cat_fwd, .bwd = cat_bwd,
                            .iv = {2, 2, 3, 4}};
    {
        gc_case c = {.name = "attention", .nin = 11, .out_n = 2 * 8 * 6, .ref = attn_ref,
                     .fwd = FWD(attn_fwd), .bwd = attn_bwd, .iv = {2, 8, 6, 2, 2},
                     .fv = {1e-5f}};
        c.in_n[0] = c.out_n;
        c.in_lo[0] = -2; c.in_hi[0] = 2;
        c.in_n[1] = c.in_n[2] = 8;
        c.in_lo[1] = 0.5f; c.in_hi[1] = 1.5f;
        for (int k = 3; k < 11; k++) c.in_n[k] = k % 2 ? 64 : 8;
        cases[nc++] = c;
    }
    cases[nc++] = (gc_case){.name = "timestep_embedding", .nin = 1, .in_n = {3}, .out_n = 3 * 8,
                            .in_lo = {0}, .in_hi = {50}, .ref = temb_ref, .fwd = temb_fwd,
                            .bwd = temb_bwd, .iv = {3, 8, 0}, .fv = {1}};
    cases[nc++] = (gc_case){.name = "timestep_embedding odd flip", .nin = 1, .in_n = {3},
                            .out_n = 3 * 9, .in_lo = {0}, .in_hi = {50}, .ref = temb_ref,
                            .fwd = temb_fwd, .bwd = temb_bwd, .iv = {3, 9, 1}, .fv = {0}};
    cases[nc++] = (gc_case){.name = "mse", .nin = 2, .in_n = {20, 20}, .out_n = 1,
                            .ref = mse_ref, .fwd = mse_fwd, .bwd = mse_bwd};
    cases[nc++] = (gc_case){.name = "bce_logits", .nin = 2, .in_n = {20, 20}, .out_n = 1,
                            .in_lo = {-8, 0}, .in_hi = {8, 1}, .ref = bce_ref, .fwd = bce_fwd,
                            .bwd = bce_bwd};
    cases[nc++] = (gc_case){.name = "ngmg single width", .nin = 2, .in_n = {20, 20}, .out_n = 1,
                            .in_lo = {-3, 0}, .in_hi = {3, 1}, .ref = ngmg_ref, .fwd = ngmg_fwd,
                            .bwd = ngmg_bwd, .iv = {1}, .fv = {1.0f, 1.0f}};
    cases[nc++] = (gc_case){.name = "ngmg ladder", .nin = 2, .in_n = {20, 20}, .out_n = 1,
                            .in_lo = {-6, 0}, .in_hi = {6, 1}, .ref = ngmg_ref, .fwd = ngmg_fwd,
                            .bwd = ngmg_bwd, .iv = {5}, .fv = {0.5f, 8.0f}};
    for (int i = 0; i < nc; i++) run_case(&cases[i]);
    /* the vectorisable exp of SiLU and softmax (src/ops/vexp.h): within 1 ulp of exp over its
     * range, NaN stays NaN, clamped outside */
    {
        double worst = 0;
        for (float x = -87.0f; x < 88.0f; x += 0.00731f) {
            double e = exp((double)x), a = gd_vexpf(x);
            double ulp = (double)nextafterf((float)e, INFINITY) - (double)(float)e;
            if (fabs(a - e) / ulp > worst) worst = fabs(a - e) / ulp;
        }
        printf("vexp: worst error %.2f ulp over [-87, 88]\n", worst);
        TEST_COND("vexp within 1 ulp of exp", worst <= 1.0);
        TEST_COND("vexp keeps NaN", isnan(gd_vexpf(NAN)));
        TEST_COND("vexp clamps", gd_vexpf(-1000.0f) > 0 && gd_vexpf(-1000.0f) < 1e-37f &&
                                 isfinite(gd_vexpf(1000.0f)) && gd_vexpf(1000.0f) > 1e38f);
    }
    return gd_test_report("test_gradcheck");
}
