/* sampler.c - DDPM (ancestral), DDIM (eta) and DPM-Solver++ 2M steps, each following the
 * corresponding diffusers scheduler's step() line by line (timestep spacing, x0 clipping,
 * the "previous timestep" rule, lower-order final steps). */
#include "gmmdiff/diffusion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

gd_sampler_config gd_sampler_defaults(gd_sampler_kind kind) {
    gd_sampler_config c = {kind, GD_PRED_EPSILON, 50, GD_SPACING_LEADING, 0.0f, 1, 1.0f, 0};
    if (kind == GD_SAMPLER_DPMPP_2M) {
        c.spacing = GD_SPACING_LINSPACE;
        c.clip_sample = 0;
    }
    return c;
}

gd_sampler_config gd_sampler_for_model(gd_sampler_kind kind, const gd_scheduler_config *sc,
                                       int steps) {
    gd_sampler_config c = gd_sampler_defaults(kind);
    c.prediction = sc->prediction;
    c.steps = steps;
    if (kind != GD_SAMPLER_DPMPP_2M) c.clip_sample = sc->clip_sample;
    c.clip_range = sc->clip_sample_range;
    c.use_clipped_model_output = kind == GD_SAMPLER_DDIM;
    return c;
}

void gd_sampler_free(gd_sampler *s) {
    if (!s) return;
    free(s->timesteps);
    free(s->sigmas);
    free(s->prev_x0);
    memset(s, 0, sizeof *s);
}

/* diffusers' set_timesteps; DPM++ spaces steps+1 points and drops the last */
static void make_timesteps(int *ts, int steps, int N, gd_spacing sp, int dpm) {
    int m = dpm && sp != GD_SPACING_TRAILING ? steps + 1 : steps;
    for (int i = 0; i < steps; i++) {
        int k = m - 1 - i; /* descending */
        double v;
        if (sp == GD_SPACING_LEADING) v = (double)k * (N / m);
        else if (sp == GD_SPACING_LINSPACE) v = rint((double)k * (N - 1) / (m - 1));
        else v = rint(N - (double)i * ((double)N / steps)) - 1; /* trailing */
        ts[i] = (int)v;
    }
}

gd_status gd_sampler_init(gd_sampler *s, const gd_sampler_config *cfg,
                          const gd_noise_schedule *sched, size_t n, gd_error *err) {
    memset(s, 0, sizeof *s);
    if (cfg->steps < 1 || cfg->steps > sched->n)
        return gd_error_set(err, GD_ERR_ARG, "steps %d is not in [1, %d]", cfg->steps, sched->n);
    if (cfg->kind == GD_SAMPLER_DPMPP_2M && cfg->steps < 2)
        return gd_error_set(err, GD_ERR_ARG, "dpm++2m needs at least 2 steps");
    if (!(cfg->eta >= 0.0f && cfg->eta <= 1.0f))
        return gd_error_set(err, GD_ERR_ARG, "eta %g is not in [0, 1]", (double)cfg->eta);
    s->cfg = *cfg;
    s->sched = sched;
    s->n = n;
    s->timesteps = malloc(sizeof(int) * (size_t)cfg->steps);
    if (cfg->kind == GD_SAMPLER_DPMPP_2M) {
        s->sigmas = malloc(sizeof(double) * (size_t)(cfg->steps + 1));
        s->prev_x0 = malloc(sizeof(float) * (n ? n : 1));
    }
    if (!s->timesteps || (cfg->kind == GD_SAMPLER_DPMPP_2M && (!s->sigmas || !s->prev_x0))) {
        gd_sampler_free(s);
        return gd_error_set(err, GD_ERR_NOMEM, "out of memory");
    }
    make_timesteps(s->timesteps, cfg->steps, sched->n, cfg->spacing,
                   cfg->kind == GD_SAMPLER_DPMPP_2M);
    if (s->sigmas) {
        for (int i = 0; i < cfg->steps; i++) {
            float ac = sched->alphas_cumprod[s->timesteps[i]];
            s->sigmas[i] = (float)sqrtf((1.0f - ac) / ac); /* float32, as diffusers */
        }
        s->sigmas[cfg->steps] = 0.0; /* final_sigmas_type "zero" */
    }
    return GD_OK;
}

static float clampf(float x, float r) { return x < -r ? -r : x > r ? r : x; }

