/* eval_classes.c - class-conditional samples scored by a classifier trained on real data. A
 * class-table model is asked for a class by its row; a model with a condition (feature or
 * class-component models) by the rows of the class's categorical values (those of its first
 * item), each continuous attribute drawn from the data's distribution per sample. */
#include "eval_classes.h"
#include "eval_model.h"
#include "gmmdiff/condition.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/image.h"
#include "gmmdiff/quality.h"
#include "train_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* rows [nc * per, n_attrs] of a conditioned model's samples: sample i asks for class
 * classes[i / per] through the values of its first item (rep) in every categorical attribute
 * (matched by name; a class-component model's single attribute "class" is the class itself),
 * every other attribute drawn from the data's distribution */
static gd_status class_rows(const gd_condition *cn, const gd_dataset *d, const int *rep,
                            const int *classes, int nc, int per, uint64_t seed, int *rows,
                            const char *mdir, gd_error *err) {
    const int A = cn->n_attrs;
    gd_rng rng;
    gd_rng_seed(&rng, gd_mix64(seed ^ 0x636c6173ULL)); /* "clas" */
    for (int c = 0; c < nc; c++) {
        /* the class's rows, found once; then each sample draws the rest */
        int base[GD_DATA_MAX_ATTRS], item = rep[classes[c]];
        for (int a = 0; a < A; a++) {
            const gd_cond_attr *ca = &cn->attrs[a];
            base[a] = -1;
            if (ca->kind != GD_ATTR_CATEGORICAL) continue;
            int da = gd_dataset_attr_index(d, ca->name), v = -1;
            if (da >= 0 && d->attrs[da].kind == GD_ATTR_CATEGORICAL) {
                int dv = d->labels[(size_t)item * d->n_attrs + da];
                for (int j = 0; dv >= 0 && j < ca->n; j++)
                    if (!strcmp(ca->values[j], d->attrs[da].values[dv])) v = j;
            } else if (da < 0 && !strcmp(ca->name, "class") && ca->n == d->n_classes) {
                v = classes[c];
            } else {
                continue; /* an attribute the data set has not: drawn */
            }
            if (v < 0)
                return gd_error_set(err, GD_ERR_ARG, "%s: the model's attribute '%s' has no "
                                    "value for class %d of %s", mdir, ca->name, classes[c],
                                    d->name);
            base[a] = ca->row0 + v;
        }
        for (int k = 0; k < per; k++) {
            int *r = rows + ((size_t)c * per + k) * A;
            memcpy(r, base, sizeof(int) * (size_t)A);
            gd_condition_fill_rows(cn, r, &rng);
        }
    }
    return GD_OK;
}

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
    const int table = u.class_embed == GD_CLASS_EMBED_TABLE;
    if (!table && !em.has_condition) {
        s = gd_error_set(err, GD_ERR_ARG, "%s: an unconditional model has no class to ask for",
                         mdir);
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
    int *pred = NULL, *rows = NULL;
    if (!rep || !classes) {
        s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
        goto done;
    }
    if ((s = gd_classifier_bind(&clf->config, &d, err))) goto done;
    if (u.in_channels != d.c || u.sample_size != d.h)
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: the model makes %dx%d images with %d channels, "
                         "the classifier reads %dx%d with %d", mdir, u.sample_size, u.sample_size,
                         u.in_channels, d.h, d.w, d.c);
    if (!s && table && u.num_class_embeds != K + 1)
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: %d class rows, expected %d classes + the null row",
                         mdir, u.num_class_embeds, K);
    if (s) goto done;
    const int D = table ? 1 : em.cnd.dim, A = table ? 0 : em.cnd.n_attrs;
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
    cond = malloc(sizeof(float) * (size_t)chunk * (size_t)D);
    null = malloc(sizeof(float) * (size_t)chunk * (size_t)D);
    pred = malloc(sizeof(int) * (size_t)n * (size_t)H);
    if (A) rows = malloc(sizeof(int) * (size_t)n * (size_t)A);
    if (!x || !all || !cond || !null || !pred || (A && !rows)) {
        s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory for %d samples", n);
        goto done;
    }
    if (A && (s = class_rows(&em.cnd, &d, rep, classes, nc, per, o->seed, rows, mdir, err)))
        goto done;
    if ((s = gd_eval_model_plan(&em, chunk, err))) goto done;
    gd_sampler_config sc = gd_sampler_for_model(GD_SAMPLER_DDIM, &em.schc, o->steps);
    gd_guidance guide = {o->cfg, 0.0f};
    for (int start = 0; start < n; start += chunk) {
        int nb = n - start < chunk ? n - start : chunk;
        for (int b = 0; b < chunk; b++) { /* a short last chunk repeats its first sample */
            int i = start + (b < nb ? b : 0);
            if (table) {
                cond[b] = (float)classes[i / per];
                null[b] = (float)K;
            } else {
                gd_condition_compose(&em.cnd, em.means, rows + (size_t)i * A, NULL,
                                     cond + (size_t)b * D);
                gd_condition_null(&em.cnd, em.means, null + (size_t)b * D);
            }
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
    { /* FD and precision/recall against the evaluation split's first n items; the same of its
       * next n items against them, when it has that many: the floor at this sample size */
        gd_cli_data ts = ds;
        ts.test = 1;
        gd_dataset real = {0};
        if ((s = gd_cli_data_open(&real, &ts, err))) goto done;
        int nr = real.n < n ? real.n : n, F = clf->config.hidden;
        int n2 = real.n - nr < nr ? real.n - nr : nr;
        float *fs = malloc(sizeof(float) * (size_t)n * F), *fr = malloc(sizeof(float) * (size_t)nr * F);
        float *f2 = malloc(sizeof(float) * (size_t)(n2 > 0 ? n2 : 1) * F);
        if (!fs || !fr || !f2) s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
        if (!s && (real.c != u.in_channels || real.h != S || real.w != S))
            s = gd_error_set(err, GD_ERR_SHAPE, "the evaluation split's images are not the model's");
        res->fd_real = res->precision_real = res->recall_real = NAN;
        if (!s) {
            gd_classifier_features(clf, all, n, fs);
            gd_classifier_features(clf, real.images, nr, fr);
            res->n_real = nr;
            s = gd_frechet_distance(fr, nr, fs, n, F, &res->fd, err);
            if (!s && (nr <= 5 || n <= 5)) res->precision = res->recall = NAN;
            else if (!s)
                s = gd_knn_precision_recall(fr, nr, fs, n, F, 5, &res->precision, &res->recall, err);
        }
        if (!s && n2 > 5 && nr > 5) {
            gd_classifier_features(clf, real.images + img * (size_t)nr, n2, f2);
            s = gd_frechet_distance(fr, nr, f2, n2, F, &res->fd_real, err);
            if (!s)
                s = gd_knn_precision_recall(fr, nr, f2, n2, F, 5, &res->precision_real,
                                            &res->recall_real, err);
        }
        free(fs);
        free(fr);
        free(f2);
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
    free(rows);
    gd_eval_model_close(&em);
    gd_dataset_free(&d);
    return s;
}

json_t *gd_eval_classes_json(const gd_eval_classes_result *r) {
    json_t *o = json_object(), *acc = json_object();
    for (int h = 0; h < r->n_heads; h++)
        json_object_set_new(acc, r->head_names[h], json_real(r->acc[h]));
    json_object_set_new(o, "samples", json_integer(r->n));
    json_object_set_new(o, "classes", json_integer(r->n_classes));
    json_object_set_new(o, "accuracy", acc);
    json_object_set_new(o, "exact", json_real(r->exact));
    json_object_set_new(o, "fd", json_real(r->fd));
    json_object_set_new(o, "precision", json_real(r->precision));
    json_object_set_new(o, "recall", json_real(r->recall));
    json_object_set_new(o, "real_items", json_integer(r->n_real));
    json_object_set_new(o, "fd_real", json_real(r->fd_real));
    json_object_set_new(o, "precision_real", json_real(r->precision_real));
    json_object_set_new(o, "recall_real", json_real(r->recall_real));
    return o;
}
