/* eval_classes.c - class-conditional samples scored by a classifier trained on real data. */
#include "eval_classes.h"
#include "eval_model.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/image.h"
#include "gmmdiff/quality.h"
#include "train_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_status gd_eval_classes(const char *run_dir, gd_classifier *clf,
                          const gd_eval_classes_opts *o, gd_eval_classes_result *res,
                          gd_error *err) {
    gd_train_config tc;
    gd_cli_data ds;
    gd_unet_config ru;
    gd_dataset d = {0};
    gd_eval_model em;
    gd_status s = gd_train_run_read(run_dir, &tc, &ds, &ru, err);
    if (s) return s;
    if ((s = gd_eval_model_load(&em, run_dir, err))) return s;
    const gd_unet_config u = em.u;
    const char *mdir = em.dir;
    if (u.class_embed != GD_CLASS_EMBED_TABLE) {
        s = gd_error_set(err, GD_ERR_ARG, "%s: not a class-conditioned model", mdir);
        gd_eval_model_close(&em);
        return s;
    }
    if ((s = gd_cli_data_open(&d, &ds, err))) {
        gd_eval_model_close(&em);
        return s;
    }
    int H = clf->config.n_heads, K = d.n_classes;
    int *rep = malloc(sizeof(int) * (size_t)K), *classes = malloc(sizeof(int) * (size_t)K);
    float *x = NULL, *cond = NULL, *null = NULL, *all = NULL;
    int *pred = NULL;
    if (!rep || !classes) {
        s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
        goto done;
    }
    if ((s = gd_classifier_bind(&clf->config, &d, err))) goto done;
    if (u.in_channels != d.c || u.sample_size != d.h)
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: the model makes %dx%d images with %d channels, "
                         "the classifier reads %dx%d with %d", mdir, u.sample_size, u.sample_size,
                         u.in_channels, d.h, d.w, d.c);
    if (!s && u.num_class_embeds != K + 1)
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: %d class rows, expected %d classes + the null row",
                         mdir, u.num_class_embeds, K);
    if (s) goto done;
    /* each class's attribute values: those of its first item */
    gd_dataset_class_firsts(&d, rep);
    int nc = 0;
    for (int k = 0; k < K; k++)
        if (rep[k] >= 0) classes[nc++] = k;
    int per = o->per_class, n = nc * per, chunk = o->chunk > 0 ? o->chunk : 100, S = u.sample_size;
    if (chunk > n) chunk = n;
    size_t img = (size_t)u.in_channels * (size_t)S * (size_t)S;
    x = malloc(sizeof(float) * img * (size_t)chunk);
    all = malloc(sizeof(float) * img * (size_t)n);
    cond = malloc(sizeof(float) * (size_t)chunk);
    null = malloc(sizeof(float) * (size_t)chunk);
    pred = malloc(sizeof(int) * (size_t)n * (size_t)H);
    if (!x || !all || !cond || !null || !pred) {
        s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory for %d samples", n);
        goto done;
    }
    if ((s = gd_eval_model_plan(&em, chunk, err))) goto done;
    gd_sampler_config sc = gd_sampler_for_model(GD_SAMPLER_DDIM, &em.schc, o->steps);
    gd_guidance guide = {o->cfg, 0.0f};
    for (int start = 0; start < n; start += chunk) {
        int nb = n - start < chunk ? n - start : chunk;
        for (int b = 0; b < chunk; b++) {
            int i = start + (b < nb ? b : 0);
            cond[b] = (float)classes[i / per];
            null[b] = (float)K;
        }
        gd_rng r; /* each chunk its own stream: the result does not depend on the chunk size */
        gd_rng_seed(&r, o->seed * 1000003u + (uint64_t)start);
        if ((s = gd_unet_sample(em.g, &em.io, &sc, &em.sched, cond, null, &guide, x, &r, err)))
            goto done;
        memcpy(all + img * (size_t)start, x, sizeof(float) * img * (size_t)nb);
    }
    gd_classifier_predict(clf, all, NULL, n, pred);
    memset(res, 0, sizeof *res);
    res->n = n;
    res->n_classes = nc;
    res->n_heads = H;
    int exact = 0;
    int right[GD_CLS_MAX_HEADS] = {0};
    for (int i = 0; i < n; i++) {
        int item = rep[classes[i / per]], ok = 1;
        for (int h = 0; h < H; h++) {
            int want = d.labels[(size_t)item * (size_t)d.n_attrs + (size_t)clf->config.head_attr[h]];
            int hit = pred[(size_t)i * (size_t)H + (size_t)h] == want;
            right[h] += hit;
            ok &= hit;
        }
        exact += ok;
    }
    for (int h = 0; h < H; h++) {
        res->acc[h] = (double)right[h] / n;
        snprintf(res->head_names[h], GD_DATA_NAME_MAX, "%s", clf->config.head_names[h]);
    }
    res->exact = (double)exact / n;
    { /* FD and precision/recall against the evaluation split's first n items */
        gd_cli_data ts = ds;
        ts.test = 1;
        gd_dataset real = {0};
        if ((s = gd_cli_data_open(&real, &ts, err))) goto done;
        int nr = real.n < n ? real.n : n, F = clf->config.hidden;
        float *fs = malloc(sizeof(float) * (size_t)n * F), *fr = malloc(sizeof(float) * (size_t)nr * F);
        if (!fs || !fr) s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
        if (!s && (real.c != u.in_channels || real.h != S || real.w != S))
            s = gd_error_set(err, GD_ERR_SHAPE, "the evaluation split's images are not the model's");
        if (!s) {
            gd_classifier_features(clf, all, n, fs);
            gd_classifier_features(clf, real.images, nr, fr);
            res->n_real = nr;
            s = gd_frechet_distance(fr, nr, fs, n, F, &res->fd, err);
            if (!s && (nr <= 5 || n <= 5)) res->precision = res->recall = NAN;
            else if (!s)
                s = gd_knn_precision_recall(fr, nr, fs, n, F, 5, &res->precision, &res->recall, err);
        }
        free(fs);
        free(fr);
        gd_dataset_free(&real);
        if (s) goto done;
    }
    if (o->grid) {
        int cols = per < 10 ? per : 10;
        float *grid = all; /* rows: the first `cols` samples of each class, compacted */
        for (int c = 0; c < nc; c++)
            memmove(grid + img * (size_t)(c * cols), all + img * (size_t)(c * per),
                    sizeof(float) * img * (size_t)cols);
        s = gd_png_write_grid(o->grid, grid, nc * cols, u.in_channels, S, S, cols, err);
    }
done:
    free(rep);
    free(classes);
    free(x);
    free(all);
    free(cond);
    free(null);
    free(pred);
    gd_eval_model_close(&em);
    gd_dataset_free(&d);
    return s;
}
