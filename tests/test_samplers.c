/* test_samplers.c - schedules and every sampler step against diffusers (fixture made by
 * tools/ref/make_sampler_fixtures.py): given the same model outputs and noise, each step's
 * sample agrees (normwise relative error <= 1e-5), for every beta schedule and prediction type. */
#include "fixture.h"
#include "gmmdiff/diffusion.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gd_safetensors st;
static gd_noise_schedule scheds[3];
static const char *sched_names[3] = {"linear", "scaled_linear", "squaredcos_cap_v2"};
static const char *pred_names[3] = {"epsilon", "v_prediction", "sample"};

static void run(const char *name, gd_sampler_config cfg, int sched) {
    char key[160], label[200];
    size_t nt, n;
    snprintf(key, sizeof key, "%s.timesteps", name);
    float *ts = fx_get(&st, key, &nt);
    snprintf(key, sizeof key, "%s.model_out", name);
    float *mo = fx_get(&st, key, NULL);
    snprintf(key, sizeof key, "%s.noise", name);
    float *noise = fx_get(&st, key, NULL);
    snprintf(key, sizeof key, "%s.samples", name);
    float *samples = fx_get(&st, key, &n);
    n /= nt + 1;
    gd_sampler s;
    gd_error err = {0};
    cfg.steps = (int)nt;
    TEST_COND("sampler init", gd_sampler_init(&s, &cfg, &scheds[sched], n, &err) == GD_OK);
    int ts_ok = 1;
    for (size_t i = 0; i < nt; i++) ts_ok &= s.timesteps[i] == (int)ts[i];
    snprintf(label, sizeof label, "%s: timesteps match", name);
    TEST_COND(label, ts_ok);
    if (!ts_ok) {
        for (size_t i = 0; i < nt; i++) printf(" %d/%g", s.timesteps[i], (double)ts[i]);
        printf("\n");
    }
    float *x = malloc(sizeof(float) * n);
    memcpy(x, samples, sizeof(float) * n);
    double worst = 0;
    for (size_t i = 0; i < nt; i++) {
        gd_sampler_step(&s, mo + i * n, x, noise + i * n);
        double e = gd_rel_err(x, samples + (i + 1) * n, n);
        if (e > worst) worst = e;
    }
    snprintf(label, sizeof label, "%s: every step matches diffusers (worst %.2e)", name, worst);
    TEST_COND(label, worst <= 1e-5);
    printf("%-36s worst step error %.2e\n", name, worst);
    gd_sampler_free(&s);
    free(ts); free(mo); free(noise); free(samples); free(x);
}

/* an exact model of data that is a point mass at `target` (cond) or `null_target` (null):
 * eps = (x_t - sqrt(ac) c) / sqrt(1 - ac), returned in the sampler's parameterisation */
typedef struct {
    const gd_noise_schedule *sched;
    gd_prediction pred;
    const float *target, *null_target;
    size_t n;
    int calls;
} point_model;

static gd_status point_eval(void *ctx, const float *x, int t, int cond, float *out,
                            gd_error *err) {
    (void)err;
    point_model *m = ctx;
    float ac = m->sched->alphas_cumprod[t];
    const float *c = cond ? m->target : m->null_target;
    float eps[64];
    for (size_t i = 0; i < m->n; i++) eps[i] = (x[i] - sqrtf(ac) * c[i]) / sqrtf(1.0f - ac);
    gd_eps_to_prediction(out, eps, x, m->n, ac, m->pred);
    m->calls++;
    return GD_OK;
}

static gd_status const_grad(void *ctx, const float *x, int t, float *grad, gd_error *err) {
    (void)ctx; (void)x; (void)t; (void)err;
    for (int i = 0; i < 8; i++) grad[i] = i < 4 ? 1.0f : -1.0f;
    return GD_OK;
}

static gd_status nan_eval(void *ctx, const float *x, int t, int cond, float *out, gd_error *err) {
    (void)ctx; (void)x; (void)cond; (void)err;
    for (int i = 0; i < 8; i++) out[i] = t < 500 ? NAN : 0.0f;
    return GD_OK;
}

