/* eval_features.c - controllability of continuous features and cluster accuracy (see
 * eval_features.h). Sampling runs in chunks of CHUNK images, each chunk seeded from the
 * evaluation seed and its index, so the results do not depend on memory. */
#include "eval_features.h"
#include "eval_model.h"
#include "gmmdiff/cluster.h"
#include "gmmdiff/condition.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/image.h"
#include "gmmdiff/readers.h"
#include "gmmdiff/unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 64 };

/* a feature or cluster model, planned for CHUNK images */
static gd_status fmodel_open(gd_eval_model *m, const char *run_dir, gd_error *err) {
    gd_status s = gd_eval_model_load(m, run_dir, err);
    if (!s && !m->has_condition)
        s = gd_error_set(err, GD_ERR_ARG, "%s: not a feature- or cluster-conditioned model",
                         m->dir);
    if (!s) s = gd_eval_model_plan(m, CHUNK, err);
    if (s) gd_eval_model_close(m);
    return s;
}

/* x [n, c, S, S]: one sample per row set rows [n, n_attrs] (noise-free means) */
static gd_status fmodel_sample(gd_eval_model *m, const int *rows, int n, const gd_eval_features_opts *o,
                               uint64_t stream, float *x, gd_error *err) {
    const int D = m->cnd.dim, A = m->cnd.n_attrs;
    const size_t img = (size_t)m->u.in_channels * m->u.sample_size * m->u.sample_size;
    float *cond = malloc(sizeof(float) * CHUNK * D), *null = malloc(sizeof(float) * CHUNK * D);
    float *buf = malloc(sizeof(float) * CHUNK * img);
    gd_status s = GD_OK;
    if (!cond || !null || !buf) s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
    gd_sampler_config sc = gd_sampler_for_model((gd_sampler_kind)o->sampler, &m->schc, o->steps);
    gd_guidance guide = {o->cfg, 0.0f};
    for (int i0 = 0; !s && i0 < n; i0 += CHUNK) {
        int c = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (int i = 0; i < CHUNK; i++) { /* a short last chunk repeats its first row */
            const int *r = rows + (size_t)(i0 + (i < c ? i : 0)) * A;
            gd_condition_compose(&m->cnd, m->means, r, NULL, cond + (size_t)i * D);
            gd_condition_null(&m->cnd, m->means, null + (size_t)i * D);
        }
        gd_rng rng;
        gd_rng_seed(&rng, gd_mix64(o->seed ^ gd_mix64(stream * 1000003ULL + (uint64_t)i0)));
        s = gd_unet_sample(m->g, &m->io, &sc, &m->sched, cond, null, &guide, buf, &rng, err);
        if (!s) memcpy(x + (size_t)i0 * img, buf, sizeof(float) * c * img);
    }
    free(cond);
    free(null);
    free(buf);
    return s;
}

static int feature_index(const char *name) {
    for (int f = 0; f < GD_FEATURE_COUNT; f++)
        if (!strcmp(name, gd_feature_names[f])) return f;
    return -1;
}

/* the standard deviation of a continuous attribute's 1-D GMM */
static double gmm_sd(const gd_cond_attr *ca) {
    double tw = 0, m1 = 0, m2 = 0;
    for (int k = 0; k < ca->n; k++) tw += ca->freq[k];
    for (int k = 0; k < ca->n; k++) {
        double w = ca->freq[k] / (tw > 0 ? tw : 1);
        m1 += w * ca->mean[k];
        m2 += w * (ca->var[k] + ca->mean[k] * ca->mean[k]);
    }
    double v = m2 - m1 * m1;
    return v > 0 ? sqrt(v) : 1.0;
}

