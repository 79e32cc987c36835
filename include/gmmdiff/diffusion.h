/* diffusion.h - noise schedules, parameterisations and samplers, following diffusers'
 * DDPMScheduler, DDIMScheduler and DPMSolverMultistepScheduler (given the same model outputs
 * and noise, each step agrees to float tolerance; tests/test_samplers.c).
 *
 * As in stable-diffusion.cpp the pieces are separate: the schedule (betas, alphas_cumprod),
 * the parameterisation (how an epsilon, v or x0 prediction becomes x0 and epsilon) and the
 * sampler steps. A whole sampling loop calls the model through a callback (gd_sample). */
#ifndef GMMDIFF_DIFFUSION_H
#define GMMDIFF_DIFFUSION_H

#include "gmmdiff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gd_beta_schedule {
    GD_BETA_LINEAR,
    GD_BETA_SCALED_LINEAR,
    GD_BETA_SQUAREDCOS_CAP_V2
} gd_beta_schedule;
typedef enum gd_prediction { GD_PRED_EPSILON, GD_PRED_V, GD_PRED_SAMPLE } gd_prediction;
typedef enum gd_sampler_kind { GD_SAMPLER_DDPM, GD_SAMPLER_DDIM, GD_SAMPLER_DPMPP_2M } gd_sampler_kind;
typedef enum gd_spacing { GD_SPACING_LEADING, GD_SPACING_TRAILING, GD_SPACING_LINSPACE } gd_spacing;

#define GD_MAX_TRAIN_STEPS 100000

typedef struct gd_noise_schedule {
    int n;                 /* num_train_timesteps */
    float *betas;          /* [n] */
    float *alphas_cumprod; /* [n], the running product of 1 - beta in float32 as diffusers */
} gd_noise_schedule;

/* linear: betas = linspace(start, end); scaled_linear: linspace(sqrt(start), sqrt(end))^2;
 * squaredcos_cap_v2: from alpha_bar(t) = cos((t + 0.008) / 1.008 * pi / 2)^2, betas capped at
 * 0.999 (start and end unused). */
gd_status gd_schedule_init(gd_noise_schedule *s, gd_beta_schedule kind, int n, float beta_start,
                           float beta_end, gd_error *err);
void gd_schedule_free(gd_noise_schedule *s);
/* names as in diffusers' configs: "linear", "scaled_linear", "squaredcos_cap_v2" */
gd_status gd_beta_schedule_parse(const char *name, gd_beta_schedule *out);
gd_status gd_prediction_parse(const char *name, gd_prediction *out); /* epsilon, v_prediction, sample */
gd_status gd_sampler_parse(const char *name, gd_sampler_kind *out);  /* ddpm, ddim, dpm++2m */
gd_status gd_spacing_parse(const char *name, gd_spacing *out);       /* leading, trailing, linspace */

/* what a model was trained with: diffusers' scheduler_config.json keys */
typedef struct gd_scheduler_config {
    int num_train_timesteps;
    gd_beta_schedule beta_schedule;
    float beta_start, beta_end;
    gd_prediction prediction;
    int clip_sample;
    float clip_sample_range;
} gd_scheduler_config;

void gd_scheduler_config_default(gd_scheduler_config *c); /* DDPMScheduler's defaults */
/* reads the keys above from a diffusers scheduler_config.json (others are ignored) */
gd_status gd_scheduler_config_load(gd_scheduler_config *c, const char *path, gd_error *err);
gd_status gd_scheduler_config_save(const gd_scheduler_config *c, const char *path, gd_error *err);
gd_status gd_schedule_from_config(gd_noise_schedule *s, const gd_scheduler_config *c,
                                  gd_error *err);

/* training: x_t = sqrt(ac_t) x0 + sqrt(1 - ac_t) eps, and the regression target of the
 * prediction type (eps, v = sqrt(ac) eps - sqrt(1 - ac) x0, or x0); all [n] */
void gd_add_noise(float *xt, const float *x0, const float *eps, size_t n, float ac_t);
void gd_training_target(float *target, const float *x0, const float *eps, size_t n, float ac_t,
                        gd_prediction p);

