/* test_classifier.c - the attribute classifier: gradients (parameters and input, through the
 * reshape op) against central differences, config round trip and corrupt configs, prediction
 * independent of the batch, learning the shapes attributes far above chance, and FD and
 * precision/recall in the trained classifier's feature space behaving under pixel noise. */
#include "gmmdiff/classifier.h"
#include "gmmdiff/quality.h"
#include "gmmdiff/shapes.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double loss_at(gd_graph *g, gd_t loss) {
    gd_graph_forward(g);
    return gd_data(g, loss)[0];
}

static void small_config(gd_classifier_config *c, int time_cond) {
    memset(c, 0, sizeof *c);
    c->in_channels = 2;
    c->sample_size = 7;
    c->n_levels = 2;
    c->channels[0] = 4;
    c->channels[1] = 4;
    c->channels[2] = 8;
    c->hidden = 6;
    c->norm_num_groups = 2;
    c->time_cond = time_cond;
    c->n_heads = 2;
    snprintf(c->head_names[0], GD_DATA_NAME_MAX, "a");
    snprintf(c->head_names[1], GD_DATA_NAME_MAX, "b");
    c->head_values[0] = 3;
    c->head_values[1] = 2;
    for (int h = 0; h < 2; h++)
        for (int v = 0; v < c->head_values[h]; v++)
            snprintf(c->value_names[h][v], GD_DATA_NAME_MAX, "v%d", v);
}

/* every parameter tensor and the input x, sampled, against central differences of the
 * float forward */
static void gradcheck(int time_cond) {
    gd_classifier_config c;
    small_config(&c, time_cond);
    gd_graph *g = gd_graph_new();
    gd_classifier_io io = gd_classifier_declare(g, &c, 3, 1);
    gd_error err = {0};
    TEST_COND("small classifier plans", gd_graph_plan(g, &err) == GD_OK);
    gd_classifier_init_params(g, 3);
    gd_rng r;
    gd_rng_seed(&r, 9);
    gd_rng_fill_normal(&r, gd_data(g, io.x), gd_numel(g, io.x), 0.0f, 1.0f);
    float *tg = gd_data(g, io.target);
    for (size_t i = 0; i < gd_numel(g, io.target); i++) tg[i] = (float)gd_rng_below(&r, 2);
    if (time_cond) {
        float *t = gd_data(g, io.t);
        t[0] = 3;
        t[1] = 400;
        t[2] = 999;
    }
    gd_graph_forward(g);
    gd_graph_zero_grad(g);
    gd_graph_backward(g, io.loss);
    double md = 0, mg = 0;
    for (int i = -1; i < gd_graph_num_params(g); i++) {
        gd_t t = i < 0 ? io.x : gd_graph_param(g, i);
        float *d = gd_data(g, t), *gt = gd_grad(g, t);
        for (int k = 0; k < 4; k++) {
            size_t j = (size_t)gd_rng_below(&r, gd_numel(g, t));
            float x0 = d[j], h = 1e-2f;
            d[j] = x0 + h;
            double lp = loss_at(g, io.loss);
            d[j] = x0 - h;
            double lm = loss_at(g, io.loss);
            d[j] = x0;
            double fd = (lp - lm) / (2.0 * h);
            md = fmax(md, fabs(fd - gt[j]));
            mg = fmax(mg, fabs(fd));
        }
    }
    printf("classifier (time_cond %d) gradients vs central differences: max error %.2e, max "
           "gradient %.2e\n", time_cond, md, mg);
    TEST_COND(time_cond ? "time-conditioned classifier gradients match central differences"
                        : "classifier gradients match central differences",
              md <= 5e-3 * mg && mg > 0);
    gd_graph_free(g);
}

/* a small time-conditioned classifier (loss given; NGMG ladder 0.5..4 x 3), saved into a fresh
 * folder dir and reopened with input gradients as *mg; gone_small removes it all */
