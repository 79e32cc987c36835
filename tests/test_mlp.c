/* test_mlp.c - the MLP denoiser (include/gmmdiff/mlp.h):
 *  (1) on the PyTorch fixtures (tests/fixtures/mlp, made by tools/ref/make_mlp_fixtures.py) the
 *      output and every gradient of L = sum(out^2) (parameters, input, identity condition)
 *      match torch.nn (normwise relative error <= 1e-4), for a class table and an identity
 *      condition;
 *  (2) backprop through the whole float graph agrees with double-precision central differences
 *      of L = 0.5 sum(out^2) at sampled coordinates of the input, condition and every parameter;
 *  (3) a saved model reloads to identical outputs; configs with a bad key or value and
 *      checkpoints that disagree with their config are refused naming the file and key/tensor;
 *  (4) trained for a few hundred AdamW steps on a mixture of 4 well-separated 2-D Gaussians,
 *      DDIM samples land near the modes and cover all four. */
#include "fixture.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/mlp.h"
#include "gmmdiff/optim.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void copy_in(gd_graph *g, gd_t t, const gd_safetensors *st, const char *name) {
    size_t n;
    float *v = fx_get(st, name, &n);
    GD_ASSERT_MSG(n == gd_numel(g, t), "fixture tensor size");
    memcpy(gd_data(g, t), v, sizeof(float) * n);
    free(v);
}

/* backward of L = sum(out^2) (dout = 2 out), starting from zeroed parameter gradients */
static void backward_sum_sq(gd_graph *g, gd_t out, float scale) {
    size_t n = gd_numel(g, out);
    float *d = malloc(sizeof(float) * n);
    GD_ASSERT(d);
    for (size_t i = 0; i < n; i++) d[i] = scale * gd_data(g, out)[i];
    gd_graph_zero_grad(g);
    gd_graph_backward_seed(g, out, d);
    free(d);
}

/* ---- (1) against PyTorch ---- */
static void check_fixture(const char *fixdir, const char *name) {
    char dir[1024], path[1100], label[300];
    snprintf(dir, sizeof dir, "%s/mlp/%s", fixdir, name);
    snprintf(path, sizeof path, "%s/config.json", dir);
    gd_mlp_config c;
    gd_error err = {0};
    gd_status s = gd_mlp_config_load(&c, path, &err);
    snprintf(label, sizeof label, "%s: config loads", name);
    TEST_COND(label, s == GD_OK);
    if (s) {
        printf("  %s\n", err.msg);
        return;
    }
    gd_graph *g = gd_graph_new();
    gd_mlp_io io = gd_mlp_declare(g, &c, 4);
    TEST_COND("plan", gd_graph_plan(g, &err) == GD_OK);
    s = gd_mlp_load_weights(g, dir, &err);
    snprintf(label, sizeof label, "%s: weights load", name);
    TEST_COND(label, s == GD_OK);
    if (s) printf("  %s\n", err.msg);

    gd_safetensors st;
    snprintf(path, sizeof path, "mlp/%s/io.safetensors", name);
    fx_open(&st, fixdir, path);
    copy_in(g, io.x, &st, "x");
    copy_in(g, io.t, &st, "t");
    if (io.cls >= 0) copy_in(g, io.cls, &st, "class");
    gd_graph_forward(g);
    size_t n;
    float *ref = fx_get(&st, "out", &n);
    double e = gd_rel_err(gd_data(g, io.out), ref, n);
    snprintf(label, sizeof label, "%s: output matches torch (%.2e)", name, e);
    TEST_COND(label, e <= 1e-4);
    free(ref);

    backward_sum_sq(g, io.out, 2.0f);
    double worst = 0;
    char worst_name[GD_NAME_MAX + 8] = "";
    int checked = 0;
    for (int i = -2; i < gd_graph_num_params(g); i++) {
        gd_t t = i == -2 ? io.x : i == -1 ? io.cls : gd_graph_param(g, i);
        if (t < 0 || !gd_grad(g, t)) continue; /* a class table's index has no gradient */
        const char *pn = i == -2 ? "x" : i == -1 ? "class" : gd_name(g, t);
        char key[GD_NAME_MAX + 8];
        snprintf(key, sizeof key, "grad.%s", pn);
        float *rg = fx_get(&st, key, &n);
        TEST_COND("gradient size", n == gd_numel(g, t));
        double ge = gd_rel_err(gd_grad(g, t), rg, n);
        if (!(ge <= worst)) {
            worst = ge;
            snprintf(worst_name, sizeof worst_name, "%s", pn);
        }
        free(rg);
        checked++;
    }
    snprintf(label, sizeof label, "%s: all %d gradients match torch (worst %.2e, %s)", name,
             checked, worst, worst_name);
    TEST_COND(label, worst <= 1e-4);
    printf("%s: %d parameter tensors, output error %.2e, worst of %d gradients %.2e (%s)\n", name,
           gd_graph_num_params(g), e, checked, worst, worst_name);
    gd_st_close(&st);
    gd_graph_free(g);
}