gd_status gd_eval_controllability(const char *run_dir, const gd_dataset *real,
                                  const gd_eval_features_opts *o, json_t *out, gd_error *err) {
    gd_eval_model m;
    gd_status s = fmodel_open(&m, run_dir, err);
    if (s) return s;
    const gd_condition *cn = &m.cnd;
    const int A = cn->n_attrs, S = m.u.sample_size, C = m.u.in_channels;
    const size_t img = (size_t)C * S * S;
    int attrs[GD_DATA_MAX_ATTRS], feat[GD_DATA_MAX_ATTRS], na = 0, targets = 0;
    for (int a = 0; a < A; a++)
        if (cn->attrs[a].kind == GD_ATTR_CONTINUOUS && feature_index(cn->attrs[a].name) >= 0) {
            attrs[na] = a;
            feat[na++] = feature_index(cn->attrs[a].name);
            targets += cn->attrs[a].n;
        }
    if (!na) {
        gd_eval_model_close(&m);
        return gd_error_set(err, GD_ERR_ARG, "%s: the model has no continuous attribute measured "
                            "on images (ink, mean_intensity, width, height)", run_dir);
    }
    if (real && (real->c != C || real->h != S || real->w != S)) {
        gd_eval_model_close(&m);
        return gd_error_set(err, GD_ERR_SHAPE, "%s: the real data's images (%dx%dx%d) are not "
                            "the model's (%dx%dx%d)", run_dir, real->c, real->h, real->w, C, S, S);
    }
    const int nt = targets * o->per, n = nt + o->pool;
    int *rows = malloc(sizeof(int) * (size_t)n * A);
    float *x = malloc(sizeof(float) * (size_t)n * img);
    float (*f)[GD_FEATURE_COUNT] = malloc(sizeof *f * (size_t)n);
    float (*rf)[GD_FEATURE_COUNT] = malloc(sizeof *rf * (size_t)(real && real->n ? real->n : 1));
    if (!rows || !x || !f || !rf) {
        s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
        goto done;
    }
    gd_rng rr;
    gd_rng_seed(&rr, gd_mix64(o->seed ^ 0x726f7773ULL)); /* "rows" */
    int i = 0;
    for (int q = 0; q < na; q++)
        for (int j = 0; j < cn->attrs[attrs[q]].n; j++)
            for (int k = 0; k < o->per; k++, i++) {
                int *r = rows + (size_t)i * A;
                for (int a = 0; a < A; a++) r[a] = -1;
                r[attrs[q]] = cn->attrs[attrs[q]].row0 + j;
                gd_condition_fill_rows(cn, r, &rr);
            }
    for (; i < n; i++) {
        int *r = rows + (size_t)i * A;
        for (int a = 0; a < A; a++) r[a] = -1;
        gd_condition_fill_rows(cn, r, &rr);
    }
    if ((s = fmodel_sample(&m, rows, n, o, 1, x, err))) goto done;
    for (i = 0; i < n; i++) gd_image_features(x + (size_t)i * img, C, S, S, f[i]);
    for (int t = 0; real && t < real->n; t++) /* measured once, used for every target */
        gd_image_features(real->images + (size_t)t * img, C, S, S, rf[t]);
    if (o->grid && (s = gd_png_write_grid(o->grid, x, nt, C, S, S, o->per, err))) goto done;

    json_t *ctl = json_object();
    double sum_model = 0, sum_free = 0, sum_floor = 0, sum_any = 0;
    i = 0;
    for (int q = 0; q < na; q++) {
        const gd_cond_attr *ca = &cn->attrs[attrs[q]];
        const int fi = feat[q];
        const double sd = gmm_sd(ca);
        double e_model = 0, e_free = 0, e_floor = 0, e_any = 0;
        int floor_targets = 0;
        json_t *comps = json_array();
        for (int j = 0; j < ca->n; j++) {
            double em = 0, mf = 0, ef = 0, er = 0, ea = 0;
            for (int k = 0; k < o->per; k++, i++) {
                em += fabs(f[i][fi] - ca->mean[j]) / sd;
                mf += f[i][fi];
            }
            em /= o->per;
            mf /= o->per;
            for (int p = nt; p < n; p++) ef += fabs(f[p][fi] - ca->mean[j]) / sd;
            ef /= o->pool > 0 ? o->pool : 1;
            int nr = 0;
            for (int t = 0; real && t < real->n; t++) {
                const float v = rf[t][fi];
                double d = fabs(v - ca->mean[j]) / sd;
                ea += d;
                if (gd_condition_cont_row(cn, attrs[q], v, -1.0) == ca->row0 + j) {
                    er += d;
                    nr++;
                }
            }
            if (real && real->n) ea /= real->n;
            if (nr) {
                er /= nr;
                e_floor += er;
                floor_targets++;
            }
            e_model += em;
            e_free += ef;
            e_any += ea;
            json_t *c = json_object();
            json_object_set_new(c, "target", json_real(ca->mean[j]));
            json_object_set_new(c, "weight", json_real(ca->freq[j]));
            json_object_set_new(c, "samples_mean", json_real(mf));
            json_object_set_new(c, "error", json_real(em));
            json_object_set_new(c, "error_uncontrolled", json_real(ef));
            if (real) {
                json_object_set_new(c, "real_items", json_integer(nr));
                json_object_set_new(c, "error_real", nr ? json_real(er) : json_null());
            }
            json_array_append_new(comps, c);
        }
        json_t *a = json_object();
        json_object_set_new(a, "sd", json_real(sd));
        json_object_set_new(a, "error", json_real(e_model / ca->n));
        json_object_set_new(a, "error_uncontrolled", json_real(o->pool ? e_free / ca->n : NAN));
        if (real) {
            json_object_set_new(a, "error_real", json_real(floor_targets ? e_floor / floor_targets
                                                                         : NAN));
            json_object_set_new(a, "error_real_uncontrolled", json_real(e_any / ca->n));
        }
        json_object_set_new(a, "components", comps);
        json_object_set_new(ctl, ca->name, a);
        sum_model += e_model / ca->n;
        sum_free += e_free / ca->n;
        sum_floor += floor_targets ? e_floor / floor_targets : 0;
        sum_any += e_any / ca->n;
    }
    json_object_set_new(out, "controllability", ctl);
    json_object_set_new(out, "controllability_error", json_real(sum_model / na));
    if (o->pool)
        json_object_set_new(out, "controllability_error_uncontrolled", json_real(sum_free / na));
    if (real) {
        json_object_set_new(out, "controllability_error_real", json_real(sum_floor / na));
        json_object_set_new(out, "controllability_error_real_uncontrolled",
                            json_real(sum_any / na));
        json_object_set_new(out, "real_items", json_integer(real->n));
    }
    json_object_set_new(out, "samples", json_integer(n));
done:
    free(rows);
    free(x);
    free(f);
    free(rf);
    gd_eval_model_close(&m);
    return s;
}

