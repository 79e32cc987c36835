/* test_optim.c - AdamW against its formula in double, EMA and its decay schedule against
 * closed forms (diffusers' EMAModel semantics), gradient clipping. The 50-step AdamW training
 * against PyTorch is test_train_small. */
#include "gmmdiff/optim.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>

int main(void) {
    /* AdamW: three steps on 4 parameters against the formula evaluated in double */
    float p[4] = {1.0f, -0.5f, 0.25f, 3.0f}, m[4] = {0}, v[4] = {0};
    double pd[4], md[4] = {0}, vd[4] = {0};
    for (int i = 0; i < 4; i++) pd[i] = p[i];
    gd_adamw_config c = {0.01f, 0.9f, 0.99f, 1e-8f, 0.1f};
    const float grads[3][4] = {{0.5f, -1.0f, 0.0f, 2.0f}, {0.1f, 0.2f, -0.3f, 0.4f},
                               {-1e-3f, 5.0f, 1e-6f, 0.0f}};
    for (int t = 1; t <= 3; t++) {
        gd_adamw_step(p, grads[t - 1], m, v, 4, t, &c);
        for (int i = 0; i < 4; i++) {
            double g = grads[t - 1][i];
            pd[i] *= 1.0 - (double)c.lr * c.weight_decay;
            md[i] = 0.9 * md[i] + 0.1 * g;
            vd[i] = 0.99 * vd[i] + 0.01 * g * g;
            double mh = md[i] / (1 - pow(0.9, t)), vh = vd[i] / (1 - pow(0.99, t));
            pd[i] -= (double)c.lr * mh / (sqrt(vh) + 1e-8);
        }
    }
    double worst = 0;
    for (int i = 0; i < 4; i++) worst = fmax(worst, fabs(p[i] - pd[i]));
    printf("AdamW vs double formula: max abs difference %.2e\n", worst);
    TEST_COND("AdamW matches its formula", worst < 1e-6);
    gd_adamw_config d = gd_adamw_defaults();
    TEST_COND("AdamW defaults are torch's", d.lr == 1e-3f && d.beta1 == 0.9f &&
                                                d.beta2 == 0.999f && d.eps == 1e-8f &&
                                                d.weight_decay == 1e-2f);

    /* EMA towards a constant: ema_n = p + (ema_0 - p) decay^n */
    float ema[2] = {0.0f, 10.0f}, target[2] = {1.0f, -2.0f};
    for (int n = 0; n < 20; n++) gd_ema_update(ema, target, 2, 0.9f);
    double e0 = 1.0 + (0.0 - 1.0) * pow(0.9, 20), e1 = -2.0 + (10.0 + 2.0) * pow(0.9, 20);
    TEST_COND("EMA closed form", fabs(ema[0] - e0) < 1e-5 && fabs(ema[1] - e1) < 1e-4);

    /* decay schedule (diffusers EMAModel.get_decay) */
    TEST_COND("decay is 0 before the first update",
              gd_ema_decay(1, 0.9999f, 0.0f, 0, 0, 1.0f, 2.0f / 3) == 0.0f);
    TEST_COND("decay (1+s)/(10+s) without warmup",
              fabsf(gd_ema_decay(11, 0.9999f, 0.0f, 0, 0, 1.0f, 2.0f / 3) - 11.0f / 20.0f) < 1e-7f);
    TEST_COND("decay waits for update_after_step",
              gd_ema_decay(100, 0.9999f, 0.0f, 100, 0, 1.0f, 2.0f / 3) == 0.0f);
    float w = gd_ema_decay(1001, 0.9999f, 0.0f, 0, 1, 1.0f, 0.75f);
    TEST_COND("warmup decay 1 - (1 + s)^-power",
              fabs(w - (1.0 - pow(1.0 + 1000.0, -0.75))) < 1e-6);
    TEST_COND("decay clamps to max_decay",
              gd_ema_decay(1000000, 0.999f, 0.0f, 0, 0, 1.0f, 0.75f) == 0.999f);
    TEST_COND("decay clamps to min_decay",
              gd_ema_decay(2, 0.9999f, 0.5f, 0, 0, 1.0f, 0.75f) == 0.5f);

    /* gradient clipping */
    float g[3] = {3.0f, 4.0f, 0.0f};
    float norm = gd_clip_grad_norm(g, 3, 1.0f);
    TEST_COND("clip returns the norm before clipping", fabsf(norm - 5.0f) < 1e-6f);
    TEST_COND("clip scales to max_norm",
              fabsf(sqrtf(g[0] * g[0] + g[1] * g[1]) - 1.0f) < 1e-5f && g[2] == 0.0f);
    float h[2] = {0.3f, 0.4f};
    gd_clip_grad_norm(h, 2, 1.0f);
    TEST_COND("clip leaves small gradients alone", h[0] == 0.3f && h[1] == 0.4f);
    return gd_test_report("test_optim");
}