static void sample_loop_tests(void) {
    float target[8] = {0.5f, -0.25f, 0.75f, 0, -0.5f, 0.1f, 0.9f, -0.9f};
    float null_t[8] = {0.1f, 0.1f, 0.1f, 0.1f, -0.1f, -0.1f, -0.1f, -0.1f};
    gd_error err = {0};
    for (int k = 0; k < 3; k++)
        for (int p = 0; p < 3; p++) {
            point_model m = {&scheds[0], (gd_prediction)p, target, null_t, 8, 0};
            gd_denoiser d = {&m, point_eval, NULL};
            gd_sampler_config c = gd_sampler_defaults((gd_sampler_kind)k);
            c.prediction = (gd_prediction)p;
            c.steps = 20;
            float x[8], y[8];
            gd_rng r;
            gd_rng_seed(&r, 5);
            gd_status s = gd_sample(&c, &scheds[0], &d, NULL, x, 8, &r, &err);
            double e = 0;
            for (int i = 0; i < 8; i++) e = fmax(e, fabs(x[i] - target[i]));
            char label[160];
            snprintf(label, sizeof label, "sampler %d, prediction %d: an exact model of a point mass "
                     "samples that point (error %.1e)", k, p, e);
            TEST_COND(label, s == GD_OK && e < 2e-3 && m.calls == 20);
            gd_rng_seed(&r, 5);
            gd_sample(&c, &scheds[0], &d, NULL, y, 8, &r, &err);
            TEST_COND("the same seed gives the same samples", !memcmp(x, y, sizeof x));
        }
    /* classifier-free guidance extrapolates between the two point masses */
    point_model m = {&scheds[0], GD_PRED_EPSILON, target, null_t, 8, 0};
    gd_denoiser d = {&m, point_eval, NULL};
    gd_sampler_config c = gd_sampler_defaults(GD_SAMPLER_DDIM);
    c.clip_sample = 0;
    c.steps = 20;
    gd_guidance g = {1.5f, 0.0f};
    float x[8];
    gd_rng r;
    gd_rng_seed(&r, 1);
    TEST_COND("cfg sample", gd_sample(&c, &scheds[0], &d, &g, x, 8, &r, &err) == GD_OK);
    double e = 0;
    for (int i = 0; i < 8; i++) e = fmax(e, fabs(x[i] - (null_t[i] + 1.5 * (target[i] - null_t[i]))));
    TEST_COND("cfg scale 1.5 lands at null + 1.5 (cond - null)", e < 2e-3);
    TEST_COND("cfg evaluates the model twice per step", m.calls == 40);
    /* classifier guidance shifts eps by -s sqrt(1 - ac) grad. The exact model pulls x0 back to
     * the point at every step, so what remains is the last step's shift: DDIM's final step
     * returns x0 = target + s (1 - ac_0) / sqrt(ac_0) grad */
    d.log_prob_grad = const_grad;
    gd_guidance cg = {1.0f, 100.0f};
    gd_rng_seed(&r, 1);
    TEST_COND("classifier-guided sample", gd_sample(&c, &scheds[0], &d, &cg, x, 8, &r, &err) == GD_OK);
    double ac0 = scheds[0].alphas_cumprod[0], shift = 100.0 * (1.0 - ac0) / sqrt(ac0);
    e = 0;
    for (int i = 0; i < 8; i++) e = fmax(e, fabs(x[i] - (target[i] + (i < 4 ? shift : -shift))));
    TEST_COND("classifier guidance moves samples along its gradient by the expected amount",
              shift > 1e-3 && e < 1e-4);
    d.log_prob_grad = NULL;
    TEST_COND("classifier guidance without a classifier is refused",
              gd_sample(&c, &scheds[0], &d, &cg, x, 8, &r, &err) == GD_ERR_ARG);
    /* a model that returns NaN stops the loop with a message */
    gd_denoiser dn = {NULL, nan_eval, NULL};
    gd_status s = gd_sample(&c, &scheds[0], &dn, NULL, x, 8, &r, &err);
    TEST_COND("a NaN model output stops sampling", s == GD_ERR_NUMERIC && strstr(err.msg, "non-finite"));
    printf("  NaN -> %s\n", err.msg);
}

