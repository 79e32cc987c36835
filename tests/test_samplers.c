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
    for (int k = 0; k < 3; k++) gd_schedule_free(&scheds[k]);
    gd_st_close(&st);
    return gd_test_report("test_samplers");
}
