/* sample.c - the sampling loop: initial noise, model calls through a callback, classifier-free
 * and classifier guidance, sampler steps. */
#include "gmmdiff/diffusion.h"

#include <math.h>
#include <stdlib.h>

static gd_status check_finite(const float *v, size_t n, int step, int t, const char *what,
                              gd_error *err) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return gd_error_set(err, GD_ERR_NUMERIC,
                                "sampling step %d (timestep %d): %s has a non-finite value at %zu",
                                step, t, what, i);
    return GD_OK;
}

gd_status gd_sample(const gd_sampler_config *cfg, const gd_noise_schedule *sched,
                    const gd_denoiser *d, const gd_guidance *g, float *x, size_t n, gd_rng *rng,
                    gd_error *err) {
    GD_ASSERT(cfg && sched && d && d->eval && x && rng);
    gd_guidance none = {1.0f, 0.0f};
    if (!g) g = &none;
    if (g->classifier_scale != 0.0f && !d->log_prob_grad)
        return gd_error_set(err, GD_ERR_ARG, "classifier guidance needs a classifier");
    gd_sampler s;
    gd_status st = gd_sampler_init(&s, cfg, sched, n, err);
    if (st) return st;
    float *out = malloc(sizeof(float) * n), *aux = malloc(sizeof(float) * n);
    float *noise = malloc(sizeof(float) * n);
    if (!out || !aux || !noise) {
        st = gd_error_set(err, GD_ERR_NOMEM, "sampling: out of memory");
        goto done;
    }
    gd_rng_fill_normal(rng, x, n, 0.0f, 1.0f);
    for (int i = 0; i < cfg->steps && !st; i++) {
        int t = s.timesteps[i];
        if ((st = d->eval(d->ctx, x, t, 1, out, err))) break;
        if (g->cfg_scale != 1.0f) {
            if ((st = d->eval(d->ctx, x, t, 0, aux, err))) break;
            for (size_t j = 0; j < n; j++) out[j] = aux[j] + g->cfg_scale * (out[j] - aux[j]);
        }
        if (g->classifier_scale != 0.0f) {
            float ac = sched->alphas_cumprod[t], k = g->classifier_scale * sqrtf(1.0f - ac);
            if ((st = d->log_prob_grad(d->ctx, x, t, aux, err))) break;
            if ((st = check_finite(aux, n, i, t, "the classifier gradient", err))) break;
            gd_prediction_to_x0_eps(NULL, noise, out, x, n, ac, cfg->prediction);
            for (size_t j = 0; j < n; j++) noise[j] -= k * aux[j];
            gd_eps_to_prediction(out, noise, x, n, ac, cfg->prediction);
        }
        if ((st = check_finite(out, n, i, t, "the model output", err))) break;
        int stochastic = cfg->kind == GD_SAMPLER_DDPM ||
                         (cfg->kind == GD_SAMPLER_DDIM && cfg->eta > 0);
        if (stochastic) gd_rng_fill_normal(rng, noise, n, 0.0f, 1.0f);
        gd_sampler_step(&s, out, x, stochastic ? noise : NULL);
    }
done:
    free(out);
    free(aux);
    free(noise);
    gd_sampler_free(&s);
    return st;
}
