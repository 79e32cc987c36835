/* eval_shapes.c - scoring a class-conditioned shapes model with the judge: samples per trained
 * combination, the judge's defect rate and attribute accuracy, a grid and a one-page summary. */
#include "eval_shapes.h"
#include "eval_model.h"
#include "gmmdiff/classifier.h"
#include "gmmdiff/condition.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/image.h"
#include "gmmdiff/shapes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_status gd_eval_shapes(const char *run_dir, const gd_eval_shapes_opts *o,
                         gd_eval_shapes_result *res, gd_error *err) {
    gd_eval_model em;
    gd_status s = gd_eval_model_load(&em, run_dir, err);
    if (s) return s;
    const gd_unet_config u = em.u;
    const gd_condition *cnd = &em.cnd;
    const float *means = em.means;
    const char *mdir = em.dir;
    const int feature = em.has_condition;
    /* class components (--cond class --cond-sigma > 0): the one attribute "class", a row per
     * combination */
    const int class_rows = feature && cnd->n_attrs == 1 && !strcmp(cnd->attrs[0].name, "class") &&
                           cnd->attrs[0].n == GD_SHAPES_N_COMBOS;
    int amap[GD_SHAPES_N_ATTRS];
    for (int a = 0; feature && !class_rows && a < GD_SHAPES_N_ATTRS; a++) {
        amap[a] = -1;
        for (int b = 0; b < cnd->n_attrs; b++)
            if (!strcmp(cnd->attrs[b].name, gd_shapes_attr_name(a))) amap[a] = b;
        if (amap[a] < 0 || cnd->n_attrs != GD_SHAPES_N_ATTRS) {
            s = gd_error_set(err, GD_ERR_ARG, "%s: its condition lacks the shapes attribute "
                             "'%s'", mdir, gd_shapes_attr_name(a));
            gd_eval_model_close(&em);
            return s;
        }
    }
    if ((!feature && (u.class_embed != GD_CLASS_EMBED_TABLE ||
                      u.num_class_embeds != GD_SHAPES_N_COMBOS + 1)) ||
        u.in_channels != 1 || !gd_shapes_size_ok(u.sample_size)) {
        s = gd_error_set(err, GD_ERR_ARG, "%s: not a class- or feature-conditioned shapes "
                         "model (%d class rows, %d channels, size %d)", mdir,
                         u.num_class_embeds, u.in_channels, u.sample_size);
        gd_eval_model_close(&em);
        return s;
    }
    if (o->heldout && (!feature || class_rows)) {
        s = gd_error_set(err, GD_ERR_ARG, "%s: a class model cannot name the held-out "
                         "combinations", mdir);
        gd_eval_model_close(&em);
        return s;
    }
    int combos[GD_SHAPES_N_COMBOS];
    int nc = gd_shapes_combos(o->heldout ? GD_SHAPES_HELDOUT : GD_SHAPES_TRAIN, combos),
        per = o->per_class, n = nc * per;
    int D = feature ? cnd->dim : 1;
    int S = u.sample_size;
    size_t img = (size_t)S * S;
    float *x = malloc(sizeof(float) * img * n), *cond = malloc(sizeof(float) * n * D);
    float *null = malloc(sizeof(float) * n * D);
    int *intended = malloc(sizeof(int) * GD_SHAPES_N_ATTRS * n);
    gd_shapes_verdict *v = malloc(sizeof *v * n);
    if (!x || !cond || !null || !intended || !v) {
        s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
        goto done;
    }
    if ((s = gd_eval_model_plan(&em, n, err))) goto done;
    for (int c = 0; c < nc; c++)
        for (int j = 0; j < per; j++) {
            int i = c * per + j;
            int *want = intended + (size_t)i * GD_SHAPES_N_ATTRS;
            gd_shapes_combo_values(combos[c], want);
            if (class_rows) {
                int row = cnd->attrs[0].row0 + combos[c];
                gd_condition_compose(cnd, means, &row, NULL, cond + (size_t)i * D);
                gd_condition_null(cnd, means, null + (size_t)i * D);
            } else if (feature) {
                int rows[GD_DATA_MAX_ATTRS];
                for (int a = 0; a < GD_SHAPES_N_ATTRS; a++)
                    rows[amap[a]] = cnd->attrs[amap[a]].row0 + want[a];
                gd_condition_compose(cnd, means, rows, NULL, cond + (size_t)i * D);
                gd_condition_null(cnd, means, null + (size_t)i * D);
            } else {
                cond[i] = (float)combos[c];
                null[i] = (float)GD_SHAPES_N_COMBOS;
            }
        }
    gd_sampler_config sc = gd_sampler_for_model((gd_sampler_kind)o->sampler, &em.schc, o->steps);
    gd_guidance guide = {o->cfg, 0.0f};
    gd_rng r;
    gd_rng_seed(&r, o->seed);
    if (o->classifier && o->classifier_scale != 0.0f) {
        gd_classifier cm;
        if ((s = gd_classifier_open_guide(&cm, o->classifier, n, -1, err))) goto done;
        const gd_classifier_config *cc = &cm.config;
        int hmap[GD_SHAPES_N_ATTRS], nh = cc->n_heads;
        for (int a = 0; a < GD_SHAPES_N_ATTRS; a++) {
            hmap[a] = -1;
            for (int h = 0; h < nh; h++)
                if (!strcmp(cc->head_names[h], gd_shapes_attr_name(a))) hmap[a] = h;
        }
        const int n_out = gd_classifier_n_out(cc);
        float *target = malloc(sizeof(float) * (size_t)n * n_out);
        if (!target) s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
        for (int a = 0; !s && a < GD_SHAPES_N_ATTRS; a++)
            if (hmap[a] < 0 || nh != GD_SHAPES_N_ATTRS)
                s = gd_error_set(err, GD_ERR_ARG, "%s: not a classifier of the shapes attributes "
                                 "(it lacks '%s')", o->classifier, gd_shapes_attr_name(a));
        for (int i = 0; !s && i < n; i++) {
            int vals[GD_SHAPES_N_ATTRS];
            for (int a = 0; a < GD_SHAPES_N_ATTRS; a++)
                vals[hmap[a]] = intended[(size_t)i * GD_SHAPES_N_ATTRS + a];
            gd_classifier_target_row(cc, vals, target + (size_t)i * n_out);
        }
        gd_classifier_guide gc = {&cm, target};
        guide.classifier_scale = o->classifier_scale;
        if (!s)
            s = gd_unet_sample_guided(em.g, &em.io, &sc, &em.sched, cond, null, &guide,
                                      gd_classifier_guide_grad, &gc, x, &r, err);
        free(target);
        gd_classifier_close(&cm);
        if (s) goto done;
    } else if ((s = gd_unet_sample(em.g, &em.io, &sc, &em.sched, cond, null, &guide, x, &r, err))) {
        goto done;
    }
    if ((s = gd_shapes_judge(x, n, S, v, err))) goto done;
    gd_shapes_summarize(v, n, intended, &res->summary);
    res->n = n;
    res->n_combos = nc;
    if (o->grid && (s = gd_png_write_grid(o->grid, x, n, 1, S, S, per * 2, err))) goto done;
done:
    gd_eval_model_close(&em);
    free(x);
    free(cond);
    free(null);
    free(intended);
    free(v);
    return s;
}

