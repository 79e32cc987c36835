/* test_condition.c - GMM feature conditioning: components from categorical and continuous
 * attributes, posterior sampling, composition and its backward through a UNet (central
 * differences), feature strings, and the condition files (round trip, corrupt files). */
#include "gmmdiff/condition.h"
#include "gmmdiff/unet.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/* 600 items: colour (red/green/blue, 1:2:3) and a continuous "ink" from two well separated
 * modes, -2 (1/3 of the items) and 3 (2/3) */
static void make_data(gd_dataset *d) {
    gd_error err;
    GD_ASSERT(gd_dataset_alloc(d, 600, 1, 8, 8, 2, &err) == GD_OK);
    snprintf(d->name, sizeof d->name, "synthetic");
    snprintf(d->attrs[0].name, GD_DATA_NAME_MAX, "colour");
    d->attrs[0].kind = GD_ATTR_CATEGORICAL;
    d->attrs[0].n_values = 3;
    snprintf(d->attrs[0].values[0], GD_DATA_NAME_MAX, "red");
    snprintf(d->attrs[0].values[1], GD_DATA_NAME_MAX, "green");
    snprintf(d->attrs[0].values[2], GD_DATA_NAME_MAX, "blue");
    snprintf(d->attrs[1].name, GD_DATA_NAME_MAX, "ink");
    d->attrs[1].kind = GD_ATTR_CONTINUOUS;
    gd_rng r;
    gd_rng_seed(&r, 4);
    for (int i = 0; i < d->n; i++) {
        int u = i % 6;
        d->labels[i * 2] = u == 0 ? 0 : u < 3 ? 1 : 2;
        d->cont[i * 2 + 1] = (float)((i % 3 == 0 ? -2.0 : 3.0) + 0.3 * gd_rng_normal(&r));
        d->cls[i] = d->labels[i * 2];
    }
    d->n_classes = 3;
}