/* for each categorical attribute of real: purity of the clusters lab [real->n] */
static json_t *purity(const gd_dataset *real, const int *lab, int K) {
    json_t *p = json_object();
    for (int a = 0; a < real->n_attrs; a++) {
        const gd_attr *at = &real->attrs[a];
        if (at->kind != GD_ATTR_CATEGORICAL || at->n_values < 2) continue;
        int *cnt = calloc((size_t)K * at->n_values, sizeof(int)), *tot = calloc((size_t)at->n_values, sizeof(int));
        if (!cnt || !tot) {
            free(cnt);
            free(tot);
            continue;
        }
        int n = 0;
        for (int i = 0; i < real->n; i++) {
            int v = real->labels[(size_t)i * real->n_attrs + a];
            if (v < 0) continue;
            cnt[(size_t)lab[i] * at->n_values + v]++;
            tot[v]++;
            n++;
        }
        int hit = 0, big = 0;
        for (int k = 0; k < K; k++) {
            int m = 0;
            for (int v = 0; v < at->n_values; v++) m = cnt[(size_t)k * at->n_values + v] > m ? cnt[(size_t)k * at->n_values + v] : m;
            hit += m;
        }
        for (int v = 0; v < at->n_values; v++) big = tot[v] > big ? tot[v] : big;
        json_t *o = json_object();
        json_object_set_new(o, "purity", json_real(n ? (double)hit / n : NAN));
        json_object_set_new(o, "largest_value_share", json_real(n ? (double)big / n : NAN));
        json_object_set_new(p, at->name, o);
        free(cnt);
        free(tot);
    }
    return p;
}

