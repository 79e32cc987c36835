/* optim.c - AdamW, EMA and gradient-norm clipping: single flat passes over the parameters. */
#include "gmmdiff/optim.h"
#include "gmmdiff/core.h"

#include <math.h>

gd_adamw_config gd_adamw_defaults(void) {
    gd_adamw_config c = {1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f};
    return c;
}

void gd_adamw_step(float *p, const float *g, float *m, float *v, size_t n, int64_t step,
                   const gd_adamw_config *c) {
    GD_ASSERT(p && g && m && v && c && step >= 1);
    const float b1 = c->beta1, b2 = c->beta2;
    const double bc1 = 1.0 - pow((double)b1, (double)step);
    const double bc2 = 1.0 - pow((double)b2, (double)step);
    const float step_size = (float)(c->lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float decay = 1.0f - c->lr * c->weight_decay;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float pi = p[i] * decay;
        float mi = m[i] * b1 + (1.0f - b1) * gi;
        float vi = v[i] * b2 + (1.0f - b2) * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + c->eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / denom);
    }
}

void gd_ema_update(float *ema, const float *p, size_t n, float decay) {
    GD_ASSERT(ema && p);
    const float k = 1.0f - decay;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) ema[i] -= k * (ema[i] - p[i]);
}

float gd_ema_decay(int64_t optimization_step, float max_decay, float min_decay,
                   int64_t update_after_step, int use_warmup, float inv_gamma, float power) {
    int64_t s = optimization_step - update_after_step - 1;
    if (s <= 0) return 0.0f;
    double d = use_warmup ? 1.0 - pow(1.0 + (double)s / inv_gamma, -(double)power)
                          : (1.0 + (double)s) / (10.0 + (double)s);
    if (d > max_decay) d = max_decay;
    if (d < min_decay) d = min_decay;
    return (float)d;
}

float gd_clip_grad_norm(float *g, size_t n, float max_norm) {
    GD_ASSERT(g && max_norm > 0.0f);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    float norm = (float)sqrt(s);
    float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f) {
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) g[i] *= coef;
    }
    return norm;
}