gd_status gd_eval_shapes_write_md(const char *path, const char *title,
                                  const gd_eval_shapes_opts *o, const gd_eval_shapes_result *r,
                                  const char *extra, gd_error *err) {
    const gd_shapes_summary *m = &r->summary;
    char *buf = malloc(16384);
    if (!buf) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    const double chance[GD_SHAPES_N_ATTRS] = {1.0 / 3, 1.0 / 2, 1.0 / 4, 1.0 / 2};
    int len = snprintf(buf, 16384,
        "# %s\n\n%s\n"
        "The judge (docs/DATA.md) scored %d samples: %d for each of the %d %s attribute\n"
        "combinations, drawn with %s %d steps, classifier-free guidance scale %.2f, seed %llu.\n\n"
        "| measure | value | chance |\n|---|---|---|\n"
        "| defect rate (the judge's residual test, docs/DATA.md) | %.3f | |\n"
        "| exact combination accuracy, best match | **%.3f** | %.3f |\n",
        title, extra ? extra : "", r->n, r->n / r->n_combos, r->n_combos,
        o->heldout ? "held-out" : "trained", o->sampler == GD_SAMPLER_DDPM ? "DDPM" : o->sampler == GD_SAMPLER_DDIM ? "DDIM" : "DPM++ 2M",
        o->steps, (double)o->cfg, (unsigned long long)o->seed,
        m->defect_rate, m->exact_acc_any, chance[0] * chance[1] * chance[2] * chance[3]);
    for (int a = 0; a < GD_SHAPES_N_ATTRS && len < 16000; a++)
        len += snprintf(buf + len, 16384 - len, "| %s accuracy, best match | %.3f | %.3f |\n",
                        gd_shapes_attr_name(a), m->attr_acc_any[a], chance[a]);
    if (len < 16000)
        len += snprintf(buf + len, 16384 - len,
                        "| exact accuracy, a defect counting as wrong | %.3f | |\n"
                        "| exact accuracy among non-defects | %.3f | |\n\n"
                        "\"Best match\" is the judge's best-matching rendering, whether or not the\n"
                        "sample passes the residual test; the defect rate says how many do not.\n",
                        m->exact_acc, m->exact_acc_ok);
    const void *parts[1] = {buf};
    size_t sizes[1] = {(size_t)len};
    gd_status s = gd_write_file_atomic(path, parts, sizes, 1, err);
    free(buf);
    return s;
}