typedef struct gd_sampler_config {
    gd_sampler_kind kind;
    gd_prediction prediction;
    int steps;
    gd_spacing spacing;     /* diffusers' defaults: leading for DDPM/DDIM, linspace for DPM++ */
    float eta;              /* DDIM only; 0 is deterministic */
    int clip_sample;        /* DDPM/DDIM: clamp x0 to [-clip_range, clip_range] (default on) */
    float clip_range;
    int use_clipped_model_output; /* DDIM: recompute eps from the clamped x0, as diffusers'
                                   * DDIMScheduler.step(use_clipped_model_output=True); default
                                   * off (diffusers' default) */
} gd_sampler_config;

/* diffusers' default config of each sampler */
gd_sampler_config gd_sampler_defaults(gd_sampler_kind kind);
/* the sampler of evaluation and training grids for a model trained with scheduler config sc:
 * kind's defaults, sc's prediction type and x0 clamp (DPM++ never clamps), `steps` steps, and
 * DDIM taking eps from the clamped x0 (docs/MODELS.md) */
gd_sampler_config gd_sampler_for_model(gd_sampler_kind kind, const gd_scheduler_config *sc,
                                       int steps);

typedef struct gd_sampler {
    gd_sampler_config cfg;
    const gd_noise_schedule *sched;
    int *timesteps;   /* [steps], descending */
    double *sigmas;   /* DPM++: [steps + 1] */
    float *prev_x0;   /* DPM++: the previous step's x0 prediction [n] */
    size_t n;         /* elements per sample batch */
    int step_index, lower_order_nums;
} gd_sampler;

gd_status gd_sampler_init(gd_sampler *s, const gd_sampler_config *cfg, const gd_noise_schedule *sched,
                          size_t n, gd_error *err);
void gd_sampler_free(gd_sampler *s);
/* Step i of the sequence (i = s->step_index, advanced by one): sample [n] is replaced by the
 * next sample given the model output at timestep s->timesteps[i]. noise [n] is the standard
 * normal noise of the stochastic samplers (DDPM, DDIM with eta > 0), NULL otherwise. */
void gd_sampler_step(gd_sampler *s, const float *model_out, float *sample, const float *noise);

/* converts a model output at timestep t to the x0 and eps it implies (either may be NULL) */
void gd_prediction_to_x0_eps(float *x0, float *eps, const float *model_out, const float *xt,
                             size_t n, float ac_t, gd_prediction p);
/* and back: the model output that x0 (or eps) would have been */
void gd_eps_to_prediction(float *model_out, const float *eps, const float *xt, size_t n,
                          float ac_t, gd_prediction p);

/* ---- a whole sampling loop ---------------------------------------------------------------- */
typedef struct gd_denoiser {
    void *ctx;
    /* out[n] = the model output for the batch x[n] at timestep t, under the condition
     * (conditional = 1) or the null condition (conditional = 0) */
    gd_status (*eval)(void *ctx, const float *x, int t, int conditional, float *out,
                      gd_error *err);
    /* optional: grad[n] = d/dx log p(y | x_t), the gradient of an auxiliary classifier */
    gd_status (*log_prob_grad)(void *ctx, const float *x, int t, float *grad, gd_error *err);
} gd_denoiser;

typedef struct gd_guidance {
    float cfg_scale;        /* classifier-free: out = null + w (cond - null); 1 is off */
    float classifier_scale; /* classifier: eps -= s sqrt(1 - ac_t) grad log p(y | x_t); 0 off */
} gd_guidance;

/* Draws x[n] from the model: x_T ~ N(0, I) from rng, then the sampler's steps; the stochastic
 * samplers draw their noise from rng after each model evaluation, so a seed fixes the result.
 * A non-finite model output stops with GD_ERR_NUMERIC naming the step. */
gd_status gd_sample(const gd_sampler_config *cfg, const gd_noise_schedule *sched,
                    const gd_denoiser *d, const gd_guidance *g, float *x, size_t n, gd_rng *rng,
                    gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