gd_status gd_eval_clusters(const char *run_dir, const gd_dataset *real,
                           const gd_eval_features_opts *o, json_t *out, gd_error *err) {
    gd_eval_model m;
    gd_status s = fmodel_open(&m, run_dir, err);
    if (s) return s;
    gd_cluster_model cl = {0};
    const gd_condition *cn = &m.cnd;
    const int S = m.u.sample_size, C = m.u.in_channels;
    const size_t img = (size_t)C * S * S;
    if (cn->n_attrs != 1 || strcmp(cn->attrs[0].name, "cluster")) {
        gd_eval_model_close(&m);
        return gd_error_set(err, GD_ERR_ARG, "%s: not a cluster-conditioned model (its "
                            "condition is not the one attribute 'cluster')", run_dir);
    }
    if ((s = gd_cluster_load(&cl, run_dir, err))) {
        gd_eval_model_close(&m);
        return s;
    }
    const int K = cn->attrs[0].n, n = K * o->per;
    int *rows = malloc(sizeof(int) * (size_t)n), *lab = malloc(sizeof(int) * (size_t)n);
    float *x = malloc(sizeof(float) * (size_t)n * img);
    if (!rows || !lab || !x) {
        s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
        goto done;
    }
    if (cl.k != K || cl.in_dim != (int)img) {
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: the clusters (%d, images of %d values) do not "
                         "match the model (%d, %zu)", run_dir, cl.k, cl.in_dim, K, img);
        goto done;
    }
    for (int i = 0; i < n; i++) rows[i] = cn->attrs[0].row0 + i / o->per;
    if ((s = fmodel_sample(&m, rows, n, o, 2, x, err)) ||
        (s = gd_cluster_assign(&cl, x, n, lab, err)))
        goto done;
    if (o->grid && (s = gd_png_write_grid(o->grid, x, n, C, S, S, o->per, err))) goto done;
    json_t *per = json_array();
    int hit = 0;
    for (int k = 0; k < K; k++) {
        int h = 0;
        for (int j = 0; j < o->per; j++) h += lab[k * o->per + j] == k;
        hit += h;
        json_array_append_new(per, json_real((double)h / o->per));
    }
    json_object_set_new(out, "clusters", json_integer(K));
    json_object_set_new(out, "samples", json_integer(n));
    json_object_set_new(out, "cluster_accuracy", json_real((double)hit / n));
    json_object_set_new(out, "chance", json_real(1.0 / K));
    json_object_set_new(out, "per_cluster", per);
    if (real && real->n > 0 && real->c * real->h * real->w == cl.in_dim) {
        int *rl = malloc(sizeof(int) * (size_t)real->n);
        if (!rl) {
            s = gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
            goto done;
        }
        if ((s = gd_cluster_assign(&cl, real->images, real->n, rl, err))) {
            free(rl);
            goto done;
        }
        json_t *share = json_array();
        for (int k = 0; k < K; k++) {
            int c = 0;
            for (int i = 0; i < real->n; i++) c += rl[i] == k;
            json_array_append_new(share, json_real((double)c / real->n));
        }
        json_object_set_new(out, "real_items", json_integer(real->n));
        json_object_set_new(out, "real_cluster_share", share);
        json_object_set_new(out, "real_purity", purity(real, rl, K));
        free(rl);
    }
done:
    free(rows);
    free(lab);
    free(x);
    gd_cluster_free(&cl);
    gd_eval_model_close(&m);
    return s;
}