static void ddpm_step(gd_sampler *s, const float *mo, float *x, const float *noise) {
    const gd_noise_schedule *sc = s->sched;
    int t = s->timesteps[s->step_index], prev = t - sc->n / s->cfg.steps;
    double ap = sc->alphas_cumprod[t], app = prev >= 0 ? sc->alphas_cumprod[prev] : 1.0;
    double bp = 1.0 - ap, bpp = 1.0 - app, cur_a = ap / app, cur_b = 1.0 - cur_a;
    double c0 = sqrt(app) * cur_b / bp, c1 = sqrt(cur_a) * bpp / bp;
    double var = bpp / bp * cur_b;
    if (var < 1e-20) var = 1e-20;
    double sd = t > 0 ? sqrt(var) : 0.0;
    for (size_t i = 0; i < s->n; i++) {
        float x0;
        gd_prediction_to_x0_eps(&x0, NULL, &mo[i], &x[i], 1, (float)ap, s->cfg.prediction);
        if (s->cfg.clip_sample) x0 = clampf(x0, s->cfg.clip_range);
        double v = c0 * x0 + c1 * x[i];
        if (sd > 0) v += sd * noise[i];
        x[i] = (float)v;
    }
}

static void ddim_step(gd_sampler *s, const float *mo, float *x, const float *noise) {
    const gd_noise_schedule *sc = s->sched;
    int t = s->timesteps[s->step_index], prev = t - sc->n / s->cfg.steps;
    double ap = sc->alphas_cumprod[t], app = prev >= 0 ? sc->alphas_cumprod[prev] : 1.0;
    double bp = 1.0 - ap, bpp = 1.0 - app;
    double var = bpp / bp * (1.0 - ap / app), sd = s->cfg.eta * sqrt(var);
    double dir = sqrt(1.0 - app - sd * sd);
    for (size_t i = 0; i < s->n; i++) {
        float x0, eps;
        gd_prediction_to_x0_eps(&x0, &eps, &mo[i], &x[i], 1, (float)ap, s->cfg.prediction);
        if (s->cfg.clip_sample) x0 = clampf(x0, s->cfg.clip_range);
        if (s->cfg.use_clipped_model_output)
            eps = (float)((x[i] - sqrt(ap) * x0) / sqrt(bp));
        double v = sqrt(app) * x0 + dir * eps;
        if (s->cfg.eta > 0) v += sd * noise[i];
        x[i] = (float)v;
    }
}

/* DPM-Solver++ (data prediction), midpoint second order, lower order at the final step */
static void dpmpp_step(gd_sampler *s, const float *mo, float *x) {
    int i = s->step_index, last = s->cfg.steps - 1;
    double sig_s = s->sigmas[i], sig_t = s->sigmas[i + 1];
    double a_s = 1.0 / sqrt(sig_s * sig_s + 1.0), s_s = sig_s * a_s;
    double a_t = 1.0 / sqrt(sig_t * sig_t + 1.0), s_t = sig_t * a_t;
    double h = (log(a_t) - log(s_t)) - (log(a_s) - log(s_s)); /* +inf at sigma_t = 0 */
    double ratio = s_t / s_s, k = a_t * (exp(-h) - 1.0);
    int second = s->lower_order_nums >= 1 && i != last;
    double r_inv = 0.0;
    if (second) {
        double sig_p = s->sigmas[i - 1];
        double a_p = 1.0 / sqrt(sig_p * sig_p + 1.0), s_p = sig_p * a_p;
        double h0 = (log(a_s) - log(s_s)) - (log(a_p) - log(s_p));
        r_inv = h / h0;
    }
    for (size_t j = 0; j < s->n; j++) {
        double x0 = (x[j] - s_s * (double)mo[j]) / a_s;
        if (s->cfg.prediction == GD_PRED_SAMPLE) x0 = mo[j];
        else if (s->cfg.prediction == GD_PRED_V) x0 = a_s * x[j] - s_s * (double)mo[j];
        float x0f = (float)x0;
        double v = ratio * x[j] - k * x0f;
        if (second) v -= 0.5 * k * (r_inv * ((double)x0f - s->prev_x0[j]));
        x[j] = (float)v;
        s->prev_x0[j] = x0f;
    }
    if (s->lower_order_nums < 2) s->lower_order_nums++;
}

void gd_sampler_step(gd_sampler *s, const float *model_out, float *sample, const float *noise) {
    GD_ASSERT(s && model_out && sample && s->step_index < s->cfg.steps);
    int stochastic = s->cfg.kind == GD_SAMPLER_DDPM ||
                     (s->cfg.kind == GD_SAMPLER_DDIM && s->cfg.eta > 0);
    GD_ASSERT_MSG(!stochastic || noise, "this sampler step needs noise");
    if (s->cfg.kind == GD_SAMPLER_DDPM) ddpm_step(s, model_out, sample, noise);
    else if (s->cfg.kind == GD_SAMPLER_DDIM) ddim_step(s, model_out, sample, noise);
    else dpmpp_step(s, model_out, sample);
    s->step_index++;
}
