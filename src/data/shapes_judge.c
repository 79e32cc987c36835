/* shapes_judge.c - the judge of the `shapes` data set: the best-matching rendering of an image
 * over all 48 combinations x 9 jitters, its residuals and the defect flag, and the summary of
 * judged images against intended attributes (see shapes.h and docs/DATA.md).
 *
 * The match is the plain least-squares one: no intensity scale or offset is fitted, so an image
 * whose ink is between dim and bright carries that difference into its residuals. Two numbers
 * measure what the best match leaves: the RMS over the image, and the largest |mean| of the
 * residual over a w x w window (w = 3 at 16x16), which does not dilute a small error in a large
 * image and averages pixel noise away.
 */
#include "gmmdiff/shapes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

gd_status gd_shapes_judge_init(gd_shapes_judge_ctx *ctx, int size, gd_error *err) {
    GD_ASSERT(ctx);
    memset(ctx, 0, sizeof *ctx);
    if (!gd_shapes_size_ok(size))
        return gd_error_set(err, GD_ERR_ARG, "shapes judge: image size %d is not supported (16, "
                            "28 or 32)", size);
    size_t px = (size_t)size * size;
    int nt = GD_SHAPES_N_COMBOS * GD_SHAPES_N_JITTER;
    ctx->templates = malloc((size_t)nt * px * sizeof(float));
    if (!ctx->templates)
        return gd_error_set(err, GD_ERR_NOMEM, "shapes judge: templates: out of memory");
    ctx->size = size;
    ctx->n_templates = nt;
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < nt; t++) {
        int v[GD_SHAPES_N_ATTRS];
        gd_shapes_combo_values(t / GD_SHAPES_N_JITTER, v);
        int j = t % GD_SHAPES_N_JITTER;
        gd_shapes_render(ctx->templates + (size_t)t * px, size, v, j % 3 - 1, j / 3 - 1);
    }
    return GD_OK;
}

void gd_shapes_judge_free(gd_shapes_judge_ctx *ctx) {
    if (!ctx) return;
    free(ctx->templates);
    ctx->templates = NULL;
    ctx->n_templates = 0;
}

/* sum over p of (x[p] - t[p])^2 in eight fixed lanes (vectorisable, order fixed); px % 8 == 0 */
static float shapes_sse(const float *x, const float *t, size_t px) {
    float acc[8] = {0};
    for (size_t p = 0; p < px; p += 8)
        for (int k = 0; k < 8; k++) {
            float d = x[p + k] - t[p + k];
            acc[k] += d * d;
        }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* the window of the local residual: 3 pixels at size 16, scaled (5 at 28, 6 at 32) */
static int shapes_window(int size) { return (3 * size + 8) / 16; }

/* max over w x w windows inside the image of |sum of (x - t)| / w^2; x, t [size, size] */
static float shapes_local(const float *x, const float *t, int size) {
    int w = shapes_window(size);
    float best = 0.0f;
    for (int i = 0; i + w <= size; i++)
        for (int j = 0; j + w <= size; j++) {
            float sum = 0.0f;
            for (int a = 0; a < w; a++)
                for (int b = 0; b < w; b++) {
                    size_t p = (size_t)(i + a) * size + (j + b);
                    sum += x[p] - t[p];
                }
            float m = (sum < 0 ? -sum : sum) / (float)(w * w);
            if (!(m <= best)) best = m; /* NaN propagates */
        }
    return best;
}

void gd_shapes_judge_run(const gd_shapes_judge_ctx *ctx, const float *imgs, int n,
                         gd_shapes_verdict *out) {
    GD_ASSERT(ctx && ctx->templates && n >= 0 && (n == 0 || (imgs && out)));
    size_t px = (size_t)ctx->size * ctx->size;
    GD_ASSERT(px % 8 == 0);
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        const float *x = imgs + (size_t)i * px;
        int best = 0;
        float best_sse = shapes_sse(x, ctx->templates, px);
        for (int t = 1; t < ctx->n_templates; t++) {
            float s = shapes_sse(x, ctx->templates + (size_t)t * px, px);
            if (s < best_sse) { /* strict: the lowest template index wins a tie */
                best_sse = s;
                best = t;
            }
        }
        gd_shapes_verdict *v = &out[i];
        v->cls = best / GD_SHAPES_N_JITTER;
        gd_shapes_combo_values(v->cls, v->values);
        v->dx = best % GD_SHAPES_N_JITTER % 3 - 1;
        v->dy = best % GD_SHAPES_N_JITTER / 3 - 1;
        v->residual = (float)sqrt((double)best_sse / (double)px);
        v->local = shapes_local(x, ctx->templates + (size_t)best * px, ctx->size);
        v->defect = !(v->residual <= GD_SHAPES_RMS_THRESHOLD) ||
                    !(v->local <= GD_SHAPES_LOCAL_THRESHOLD);
    }
}

gd_status gd_shapes_judge(const float *imgs, int n, int size, gd_shapes_verdict *out,
                          gd_error *err) {
    gd_shapes_judge_ctx ctx;
    gd_status s = gd_shapes_judge_init(&ctx, size, err);
    if (s != GD_OK) return s;
    gd_shapes_judge_run(&ctx, imgs, n, out);
    gd_shapes_judge_free(&ctx);
    return GD_OK;
}

void gd_shapes_summarize(const gd_shapes_verdict *v, int n, const int *intended,
                         gd_shapes_summary *out) {
    GD_ASSERT(out && n >= 0 && (n == 0 || v));
    memset(out, 0, sizeof *out);
    out->n = n;
    /* right answers of non-defects: over all n items a defect counts as wrong */
    int right[GD_SHAPES_N_ATTRS] = {0}, exact = 0, right_any[GD_SHAPES_N_ATTRS] = {0}, exact_any = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].defect) out->n_defect++;
        if (!intended) continue;
        int all = 1;
        for (int a = 0; a < GD_SHAPES_N_ATTRS; a++) {
            int ok = v[i].values[a] == intended[(size_t)i * GD_SHAPES_N_ATTRS + a];
            all &= ok;
            right[a] += ok && !v[i].defect;
            right_any[a] += ok;
        }
        exact += all && !v[i].defect;
        exact_any += all;
    }
    int n_ok = n - out->n_defect;
    out->defect_rate = n ? (double)out->n_defect / n : NAN;
    for (int a = 0; a < GD_SHAPES_N_ATTRS; a++) {
        out->attr_acc[a] = intended && n ? (double)right[a] / n : NAN;
        out->attr_acc_ok[a] = intended && n_ok ? (double)right[a] / n_ok : NAN;
        out->attr_acc_any[a] = intended && n ? (double)right_any[a] / n : NAN;
    }
    out->exact_acc_any = intended && n ? (double)exact_any / n : NAN;
    out->exact_acc = intended && n ? (double)exact / n : NAN;
    out->exact_acc_ok = intended && n_ok ? (double)exact / n_ok : NAN;
}
