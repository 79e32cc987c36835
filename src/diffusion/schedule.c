/* schedule.c - beta schedules, the parameterisations, and the names used in configs. */
#include "gmmdiff/diffusion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double alpha_bar_cos(double t) {
    double c = cos((t + 0.008) / 1.008 * 3.14159265358979323846 / 2.0);
    return c * c;
}

gd_status gd_schedule_init(gd_noise_schedule *s, gd_beta_schedule kind, int n, float beta_start,
                           float beta_end, gd_error *err) {
    memset(s, 0, sizeof *s);
    if (n < 2 || n > GD_MAX_TRAIN_STEPS)
        return gd_error_set(err, GD_ERR_ARG, "num_train_timesteps %d is not in [2, %d]", n,
                            GD_MAX_TRAIN_STEPS);
    if (kind != GD_BETA_SQUAREDCOS_CAP_V2 &&
        !(beta_start > 0 && beta_end >= beta_start && beta_end < 1))
        return gd_error_set(err, GD_ERR_ARG, "betas must satisfy 0 < beta_start <= beta_end < 1");
    s->betas = malloc(sizeof(float) * (size_t)n);
    s->alphas_cumprod = malloc(sizeof(float) * (size_t)n);
    if (!s->betas || !s->alphas_cumprod) {
        gd_schedule_free(s);
        return gd_error_set(err, GD_ERR_NOMEM, "out of memory");
    }
    s->n = n;
    for (int i = 0; i < n; i++) {
        double f = (double)i / (n - 1), b;
        if (kind == GD_BETA_LINEAR) {
            b = beta_start + f * ((double)beta_end - beta_start);
        } else if (kind == GD_BETA_SCALED_LINEAR) {
            float r = (float)(sqrt((double)beta_start) +
                              f * (sqrt((double)beta_end) - sqrt((double)beta_start)));
            b = (double)(r * r); /* squared in float32, as torch does */
        } else {
            b = 1.0 - alpha_bar_cos((double)(i + 1) / n) / alpha_bar_cos((double)i / n);
            if (b > 0.999) b = 0.999;
        }
        s->betas[i] = (float)b;
    }
    double prod = 1.0; /* torch's cumprod accumulates float32 in double */
    for (int i = 0; i < n; i++) {
        prod *= (double)(1.0f - s->betas[i]);
        s->alphas_cumprod[i] = (float)prod;
    }
    return GD_OK;
}

void gd_schedule_free(gd_noise_schedule *s) {
    if (!s) return;
    free(s->betas);
    free(s->alphas_cumprod);
    memset(s, 0, sizeof *s);
}

#define PARSE(name, table, out)                                         \
    do {                                                                \
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)     \
            if (!strcmp(name, table[i])) {                              \
                *out = (__typeof__(*out))i;                             \
                return GD_OK;                                           \
            }                                                           \
        return GD_ERR_ARG;                                              \
    } while (0)

gd_status gd_beta_schedule_parse(const char *name, gd_beta_schedule *out) {
    static const char *t[] = {"linear", "scaled_linear", "squaredcos_cap_v2"};
    PARSE(name, t, out);
}
gd_status gd_prediction_parse(const char *name, gd_prediction *out) {
    static const char *t[] = {"epsilon", "v_prediction", "sample"};
    PARSE(name, t, out);
}
gd_status gd_sampler_parse(const char *name, gd_sampler_kind *out) {
    static const char *t[] = {"ddpm", "ddim", "dpm++2m"};
    PARSE(name, t, out);
}
gd_status gd_spacing_parse(const char *name, gd_spacing *out) {
    static const char *t[] = {"leading", "trailing", "linspace"};
    PARSE(name, t, out);
}

void gd_add_noise(float *xt, const float *x0, const float *eps, size_t n, float ac_t) {
    const float a = sqrtf(ac_t), b = sqrtf(1.0f - ac_t);
    for (size_t i = 0; i < n; i++) xt[i] = a * x0[i] + b * eps[i];
}

void gd_training_target(float *target, const float *x0, const float *eps, size_t n, float ac_t,
                        gd_prediction p) {
    const float a = sqrtf(ac_t), b = sqrtf(1.0f - ac_t);
    for (size_t i = 0; i < n; i++)
        target[i] = p == GD_PRED_EPSILON ? eps[i] : p == GD_PRED_SAMPLE ? x0[i]
                                                                        : a * eps[i] - b * x0[i];
}

void gd_prediction_to_x0_eps(float *x0, float *eps, const float *mo, const float *xt, size_t n,
                             float ac_t, gd_prediction p) {
    const double a = sqrt((double)ac_t), b = sqrt(1.0 - (double)ac_t);
    for (size_t i = 0; i < n; i++) {
        double x, e;
        if (p == GD_PRED_EPSILON) {
            e = mo[i];
            x = (xt[i] - b * e) / a;
        } else if (p == GD_PRED_SAMPLE) {
            x = mo[i];
            e = (xt[i] - a * x) / b;
        } else {
            x = a * xt[i] - b * mo[i];
            e = a * mo[i] + b * xt[i];
        }
        if (x0) x0[i] = (float)x;
        if (eps) eps[i] = (float)e;
    }
}

void gd_eps_to_prediction(float *mo, const float *eps, const float *xt, size_t n, float ac_t,
                          gd_prediction p) {
    const double a = sqrt((double)ac_t), b = sqrt(1.0 - (double)ac_t);
    for (size_t i = 0; i < n; i++) {
        double x = (xt[i] - b * eps[i]) / a;
        mo[i] = (float)(p == GD_PRED_EPSILON ? eps[i] : p == GD_PRED_SAMPLE ? x
                                                                           : a * eps[i] - b * x);
    }
}