static int open_small(int loss, uint64_t seed, char *dir, gd_classifier *mg) {
    gd_classifier_config c;
    small_config(&c, 1);
    c.loss = loss;
    c.ngmg_min = 0.5f;
    c.ngmg_max = 4.0f;
    c.ngmg_widths = 3;
    gd_classifier m;
    gd_error err = {0};
    GD_ASSERT(mkdtemp(dir));
    int ok = gd_classifier_create(&m, &c, 3, seed, &err) == GD_OK &&
             gd_classifier_save(&m, dir, &err) == GD_OK &&
             gd_classifier_open_guide(mg, dir, 3, -1, &err) == GD_OK;
    gd_classifier_close(&m);
    return ok;
}

/* removes a classifier directory written by gd_classifier_save */
static void remove_saved(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/classifier.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

static void gone_small(const char *dir, gd_classifier *mg) {
    remove_saved(dir);
    gd_classifier_close(mg);
}

/* classifier guidance: gd_classifier_guide_grad of a saved and reopened classifier against
 * central differences of the items' summed log-likelihood, -(batch x slots) x the mean loss */
static void guidecheck(int loss) {
    gd_classifier mg;
    gd_error err = {0};
    char dir[] = "/tmp/gd_test_guide_XXXXXX";
    TEST_COND("guide: create, save, reopen with input gradients", open_small(loss, 4, dir, &mg));
    const size_t n = 3 * 2 * 7 * 7;
    float x[3 * 2 * 7 * 7], target[3 * 5], grad[3 * 2 * 7 * 7];
    gd_rng r;
    gd_rng_seed(&r, 21);
    gd_rng_fill_normal(&r, x, n, 0.0f, 1.0f);
    const int vals[3][2] = {{0, 1}, {2, 0}, {1, 1}};
    for (int b = 0; b < 3; b++) gd_classifier_target_row(&mg.config, vals[b], target + b * 5);
    gd_classifier_guide gc = {&mg, target};
    TEST_COND("guide: gradient", gd_classifier_guide_grad(&gc, x, 250, grad, &err) == GD_OK);
    double md = 0, mx = 0;
    for (int k = 0; k < 12; k++) {
        size_t j = (size_t)gd_rng_below(&r, n);
        float x0 = x[j], h = 1e-2f, g2[3 * 2 * 7 * 7];
        x[j] = x0 + h;
        gd_classifier_guide_grad(&gc, x, 250, g2, &err);
        double lp = -15.0 * gd_data(mg.g, mg.io.loss)[0];
        x[j] = x0 - h;
        gd_classifier_guide_grad(&gc, x, 250, g2, &err);
        double lm = -15.0 * gd_data(mg.g, mg.io.loss)[0];
        x[j] = x0;
        double fd = (lp - lm) / (2.0 * h);
        md = fmax(md, fabs(fd - grad[j]));
        mx = fmax(mx, fabs(fd));
    }
    printf("guidance (%s) d log p / dx vs central differences: max error %.2e, max %.2e\n",
           gd_classifier_loss_name(loss), md, mx);
    /* the float loss is rounded to ~1.2e-7 of itself; x 15 / (2h) that is the differences'
     * noise floor, large beside NGMG's small gradients */
    double floor_fd = 4.0 * 15.0 * fabs(gd_data(mg.g, mg.io.loss)[0]) * 1.2e-7 / 2e-2;
    TEST_COND("guidance gradient is d/dx of the log-likelihood",
              md <= 5e-3 * mx + floor_fd && mx > 10 * floor_fd);
    gone_small(dir, &mg);
}

/* the feature-consistency term: dout against central differences of weight * ac_i * L in
 * each kept item's output; nothing for a dropped item */
static void consistencycheck(int loss, int pred) {
    gd_classifier mg;
    char dir[] = "/tmp/gd_test_consistency_XXXXXX";
    TEST_COND("consistency: create, save, reopen", open_small(loss, 6, dir, &mg));
    enum { N = 3 * 2 * 7 * 7, ITEM = 2 * 7 * 7 };
    float out[N], xt[N], dout[N], tg[3 * 5], ac[3] = {0.9f, 0.5f, 0.05f};
    int keep[3] = {1, 0, 1};
    const int vals[3][2] = {{1, 0}, {0, 1}, {2, 1}};
    for (int b = 0; b < 3; b++) gd_classifier_target_row(&mg.config, vals[b], tg + b * 5);
    gd_rng r;
    gd_rng_seed(&r, 31);
    gd_rng_fill_normal(&r, out, N, 0.0f, 1.0f);
    gd_rng_fill_normal(&r, xt, N, 0.0f, 1.0f);
    memset(dout, 0, sizeof dout);
    const float weight = 2.0f;
    gd_classifier_consistency(&mg, out, xt, ac, keep, tg, pred, weight, dout);
    double md = 0, mx = 0, dropped = 0, floor_fd = 0;
    float scratch[N];
    for (int k = 0; k < 30; k++) {
        size_t j = (size_t)gd_rng_below(&r, N);
        int i = (int)(j / ITEM);
        float o0 = out[j], h = 5e-2f; /* NGMG's gradients are small beside float noise */
        out[j] = o0 + h;
        double lp = gd_classifier_consistency(&mg, out, xt, ac, keep, tg, pred, 0.0f, scratch);
        out[j] = o0 - h;
        double lm = gd_classifier_consistency(&mg, out, xt, ac, keep, tg, pred, 0.0f, scratch);
        out[j] = o0;
        if (!keep[i]) {
            dropped = fmax(dropped, fabs(dout[j]));
            continue;
        }
        double fd = weight * ac[i] * (lp - lm) / (2.0 * h);
        floor_fd = fmax(floor_fd, 4.0 * weight * fabs(lp) * 1.2e-7 / (2.0 * h));
        md = fmax(md, fabs(fd - dout[j]));
        mx = fmax(mx, fabs(fd));
    }
    printf("consistency term (%s, prediction %d) vs central differences: max error %.2e, max "
           "%.2e, dropped items %.1e\n", gd_classifier_loss_name(loss), pred, md, mx, dropped);
    TEST_COND("consistency gradient matches central differences",
              md <= 5e-3 * mx + floor_fd && mx > 10 * floor_fd);
    TEST_COND("a dropped item gets no consistency gradient", dropped == 0.0);
    gone_small(dir, &mg);
}

/* FD and k-NN precision/recall in the trained classifier's feature space (the space `gmmdiff
 * eval --score-classifier` measures in): two disjoint halves of real images are near each
 * other, and pixel noise added to one half moves it away step by step */
static void feature_quality(gd_classifier *m, const gd_dataset *d) {
    const int H = d->n / 2, F = m->config.hidden, L = 5;
    const size_t P = (size_t)d->c * d->h * d->w;
    float *f1 = malloc(sizeof(float) * H * F), *f2 = malloc(sizeof(float) * H * F);
    float *x2 = malloc(sizeof(float) * H * P);
    gd_error err = {0};
    gd_rng r;
    gd_rng_seed(&r, 11);
    gd_classifier_features(m, d->images, H, f1);
    const double sig[5] = {0, 0.1, 0.2, 0.4, 0.8};
    double fd[5], pr[5], rc[5];
    int ok = 1;
    for (int l = 0; l < L; l++) {
        for (size_t i = 0; i < (size_t)H * P; i++)
            x2[i] = d->images[(size_t)H * P + i] + (float)(sig[l] * gd_rng_normal(&r));
        gd_classifier_features(m, x2, H, f2);
        ok &= gd_frechet_distance(f1, H, f2, H, F, &fd[l], &err) == GD_OK;
        ok &= gd_knn_precision_recall(f1, H, f2, H, F, 5, &pr[l], &rc[l], &err) == GD_OK;
        printf("classifier features, pixel noise %.2f: FD %.4f, precision %.3f, recall %.3f\n",
               sig[l], fd[l], pr[l], rc[l]);
    }
    TEST_COND("FD and precision/recall in the classifier's feature space", ok);
    double mu = 0, tr = 0; /* total variance of the first half's features */
    for (int k = 0; k < F; k++) {
        double s1 = 0, s2 = 0;
        for (int i = 0; i < H; i++) s1 += f1[(size_t)i * F + k];
        s1 /= H;
        for (int i = 0; i < H; i++) s2 += (f1[(size_t)i * F + k] - s1) * (f1[(size_t)i * F + k] - s1);
        tr += s2 / (H - 1);
        mu += s1 * s1;
    }
    printf("total variance of the features %.4f; the clean halves' FD is %.2e of it\n", tr,
           fd[0] / tr);
    int up = 1, down = 1;
    for (int l = 1; l < L; l++) {
        up &= fd[l] > fd[l - 1];
        down &= pr[l] < pr[l - 1] || pr[l - 1] == 0; /* until none is left */
    }
    TEST_COND("classifier features: the clean halves' FD is near zero (below 2% of the total "
              "variance)", fd[0] < 0.02 * tr);
    TEST_COND("classifier features: FD grows with every noise level", up);
    TEST_COND("classifier features: precision falls with every noise level", down);
    TEST_COND("classifier features: clean halves' precision and recall high",
              pr[0] > 0.9 && rc[0] > 0.9);
    free(f1);
    free(f2);
    free(x2);
}

int main(void) {
    consistencycheck(GD_CLS_LOSS_BCE, 0);
    consistencycheck(GD_CLS_LOSS_NGMG, 0);
    consistencycheck(GD_CLS_LOSS_NGMG, 1);
    gradcheck(0);
    gradcheck(1);
    guidecheck(GD_CLS_LOSS_BCE);
    guidecheck(GD_CLS_LOSS_NGMG);

    /* config round trip and corrupt configs */
    gd_classifier_config c, c2;
    small_config(&c, 1);
    char path[] = "/tmp/gd_test_classifier_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    gd_error err = {0};
    TEST_COND("config saves", gd_classifier_config_save(&c, path, &err) == GD_OK);
    TEST_COND("config loads", gd_classifier_config_load(&c2, path, &err) == GD_OK);
    TEST_COND("config round-trips",
              c2.n_levels == 2 && c2.channels[2] == 8 && c2.time_cond == 1 && c2.n_heads == 2 &&
                  c2.head_values[0] == 3 && !strcmp(c2.value_names[1][1], "v1") &&
                  c2.hidden == 6 && c2.sample_size == 7 && c2.loss == GD_CLS_LOSS_BCE);
    c.loss = GD_CLS_LOSS_NGMG;
    c.ngmg_min = 0.25f;
    c.ngmg_max = 4.0f;
    c.ngmg_widths = 3;
    TEST_COND("NGMG config round-trips",
              gd_classifier_config_save(&c, path, &err) == GD_OK &&
                  gd_classifier_config_load(&c2, path, &err) == GD_OK &&
                  c2.loss == GD_CLS_LOSS_NGMG && c2.ngmg_min == 0.25f && c2.ngmg_max == 4.0f &&
                  c2.ngmg_widths == 3);
    c.loss = GD_CLS_LOSS_BCE;
    const char *bad[] = {
        "{\"format\": \"gmmdiff-classifier\", \"version\": 2}",
        "{\"format\": \"other\"}",
        "{\"format\": \"gmmdiff-classifier\", \"version\": 1, \"in_channels\": 1, "
        "\"sample_size\": 16, \"hidden\": 8, \"norm_num_groups\": 4, \"time_cond\": false, "
        "\"channels\": [8, 6], \"heads\": [{\"name\": \"a\", \"values\": [\"x\", \"y\"]}]}",
        "{\"format\": \"gmmdiff-classifier\", \"version\": 1, \"in_channels\": 1, "
        "\"sample_size\": 16, \"hidden\": 8, \"norm_num_groups\": 4, \"time_cond\": false, "
        "\"channels\": [8, 8], \"heads\": [{\"name\": \"a\", \"values\": [\"x\"]}]}",
        "{\"format\": \"gmmdiff-classifier\", \"version\": 1,",
    };
    const char *want[] = {"version", "format", "not divisible", "values", "not valid JSON",
                          "loss must be", "needs \"ngmg\"", "0 < s_min <= s_max"};
    const char *bad2[] = {
        "{\"format\": \"gmmdiff-classifier\", \"version\": 1, \"in_channels\": 1, "
        "\"sample_size\": 16, \"hidden\": 8, \"norm_num_groups\": 4, \"time_cond\": false, "
        "\"loss\": \"hinge\", \"channels\": [8, 8], \"heads\": [{\"name\": \"a\", \"values\": [\"x\", \"y\"]}]}",
        "{\"format\": \"gmmdiff-classifier\", \"version\": 1, \"in_channels\": 1, "
        "\"sample_size\": 16, \"hidden\": 8, \"norm_num_groups\": 4, \"time_cond\": false, "
        "\"loss\": \"ngmg\", \"channels\": [8, 8], \"heads\": [{\"name\": \"a\", \"values\": [\"x\", \"y\"]}]}",
        "{\"format\": \"gmmdiff-classifier\", \"version\": 1, \"in_channels\": 1, "
        "\"sample_size\": 16, \"hidden\": 8, \"norm_num_groups\": 4, \"time_cond\": false, "
        "\"loss\": \"ngmg\", \"ngmg\": {\"s_min\": 2, \"s_max\": 1, \"widths\": 3}, "
        "\"channels\": [8, 8], \"heads\": [{\"name\": \"a\", \"values\": [\"x\", \"y\"]}]}"};
    for (int i = 0; i < 8; i++) {
        const char *text = i < 5 ? bad[i] : bad2[i - 5];
        FILE *f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        err.msg[0] = 0;
        gd_status s = gd_classifier_config_load(&c2, path, &err);
        if (s == GD_OK || !strstr(err.msg, path) || !strstr(err.msg, want[i]))
            printf("bad config %d: status %d, message: %s\n", i, s, err.msg);
        TEST_COND("a corrupt config is refused, naming the file and the problem",
                  s != GD_OK && strstr(err.msg, path) && strstr(err.msg, want[i]));
    }
    unlink(path);

    /* learning: shapes 16x16, 4 heads; evaluated on all 48 combinations of another seed */
    gd_dataset d = {0}, test = {0};
    TEST_COND("shapes train data", gd_shapes_make(&d, 16, 4000, 1, GD_SHAPES_TRAIN, &err) == GD_OK);
    TEST_COND("shapes test data", gd_shapes_make(&test, 16, 960, 77, GD_SHAPES_ALL, &err) == GD_OK);
    gd_classifier_config sc;
    TEST_COND("config for shapes", gd_classifier_config_for(&sc, &d, 0, &err) == GD_OK &&
                                       sc.n_heads == 4 && gd_classifier_n_out(&sc) == 11);
    gd_classifier m;
    gd_classifier_train_opts o = gd_classifier_train_defaults();
    o.steps = 300;
    o.batch = 32;
    TEST_COND("create", gd_classifier_create(&m, &sc, o.batch, 1, &err) == GD_OK);
    float fl = 0;
    gd_status s = gd_classifier_train(&m, &d, &o, &fl, &err);
    if (s) printf("train: %s\n", err.msg);
    TEST_COND("trains", s == GD_OK && isfinite(fl));
    double acc[GD_CLS_MAX_HEADS];
    TEST_COND("accuracy", gd_classifier_accuracy(&m, &test, 0, acc, &err) == GD_OK);
    printf("shapes classifier after %d steps: loss %.4f, accuracy shape %.3f size %.3f position "
           "%.3f intensity %.3f\n", o.steps, fl, acc[0], acc[1], acc[2], acc[3]);
    TEST_COND("every attribute far above chance (including the held-out combinations)",
              acc[0] > 0.8 && acc[1] > 0.9 && acc[2] > 0.9 && acc[3] > 0.9);

    feature_quality(&m, &d);

    /* the same data and budget with NGMG (the ladder 0.5..8, 5 widths) */
    {
        gd_classifier_config nc = sc;
        nc.loss = GD_CLS_LOSS_NGMG;
        gd_classifier mn;
        TEST_COND("create NGMG", gd_classifier_create(&mn, &nc, o.batch, 1, &err) == GD_OK);
        float fn = 0;
        s = gd_classifier_train(&mn, &d, &o, &fn, &err);
        double an[GD_CLS_MAX_HEADS];
        TEST_COND("NGMG trains", s == GD_OK && isfinite(fn) && fn < 0 && fn >= -1);
        TEST_COND("NGMG accuracy", gd_classifier_accuracy(&mn, &test, 0, an, &err) == GD_OK);
        printf("NGMG classifier after %d steps: potential %.4f, accuracy shape %.3f size %.3f "
               "position %.3f intensity %.3f\n", o.steps, fn, an[0], an[1], an[2], an[3]);
        TEST_COND("NGMG: every attribute far above chance",
                  an[0] > 0.6 && an[1] > 0.9 && an[2] > 0.9 && an[3] > 0.9);
        gd_classifier_close(&mn);
    }

    /* the same predictions whatever the planned batch */
    int n = 70, *p1 = malloc(sizeof(int) * 4 * n), *p2 = malloc(sizeof(int) * 4 * n);
    gd_classifier_predict(&m, test.images, NULL, n, p1);
    gd_classifier m2;
    TEST_COND("create a batch-7 twin", gd_classifier_create(&m2, &sc, 7, 5, &err) == GD_OK);
    size_t np;
    float *dst = gd_graph_params(m2.g, &np);
    memcpy(dst, gd_graph_params(m.g, NULL), sizeof(float) * np);
    gd_classifier_predict(&m2, test.images, NULL, n, p2);
    int differ = 0;
    for (int i = 0; i < 4 * n; i++) differ += p1[i] != p2[i];
    if (differ) printf("%d of %d predictions differ between batch 32 and 7\n", differ, 4 * n);
    TEST_COND("predictions do not depend on the batch", differ == 0);

    /* save, open, bind to another data set's attributes */
    char dir[] = "/tmp/gd_test_classifier_dir_XXXXXX";
    TEST_COND("temp dir", mkdtemp(dir) != NULL);
    TEST_COND("save", gd_classifier_save(&m, dir, &err) == GD_OK);
    gd_classifier m3;
    TEST_COND("open", gd_classifier_open(&m3, dir, 16, &err) == GD_OK);
    gd_classifier_predict(&m3, test.images, NULL, n, p2);
    TEST_COND("reopened classifier predicts the same", memcmp(p1, p2, sizeof(int) * 4 * n) == 0);
    gd_dataset other = {0};
    gd_dataset_alloc(&other, 2, 1, 16, 16, 1, &err);
    snprintf(other.attrs[0].name, GD_DATA_NAME_MAX, "label");
    other.attrs[0].n_values = 10;
    TEST_COND("binding to a data set without its attributes is refused",
              gd_classifier_bind(&m3.config, &other, &err) == GD_ERR_ARG &&
                  strstr(err.msg, "shape"));
    remove_saved(dir);

    free(p1);
    free(p2);
    gd_dataset_free(&other);
    gd_classifier_close(&m);
    gd_classifier_close(&m2);
    gd_classifier_close(&m3);
    gd_dataset_free(&d);
    gd_dataset_free(&test);
    return gd_test_report("test_classifier");
}