int main(void) {
    gd_dataset d = {0};
    make_data(&d);
    gd_condition c;
    gd_error err = {0};
    TEST_COND("build", gd_condition_build(&c, &d, 16, 0.1f, 2, 1, &err) == GD_OK);
    TEST_COND("rows: 3 values + 2 components + 2 null rows",
              c.rows == 7 && c.attrs[0].row0 == 0 && c.attrs[1].row0 == 3 &&
                  c.attrs[0].null_row == 5 && c.attrs[1].null_row == 6);
    TEST_COND("categorical frequencies", fabs(c.attrs[0].freq[0] - 1.0 / 6) < 1e-9 &&
                                             fabs(c.attrs[0].freq[2] - 0.5) < 1e-9);
    printf("ink GMM: weights %.3f %.3f, means %.3f %.3f, variances %.3f %.3f\n",
           c.attrs[1].freq[0], c.attrs[1].freq[1], c.attrs[1].mean[0], c.attrs[1].mean[1],
           c.attrs[1].var[0], c.attrs[1].var[1]);
    TEST_COND("the continuous attribute's 1-D GMM finds its modes, low to high",
              fabs(c.attrs[1].mean[0] + 2) < 0.1 && fabs(c.attrs[1].mean[1] - 3) < 0.1 &&
                  fabs(c.attrs[1].freq[0] - 1.0 / 3) < 0.02);
    TEST_COND("most probable component of a value",
              gd_condition_cont_row(&c, 1, -1.8, -1) == 3 && gd_condition_cont_row(&c, 1, 2.5, -1) == 4);
    /* posterior sampling halfway between the modes follows the posterior */
    /* the point between the modes where the posterior is 0.3 : 0.7 (by bisection) */
    const gd_cond_attr *ia = &c.attrs[1];
    double lo = ia->mean[0], hi = ia->mean[1], mid = 0, lp0 = 0, lp1 = 0;
    for (int it = 0; it < 100; it++) {
        mid = 0.5 * (lo + hi);
        lp0 = log(ia->freq[0]) - 0.5 * log(ia->var[0]) - 0.5 * pow(mid - ia->mean[0], 2) / ia->var[0];
        lp1 = log(ia->freq[1]) - 0.5 * log(ia->var[1]) - 0.5 * pow(mid - ia->mean[1], 2) / ia->var[1];
        if (1.0 / (1.0 + exp(lp1 - lp0)) > 0.3) lo = mid; else hi = mid;
    }
    double p0 = 1.0 / (1.0 + exp(lp1 - lp0));
    gd_rng r;
    gd_rng_seed(&r, 3);
    int hits = 0, N = 20000;
    for (int i = 0; i < N; i++) hits += gd_condition_cont_row(&c, 1, mid, gd_rng_uniform(&r)) == 3;
    printf("posterior at %.2f: p(c0) = %.4f, sampled %.4f\n", mid, p0, (double)hits / N);
    TEST_COND("posterior sampling follows the posterior",
              fabs((double)hits / N - p0) < 4 * sqrt(p0 * (1 - p0) / N) + 1e-3);

    /* composition: the sum of the rows' means, plus noise of sigma per row */
    float *means = malloc(sizeof(float) * (size_t)c.rows * 16);
    gd_condition_init_means(&c, means, &r);
    int amap[2], rows[2];
    TEST_COND("bind", gd_condition_bind(&c, &d, amap, &err) == GD_OK && amap[0] == 0 && amap[1] == 1);
    gd_condition_item_rows(&c, &d, amap, 3, NULL, rows);
    TEST_COND("item rows", rows[0] == 2 && rows[1] == 3);
    float out[16], sum_err = 0;
    gd_condition_compose(&c, means, rows, NULL, out);
    for (int j = 0; j < 16; j++) sum_err = fmaxf(sum_err, fabsf(out[j] - means[2 * 16 + j] - means[3 * 16 + j]));
    TEST_COND("compose without noise is the sum of the means", sum_err < 1e-6f);
    double var = 0;
    int M = 4000;
    for (int i = 0; i < M; i++) {
        gd_condition_compose(&c, means, rows, &r, out);
        for (int j = 0; j < 16; j++) {
            double e = out[j] - means[2 * 16 + j] - means[3 * 16 + j];
            var += e * e / (16.0 * M);
        }
    }
    printf("composed noise variance %.5f (2 rows x sigma^2 = %.5f)\n", var, 2 * 0.01);
    TEST_COND("composed noise has variance n_attrs * sigma^2", fabs(var - 0.02) < 0.001);

    /* backward through a tiny identity-conditioned UNet, against central differences */
    gd_unet_config u;
    gd_unet_config_default(&u);
    u.sample_size = 8;
    u.n_blocks = 2;
    u.block_out_channels[0] = 4;
    u.block_out_channels[1] = 8;
    u.down_attn[1] = 0;
    u.up_attn[0] = 0;
    u.add_attention = 0;
    u.norm_num_groups = 2;
    u.class_embed = GD_CLASS_EMBED_IDENTITY;
    gd_condition c4;
    TEST_COND("build for dim 16", gd_condition_build(&c4, &d, gd_unet_time_embed_dim(&u), 0.1f,
                                                      2, 1, &err) == GD_OK);
    gd_graph *g = gd_graph_new();
    enum { B = 3 };
    gd_unet_io io = gd_unet_declare(g, &u, B, 8, 8);
    gd_t tgt = gd_input(g, "target", 4, (int[]){B, 1, 8, 8}, 0);
    gd_t loss = gd_op_mse(g, io.out, tgt);
    TEST_COND("plan", gd_graph_plan(g, &err) == GD_OK);
    gd_unet_init(g, &r);
    gd_rng_fill_normal(&r, gd_data(g, io.x), gd_numel(g, io.x), 0, 1);
    gd_rng_fill_normal(&r, gd_data(g, tgt), gd_numel(g, tgt), 0, 1);
    for (int i = 0; i < B; i++) gd_data(g, io.t)[i] = (float)(100 * i + 7);
    float *m4 = malloc(sizeof(float) * (size_t)c4.rows * 16), *gm = malloc(sizeof(float) * (size_t)c4.rows * 16);
    gd_condition_init_means(&c4, m4, &r);
    int brows[B * 2] = {0, 3, 2, 4, 0, c4.attrs[1].null_row}; /* row 0 used twice */
    float *cin = gd_data(g, io.cls);
    for (int i = 0; i < B; i++) gd_condition_compose(&c4, m4, brows + 2 * i, NULL, cin + 16 * i);
    gd_graph_forward(g);
    gd_graph_zero_grad(g);
    gd_graph_backward(g, loss);
    gd_condition_backward(&c4, brows, B, gd_grad(g, io.cls), gm);
    double md = 0, mg = 0;
    int check_rows[4] = {0, 2, 4, c4.attrs[1].null_row};
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 16; j += 5) {
            float *p = m4 + check_rows[k] * 16 + j, x0 = *p, h = 1e-2f;
            double l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                *p = x0 + (sgn ? -h : h);
                for (int i = 0; i < B; i++) gd_condition_compose(&c4, m4, brows + 2 * i, NULL, cin + 16 * i);
                gd_graph_forward(g);
                l[sgn] = gd_data(g, loss)[0];
            }
            *p = x0;
            double fd = (l[0] - l[1]) / (2 * h);
            md = fmax(md, fabs(fd - gm[check_rows[k] * 16 + j]));
            mg = fmax(mg, fabs(fd));
        }
    printf("condition means: gradient vs central differences max error %.2e, max %.2e\n", md, mg);
    TEST_COND("the means' gradient matches central differences", mg > 0 && md <= 5e-3 * mg);
    float unused = 0;
    for (int j = 0; j < 16; j++) unused += fabsf(gm[1 * 16 + j]);
    TEST_COND("a row no item uses gets no gradient", unused == 0);
    gd_graph_free(g);

    /* feature strings */
    int fr[2];
    TEST_COND("parse two features", gd_condition_parse_features(&c, "colour=blue, ink=2.9", fr, &err) == GD_OK &&
                                        fr[0] == 2 && fr[1] == 4);
    TEST_COND("parse a subset", gd_condition_parse_features(&c, "ink=-2", fr, &err) == GD_OK &&
                                    fr[0] == -1 && fr[1] == 3);
    TEST_COND("unknown attribute named", gd_condition_parse_features(&c, "size=big", fr, &err) == GD_ERR_ARG &&
                                             strstr(err.msg, "'size'") && strstr(err.msg, "colour, ink"));
    TEST_COND("unknown value named", gd_condition_parse_features(&c, "colour=pink", fr, &err) == GD_ERR_ARG &&
                                         strstr(err.msg, "'pink'") && strstr(err.msg, "red, green, blue"));
    TEST_COND("a continuous value must be a number",
              gd_condition_parse_features(&c, "ink=lots", fr, &err) == GD_ERR_ARG);
    TEST_COND("twice refused", gd_condition_parse_features(&c, "ink=1,ink=2", fr, &err) == GD_ERR_ARG);
    TEST_COND("not attr=value", gd_condition_parse_features(&c, "colour", fr, &err) == GD_ERR_ARG);
    /* unnamed attributes drawn by the data's frequencies */
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 6000; i++) {
        int rr[2] = {-1, 4};
        gd_condition_fill_rows(&c, rr, &r);
        counts[rr[0]]++;
        GD_ASSERT(rr[1] == 4);
    }
    printf("unnamed colour drawn: %d %d %d of 6000 (expected 1000 2000 3000)\n", counts[0],
           counts[1], counts[2]);
    TEST_COND("unnamed attributes drawn by frequency",
              abs(counts[0] - 1000) < 120 && abs(counts[1] - 2000) < 150 && abs(counts[2] - 3000) < 160);

    /* files */
    char dir[] = "/tmp/gd_test_condition_XXXXXX";
    TEST_COND("temp dir", mkdtemp(dir) != NULL);
    TEST_COND("save", gd_condition_save(&c, means, dir, &err) == GD_OK);
    gd_condition c2;
    float *m2 = NULL;
    TEST_COND("load", gd_condition_load(&c2, &m2, dir, &err) == GD_OK);
    TEST_COND("round trip", c2.rows == c.rows && c2.dim == 16 && c2.sigma == c.sigma &&
                                c2.attrs[1].kind == GD_ATTR_CONTINUOUS &&
                                c2.attrs[1].mean[1] == c.attrs[1].mean[1] &&
                                !strcmp(c2.attrs[0].values[2], "blue") &&
                                memcmp(m2, means, sizeof(float) * (size_t)c.rows * 16) == 0);
    free(m2);
    char path[4200];
    snprintf(path, sizeof path, "%s/condition.json", dir);
    const char *bad[] = {"{\"format\": \"gmmdiff-condition\", \"version\": 1, \"dim\": 16, "
                         "\"rows\": 9, \"sigma\": 0.1, \"attributes\": []}",
                         "{\"format\": \"gmmdiff-condition\", \"version\": 1, \"dim\": 16, "
                         "\"rows\": 7, \"sigma\": -1}",
                         "{\"format\": \"x\"}", "[1, 2"};
    const char *want[] = {"attributes must be", "sigma", "not a gmmdiff condition", "not valid JSON"};
    for (int i = 0; i < 4; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        gd_status s = gd_condition_load(&c2, &m2, dir, &err);
        if (s == GD_OK || !strstr(err.msg, want[i])) printf("bad %d: %s\n", i, err.msg);
        TEST_COND("a corrupt condition.json is refused, naming the file and problem",
                  s != GD_OK && strstr(err.msg, path) && strstr(err.msg, want[i]) && !m2);
    }
    /* 48 attributes of 64 values and dim 2^20: 3120 x 2^20 means (13 GB) beside a
     * condition.safetensors of [7, 16]. Refused from the tensor's shape, before allocating
     * what the JSON asks for: checked in a child whose data segment may grow by 1 GiB only, where
     * allocating first fails with "out of memory" (ASan reserves terabytes of shadow memory, so
     * sanitized builds check the message without the limit) */
    gd_condition_save(&c, means, dir, &err);
    FILE *f = fopen(path, "w");
    fputs("{\"format\": \"gmmdiff-condition\", \"version\": 1, \"dim\": 1048576, \"rows\": 3120, "
          "\"sigma\": 0.1, \"attributes\": [", f);
    for (int a = 0; a < 48; a++) {
        fprintf(f, "%s{\"name\": \"a%d\", \"kind\": \"categorical\", \"row0\": %d, "
                "\"null_row\": %d, \"values\": [", a ? ", " : "", a, 65 * a, 65 * a + 64);
        for (int v = 0; v < 64; v++) fprintf(f, "%s\"v%d\"", v ? ", " : "", v);
        fputs("], \"frequencies\": [", f);
        for (int v = 0; v < 64; v++) fprintf(f, "%s0.015625", v ? ", " : "");
        fputs("]}", f);
    }
    fputs("]}", f);
    fclose(f);
    pid_t child = fork();
    if (child == 0) {
#ifndef SANITIZED
        long data_kb = 0;
        char line[256];
        FILE *st = fopen("/proc/self/status", "r");
        while (st && fgets(line, sizeof line, st))
            if (!strncmp(line, "VmData:", 7)) data_kb = atol(line + 7);
        if (st) fclose(st);
        struct rlimit rl = {(rlim_t)(data_kb + (1L << 20)) * 1024, RLIM_INFINITY};
        setrlimit(RLIMIT_DATA, &rl);
#endif
        gd_status s = gd_condition_load(&c2, &m2, dir, &err);
        printf("  condition of 13 GB beside a small tensor -> %s\n", err.msg);
        fflush(stdout);
        _exit(s == GD_ERR_SHAPE && strstr(err.msg, "condition.safetensors") &&
              strstr(err.msg, "expected [3120,1048576]") ? 0 : 1);
    }
    int status = -1;
    waitpid(child, &status, 0);
    TEST_COND("a condition.json asking for 13 GB of means is refused from the tensor's shape "
              "before allocating", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gd_condition_save(&c, means, dir, &err);
    snprintf(path, sizeof path, "%s/condition.safetensors", dir);
    truncate(path, 40);
    TEST_COND("a truncated condition.safetensors is refused",
              gd_condition_load(&c2, &m2, dir, &err) != GD_OK && strstr(err.msg, "condition.safetensors"));
    unlink(path);
    snprintf(path, sizeof path, "%s/condition.json", dir);
    unlink(path);
    rmdir(dir);

    free(means);
    free(m4);
    free(gm);
    gd_dataset_free(&d);
    return gd_test_report("test_condition");
}