int main(int argc, char **argv) {
    fx_open(&st, argc > 1 ? argv[1] : NULL, "samplers.safetensors");
    gd_error err = {0};
    float starts[3] = {1e-4f, 0.00085f, 0}, ends[3] = {0.02f, 0.012f, 0};
    for (int k = 0; k < 3; k++) {
        TEST_COND("schedule init", gd_schedule_init(&scheds[k], (gd_beta_schedule)k, 1000,
                                                    starts[k], ends[k], &err) == GD_OK);
        char key[100];
        snprintf(key, sizeof key, "schedule.%s.alphas_cumprod", sched_names[k]);
        float *ac = fx_get(&st, key, NULL);
        double e = gd_rel_err(scheds[k].alphas_cumprod, ac, 1000);
        double rel_last = fabs(scheds[k].alphas_cumprod[999] - ac[999]) / ac[999];
        snprintf(key, sizeof key, "%s: alphas_cumprod match (%.1e, last %.1e)", sched_names[k], e,
                 rel_last);
        TEST_COND(key, e <= 1e-6 && rel_last <= 1e-4);
        free(ac);
    }
    const char *kinds[3] = {"ddpm", "ddim", "dpmpp2m"};
    for (int k = 0; k < 3; k++)
        for (int sc = 0; sc < 3; sc++)
            for (int p = 0; p < 3; p++) {
                char name[100];
                snprintf(name, sizeof name, "%s.%s.%s", kinds[k], sched_names[sc], pred_names[p]);
                gd_sampler_config cfg = gd_sampler_defaults((gd_sampler_kind)k);
                cfg.prediction = (gd_prediction)p;
                run(name, cfg, sc);
            }
    gd_sampler_config c = gd_sampler_defaults(GD_SAMPLER_DDIM);
    c.eta = 0.7f;
    run("ddim_eta.linear.epsilon", c, 0);
    c = gd_sampler_defaults(GD_SAMPLER_DDIM);
    c.spacing = GD_SPACING_TRAILING;
    run("ddim_trailing.linear.epsilon", c, 0);
    c.spacing = GD_SPACING_LINSPACE;
    run("ddim_linspace.linear.epsilon", c, 0);
    c = gd_sampler_defaults(GD_SAMPLER_DDIM);
    c.clip_sample = 0;
    run("ddim_noclip.linear.epsilon", c, 0);
    c = gd_sampler_defaults(GD_SAMPLER_DDPM);
    c.clip_sample = 0;
    run("ddpm_noclip.linear.epsilon", c, 0);

    /* parameterisations are inverse to each other */
    float x0[4] = {0.5f, -1, 0.25f, 2}, eps[4] = {1, 0.3f, -0.7f, 0}, xt[4], tg[4], rx[4], re[4];
    int inv = 1;
    for (int p = 0; p < 3; p++) {
        gd_add_noise(xt, x0, eps, 4, 0.3f);
        gd_training_target(tg, x0, eps, 4, 0.3f, (gd_prediction)p);
        gd_prediction_to_x0_eps(rx, re, tg, xt, 4, 0.3f, (gd_prediction)p);
        for (int i = 0; i < 4; i++) inv &= fabsf(rx[i] - x0[i]) < 1e-5f && fabsf(re[i] - eps[i]) < 1e-5f;
        gd_eps_to_prediction(rx, eps, xt, 4, 0.3f, (gd_prediction)p);
        for (int i = 0; i < 4; i++) inv &= fabsf(rx[i] - tg[i]) < 1e-5f;
    }
    TEST_COND("training targets and conversions are consistent", inv);
    gd_sampler s;
    gd_sampler_config bad = gd_sampler_defaults(GD_SAMPLER_DDIM);
    bad.steps = 5000;
    TEST_COND("too many steps refused", gd_sampler_init(&s, &bad, &scheds[0], 4, &err) == GD_ERR_ARG);
    /* DDIM with use_clipped_model_output: eps recomputed from the clamped x0
     * (diffusers: pred_epsilon = (sample - sqrt(a_t) x0) / sqrt(1 - a_t)) */
    {
        gd_sampler_config cc = gd_sampler_defaults(GD_SAMPLER_DDIM);
        cc.steps = 10;
        cc.use_clipped_model_output = 1;
        float xs[3] = {0.9f, -2.5f, 0.1f}, mo[3] = {-3.0f, 0.4f, 0.05f}, x1[3];
        memcpy(x1, xs, sizeof xs);
        TEST_COND("ddim clipped-eps init", gd_sampler_init(&s, &cc, &scheds[0], 3, &err) == GD_OK);
        s.step_index = 3;
        int t = s.timesteps[3], prev = t - 100;
        gd_sampler_step(&s, mo, x1, NULL);
        double ap = scheds[0].alphas_cumprod[t], app = scheds[0].alphas_cumprod[prev];
        double worst = 0;
        for (int i = 0; i < 3; i++) {
            double x0 = (xs[i] - sqrt(1 - ap) * mo[i]) / sqrt(ap);
            x0 = x0 < -1 ? -1 : x0 > 1 ? 1 : x0;
            double e = (xs[i] - sqrt(ap) * x0) / sqrt(1 - ap);
            double want = sqrt(app) * x0 + sqrt(1 - app) * e;
            worst = fmax(worst, fabs(want - x1[i]));
        }
        gd_sampler_free(&s);
        TEST_COND("ddim with use_clipped_model_output follows diffusers' formula", worst < 1e-5);
        cc.use_clipped_model_output = 0;
        float x2[3];
        memcpy(x2, xs, sizeof xs);
        gd_sampler_init(&s, &cc, &scheds[0], 3, &err);
        s.step_index = 3;
        gd_sampler_step(&s, mo, x2, NULL);
        gd_sampler_free(&s);
        TEST_COND("clipped eps changes a step whose x0 is clamped",
                  fabsf(x2[0] - x1[0]) > 1e-3f && fabsf(x2[2] - x1[2]) < 1e-6f);
    }
    sample_loop_tests();
    for (int k = 0; k < 3; k++) gd_schedule_free(&scheds[k]);
    gd_st_close(&st);
    return gd_test_report("test_samplers");
}