/* ---- (2) finite differences ---- */
static double half_sum_sq(gd_graph *g, gd_t out) {
    gd_graph_forward(g);
    const float *o = gd_data(g, out);
    double s = 0;
    for (size_t i = 0; i < gd_numel(g, out); i++) s += 0.5 * (double)o[i] * o[i];
    return s;
}

/* compares backprop with central differences at `per` random coordinates of tensor t;
 * returns the worst |fd - bp| / (1e-2 + |bp|) */
static double fd_tensor(gd_graph *g, gd_t out, gd_t t, int per, gd_rng *rng) {
    float *p = gd_data(g, t);
    const float *gr = gd_grad(g, t);
    size_t n = gd_numel(g, t);
    double worst = 0;
    for (int k = 0; k < per; k++) {
        size_t j = (size_t)gd_rng_below(rng, n);
        float p0 = p[j];
        const float h = 1e-2f;
        float up = p0 + h, dn = p0 - h;
        p[j] = up;
        double lu = half_sum_sq(g, out);
        p[j] = dn;
        double ld = half_sum_sq(g, out);
        p[j] = p0;
        double fd = (lu - ld) / ((double)up - (double)dn);
        double d = fabs(fd - gr[j]) / (1e-2 + fabs(gr[j]));
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

static void check_finite_differences(gd_mlp_cond cond) {
    gd_mlp_config c;
    gd_mlp_config_default(&c);
    c.dim = 3;
    c.hidden = 8;
    c.n_layers = 2;
    c.temb = 6;
    c.cond = cond;
    c.num_classes = cond == GD_MLP_COND_TABLE ? 4 : 0;
    c.cond_dim = cond == GD_MLP_COND_IDENTITY ? 6 : 0;
    gd_graph *g = gd_graph_new();
    gd_mlp_io io = gd_mlp_declare(g, &c, 3);
    gd_error err = {0};
    TEST_COND("fd: plan", gd_graph_plan(g, &err) == GD_OK);
    gd_rng rng;
    gd_rng_seed(&rng, 11);
    gd_mlp_init(g, &rng);
    gd_rng_fill_normal(&rng, gd_data(g, io.x), gd_numel(g, io.x), 0.0f, 1.0f);
    float *t = gd_data(g, io.t);
    t[0] = 5;
    t[1] = 250;
    t[2] = 880;
    if (cond == GD_MLP_COND_TABLE)
        for (int i = 0; i < 3; i++) gd_data(g, io.cls)[i] = (float)(i + 1);
    if (cond == GD_MLP_COND_IDENTITY)
        gd_rng_fill_normal(&rng, gd_data(g, io.cls), gd_numel(g, io.cls), 0.0f, 1.0f);
    half_sum_sq(g, io.out);
    backward_sum_sq(g, io.out, 1.0f);

    double worst = 0;
    char worst_name[GD_NAME_MAX] = "";
    for (int i = -2; i < gd_graph_num_params(g); i++) {
        gd_t tt = i == -2 ? io.x : i == -1 ? io.cls : gd_graph_param(g, i);
        if (tt < 0 || !gd_grad(g, tt)) continue;
        double w = fd_tensor(g, io.out, tt, 4, &rng);
        if (!(w <= worst)) {
            worst = w;
            snprintf(worst_name, sizeof worst_name, "%s", gd_name(g, tt));
        }
    }
    char label[300];
    snprintf(label, sizeof label, "fd (%s): input and parameter gradients (worst %.2e, %s)",
             cond == GD_MLP_COND_TABLE ? "class table" : "identity", worst, worst_name);
    TEST_COND(label, worst <= 2e-3);
    printf("%s\n", label);
    gd_graph_free(g);
}

/* ---- (3) checkpoints ---- */
static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    GD_ASSERT(f);
    fputs(text, f);
    fclose(f);
}

static void copy_file(const char *from, const char *to) {
    FILE *f = fopen(from, "rb"), *o = fopen(to, "wb");
    GD_ASSERT(f && o);
    int ch;
    while ((ch = fgetc(f)) != EOF) fputc(ch, o);
    fclose(f);
    fclose(o);
}

/* loads config + weights of dir into a fresh graph; returns the status, message in err */
static gd_status try_load(const char *dir, gd_error *err) {
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", dir);
    gd_mlp_config c;
    gd_status s = gd_mlp_config_load(&c, path, err);
    if (s) return s;
    gd_graph *g = gd_graph_new();
    gd_mlp_declare(g, &c, 1);
    s = gd_graph_plan(g, err);
    if (!s) s = gd_mlp_load_weights(g, dir, err);
    gd_graph_free(g);
    return s;
}

static void expect_refused(const char *label, const char *dir, const char *n1, const char *n2) {
    gd_error err = {0};
    gd_status s = try_load(dir, &err);
    char l[300];
    snprintf(l, sizeof l, "%s: refused", label);
    TEST_COND(l, s != GD_OK);
    snprintf(l, sizeof l, "%s: message names '%s' and '%s'", label, n1, n2);
    TEST_COND(l, strstr(err.msg, n1) && strstr(err.msg, n2));
    printf("  %s -> %s\n", label, err.msg);
}

static void check_checkpoints(const char *fixdir, const char *tmp) {
    /* round trip: a fresh model saved and reloaded gives bit-identical outputs */
    gd_mlp_config c;
    gd_mlp_config_default(&c);
    c.dim = 5;
    c.hidden = 16;
    c.n_layers = 2;
    c.temb = 12;
    c.cond = GD_MLP_COND_IDENTITY;
    c.cond_dim = 12;
    c.flip_sin_to_cos = 0;
    c.freq_shift = 1;
    gd_error err = {0};
    gd_graph *g = gd_graph_new();
    gd_mlp_io io = gd_mlp_declare(g, &c, 3);
    TEST_COND("round trip: plan", gd_graph_plan(g, &err) == GD_OK);
    gd_rng rng;
    gd_rng_seed(&rng, 3);
    gd_mlp_init(g, &rng);
    gd_rng_fill_normal(&rng, gd_data(g, io.x), gd_numel(g, io.x), 0.0f, 1.0f);
    gd_rng_fill_normal(&rng, gd_data(g, io.cls), gd_numel(g, io.cls), 0.0f, 1.0f);
    for (int i = 0; i < 3; i++) gd_data(g, io.t)[i] = (float)(100 * i + 7);
    gd_graph_forward(g);
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/saved", tmp);
    mkdir(dir, 0755);
    gd_status s = gd_mlp_save(g, &c, dir, &err);
    TEST_COND("round trip: save", s == GD_OK);
    if (s) printf("  %s\n", err.msg);

    gd_mlp_config c2;
    snprintf(path, sizeof path, "%s/config.json", dir);
    s = gd_mlp_config_load(&c2, path, &err);
    TEST_COND("round trip: config reloads", s == GD_OK);
    TEST_COND("round trip: config equal", !s && c2.dim == c.dim && c2.hidden == c.hidden &&
                                              c2.n_layers == c.n_layers && c2.temb == c.temb &&
                                              c2.cond == c.cond && c2.cond_dim == c.cond_dim &&
                                              c2.flip_sin_to_cos == c.flip_sin_to_cos &&
                                              c2.freq_shift == c.freq_shift);
    gd_graph *g2 = gd_graph_new();
    gd_mlp_io io2 = gd_mlp_declare(g2, &c2, 3);
    TEST_COND("round trip: plan reloaded", gd_graph_plan(g2, &err) == GD_OK);
    s = gd_mlp_load_weights(g2, dir, &err);
    TEST_COND("round trip: weights reload", s == GD_OK);
    memcpy(gd_data(g2, io2.x), gd_data(g, io.x), sizeof(float) * gd_numel(g, io.x));
    memcpy(gd_data(g2, io2.t), gd_data(g, io.t), sizeof(float) * gd_numel(g, io.t));
    memcpy(gd_data(g2, io2.cls), gd_data(g, io.cls), sizeof(float) * gd_numel(g, io.cls));
    gd_graph_forward(g2);
    TEST_COND("round trip: identical outputs",
              !memcmp(gd_data(g, io.out), gd_data(g2, io2.out), sizeof(float) * 15));
    gd_graph_free(g);
    gd_graph_free(g2);

    /* broken configs and checkpoints */
    char cfg[1300], st[1300], a[1200];
    snprintf(dir, sizeof dir, "%s/bad", tmp);
    mkdir(dir, 0755);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    snprintf(a, sizeof a, "%s/mlp/class/model.safetensors", fixdir);
    copy_file(a, st);
    write_text(cfg, "{\"_class_name\": \"GmmdiffMLP\", \"dim\": 3, \"hiden\": 16}");
    expect_refused("misspelt key", dir, cfg, "hiden");
    write_text(cfg, "{\"dim\": 3, \"hidden\": \"16\"}");
    expect_refused("value of the wrong type", dir, cfg, "hidden");
    write_text(cfg, "{\"hidden\": 16}");
    expect_refused("dim missing", dir, cfg, "dim");
    write_text(cfg, "{\"_class_name\": \"UNet2DModel\", \"dim\": 3}");
    expect_refused("another model's config", dir, cfg, "_class_name");
    write_text(cfg, "{\"dim\": 3, \"temb\": 8, \"class_embed_type\": \"identity\", "
                    "\"cond_dim\": 4}");
    expect_refused("identity condition of the wrong width", dir, cfg, "cond_dim");
    write_text(cfg, "{\"dim\": 3, \"class_embed_type\": \"timestep\"}");
    expect_refused("unsupported condition", dir, cfg, "class_embed_type");
    write_text(cfg, "{\"dim\": 3, \"hidden\": 20, \"n_layers\": 2, \"temb\": 8, "
                    "\"num_class_embeds\": 5}");
    expect_refused("hidden width disagrees with the weights", dir, st, "linear_in.weight");
    write_text(cfg, "{\"dim\": 3, \"hidden\": 16, \"n_layers\": 1, \"temb\": 8, "
                    "\"num_class_embeds\": 5}");
    expect_refused("fewer layers than the weights", dir, st, "blocks.1.");
    write_text(cfg, "{\"dim\": 3, \"hidden\": 16, \"n_layers\": 2, \"temb\": 8}");
    expect_refused("class table missing from config", dir, st, "class_embedding.weight");
}

/* ---- (4) training on a 2-D mixture ---- */
#define TR_N 128
#define TR_SAMPLES 512
static const float tr_modes[4][2] = {{1.5f, 1.5f}, {-1.5f, 1.5f}, {1.5f, -1.5f}, {-1.5f, -1.5f}};

static void check_training(void) {
    gd_mlp_config c;
    gd_mlp_config_default(&c);
    c.hidden = 64;
    c.n_layers = 2;
    c.temb = 32;
    gd_error err = {0};
    gd_graph *g = gd_graph_new();
    gd_mlp_io io = gd_mlp_declare(g, &c, TR_N);
    gd_t target = gd_input(g, "target", 2, (int[]){TR_N, 2}, 0);
    gd_t loss = gd_op_mse(g, io.out, target);
    TEST_COND("train: plan", gd_graph_plan(g, &err) == GD_OK);
    gd_noise_schedule sched;
    TEST_COND("train: schedule",
              gd_schedule_init(&sched, GD_BETA_LINEAR, 1000, 1e-4f, 0.02f, &err) == GD_OK);
    gd_rng rng;
    gd_rng_seed(&rng, 2024);
    gd_mlp_init(g, &rng);
    size_t np;
    float *p = gd_graph_params(g, &np), *gr = gd_graph_param_grads(g, &np);
    float *m = calloc(np, sizeof(float)), *v = calloc(np, sizeof(float));
    GD_ASSERT(m && v);
    gd_adamw_config ac = gd_adamw_defaults();
    ac.lr = 3e-3f;
    ac.weight_decay = 0.0f;
    float *x = gd_data(g, io.x), *tt = gd_data(g, io.t), *tg = gd_data(g, target);
    double first = 0, last = 0;
    const int steps = 600;
    for (int step = 1; step <= steps; step++) {
        for (int i = 0; i < TR_N; i++) {
            const float *mu = tr_modes[gd_rng_below(&rng, 4)];
            float x0[2], eps[2];
            for (int d = 0; d < 2; d++) {
                x0[d] = mu[d] + 0.1f * (float)gd_rng_normal(&rng);
                eps[d] = (float)gd_rng_normal(&rng);
            }
            int t = (int)gd_rng_below(&rng, (uint64_t)sched.n);
            tt[i] = (float)t;
            gd_add_noise(x + 2 * i, x0, eps, 2, sched.alphas_cumprod[t]);
            gd_training_target(tg + 2 * i, x0, eps, 2, sched.alphas_cumprod[t], GD_PRED_EPSILON);
        }
        gd_graph_forward(g);
        float l = gd_data(g, loss)[0];
        if (step <= 50) first += l / 50.0;
        if (step > steps - 50) last += l / 50.0;
        gd_graph_zero_grad(g);
        gd_graph_backward(g, loss);
        gd_adamw_step(p, gr, m, v, np, step, &ac);
    }
    char label[300];
    snprintf(label, sizeof label, "train: loss falls (mean of first 50 steps %.3f, last 50 %.3f)",
             first, last);
    TEST_COND(label, last < 0.6 * first);
    printf("%s\n", label);

    /* sample with a second graph of another batch size carrying the trained parameters */
    gd_graph *gs = gd_graph_new();
    gd_mlp_io ios = gd_mlp_declare(gs, &c, TR_SAMPLES);
    TEST_COND("sample: plan", gd_graph_plan(gs, &err) == GD_OK);
    size_t ns;
    float *ps = gd_graph_params(gs, &ns);
    TEST_COND("sample: same parameter count", ns == np);
    memcpy(ps, p, sizeof(float) * np);
    gd_sampler_config sc = gd_sampler_defaults(GD_SAMPLER_DDIM);
    sc.steps = 50;
    sc.clip_sample = 0;
    float *xs = malloc(sizeof(float) * TR_SAMPLES * 2);
    GD_ASSERT(xs);
    gd_rng_seed(&rng, 99);
    gd_status s = gd_mlp_sample(gs, &ios, &sc, &sched, NULL, NULL, NULL, xs, &rng, &err);
    TEST_COND("sample: DDIM runs", s == GD_OK);
    int near = 0, per_mode[4] = {0};
    for (int i = 0; i < TR_SAMPLES; i++)
        for (int k = 0; k < 4; k++) {
            float dx = xs[2 * i] - tr_modes[k][0], dy = xs[2 * i + 1] - tr_modes[k][1];
            if (dx * dx + dy * dy < 0.5f * 0.5f) {
                near++;
                per_mode[k]++;
            }
        }
    double frac = (double)near / TR_SAMPLES;
    int min_mode = TR_SAMPLES;
    for (int k = 0; k < 4; k++) min_mode = per_mode[k] < min_mode ? per_mode[k] : min_mode;
    snprintf(label, sizeof label,
             "sample: %.1f%% of DDIM-50 samples within 0.5 of a mode (per mode %d %d %d %d)",
             100 * frac, per_mode[0], per_mode[1], per_mode[2], per_mode[3]);
    TEST_COND(label, frac > 0.8);
    printf("%s\n", label);
    TEST_COND("sample: every mode gets at least 1/16 of the samples", min_mode >= TR_SAMPLES / 16);
    free(xs);
    free(m);
    free(v);
    gd_schedule_free(&sched);
    gd_graph_free(gs);
    gd_graph_free(g);
}

int main(int argc, char **argv) {
    const char *fixdir = argc > 1 ? argv[1] : "tests/fixtures";
    /* the matrices here are a few dozen wide: one thread, since synchronising two costs more
     * than the work (ten times the run time on two busy cores) */
    gd_set_num_threads(1);
    check_fixture(fixdir, "class");
    check_fixture(fixdir, "identity");
    check_finite_differences(GD_MLP_COND_TABLE);
    check_finite_differences(GD_MLP_COND_IDENTITY);
    char tmp[] = "/tmp/gd_test_mlp_XXXXXX";
    if (!mkdtemp(tmp)) return 1;
    check_checkpoints(fixdir, tmp);
    check_training();
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", tmp);
    return gd_test_report("test_mlp");
}
