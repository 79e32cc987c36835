/* trainer.c - one training step of a UNet2DModel denoiser (noise, forward, MSE, backward,
 * clipping, AdamW, EMA), counter-based randomness, and checkpoints that resume bit-exactly. */
#include "gmmdiff/classifier.h"
#include "gmmdiff/condition.h"
#include "gmmdiff/ops.h"
#include "gmmdiff/safetensors.h"
#include "gmmdiff/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STATE_FORMAT "gmmdiff-train-state"
#define STATE_VERSION "1"

/* random streams: each (seed, stream, counter) seeds its own generator */
enum { STREAM_INIT = 1, STREAM_STEP = 2, STREAM_EPOCH = 3, STREAM_COND = 4 };

struct gd_trainer {
    gd_train_config c;
    gd_unet_config u;
    const gd_dataset *d;
    gd_graph *g;
    gd_unet_io io;
    gd_t target, loss;
    size_t P;        /* parameter count */
    float *m, *v, *ema;
    int64_t step;    /* optimizer steps done */
    gd_noise_schedule sched;
    int *perm;       /* the data order of epoch perm_epoch */
    int64_t perm_epoch;
    float *eps;      /* [C*H*W] one item's noise */
    int null_class;
    /* feature mode: the components and the means' own parameters, gradient, moments, EMA */
    gd_condition *cnd;
    int attr_map[GD_DATA_MAX_ATTRS];
    size_t CP;       /* rows * dim */
    float *cmu, *cgrad, *cm, *cv, *cema;
    int *rows;       /* [batch, n_attrs] of the current step */
    /* the feature-consistency term: a frozen classifier of the x0 predictions */
    gd_classifier *aux;
    float *aux_dout;  /* [batch, C, H, W] the gradient of the UNet's output */
    int *aux_keep;    /* [batch] 1 when the item had its condition (not dropped) */
    float aux_value;  /* the classifier's loss at the last step */
    /* data parallel: this rank's slice of each global batch, and the sum over ranks */
    int rank, ranks;
    gd_rank_sum_fn sum;
    void *sum_ctx;
    float *packed;    /* [P + CP + 3] gradients, loss, consistency term, stop votes */
    float *skip_x;    /* [C*H*W] and [dim], [n_attrs]: another rank's item, drawn and dropped */
    float *skip_c;
    int *skip_rows;
    int vote, voted;
};

static void stream_seed(gd_rng *r, uint64_t seed, int stream, int64_t counter) {
    gd_rng_seed(r, gd_mix64(gd_mix64(seed ^ gd_mix64((uint64_t)stream)) + (uint64_t)counter));
}

gd_status gd_trainer_new(gd_trainer **out, const gd_train_config *c, const gd_unet_config *u,
                         const gd_dataset *d, gd_error *err) {
    *out = NULL;
    gd_status s = gd_unet_config_validate(u, "the model configuration", err);
    if (s) return s;
    if (u->sample_size != d->h || d->h != d->w || u->in_channels != d->c || u->out_channels != d->c)
        return gd_error_set(err, GD_ERR_ARG, "the model takes %dx%dx%d images but data set '%s' "
                            "has %dx%dx%d", u->in_channels, u->sample_size, u->sample_size,
                            d->name, d->c, d->h, d->w);
    const int gmm = gd_train_gmm_condition(c);
    if (c->cond == GD_COND_CLASS && !gmm &&
        (u->class_embed != GD_CLASS_EMBED_TABLE || u->num_class_embeds != d->n_classes + 1))
        return gd_error_set(err, GD_ERR_ARG, "class conditioning needs a class table of %d rows "
                            "(%d classes and the null condition)", d->n_classes + 1, d->n_classes);
    if (gmm && u->class_embed != GD_CLASS_EMBED_IDENTITY)
        return gd_error_set(err, GD_ERR_ARG, "%s conditioning with components needs a model "
                            "with class_embed_type \"identity\" (the composed condition vector)",
                            gd_cond_mode_name(c->cond));
    if (c->cond == GD_COND_NONE && u->class_embed != GD_CLASS_EMBED_NONE)
        return gd_error_set(err, GD_ERR_ARG, "--cond none needs a model without class embedding");
    if (c->batch < 1 || c->steps < 1 || !(c->lr > 0) || c->cond_drop < 0 || c->cond_drop > 1 ||
        c->clip < 0 || c->ema_max_decay < 0 || c->ema_max_decay > 1)
        return gd_error_set(err, GD_ERR_ARG, "bad training configuration (batch, steps, lr, "
                            "cond_drop, clip or ema_max_decay out of range)");
    gd_trainer *t = calloc(1, sizeof *t);
    if (!t) return gd_error_set(err, GD_ERR_NOMEM, "trainer: out of memory");
    t->c = *c;
    t->u = *u;
    t->d = d;
    t->perm_epoch = -1;
    t->ranks = 1;
    t->null_class = c->cond == GD_COND_CLASS && !gmm ? d->n_classes : -1;
    t->g = gd_graph_new();
    t->io = gd_unet_declare(t->g, u, c->batch, d->h, d->w);
    t->target = gd_input(t->g, "target", 4, (int[]){c->batch, d->c, d->h, d->w}, 0);
    t->loss = gd_op_mse(t->g, t->io.out, t->target);
    if ((s = gd_graph_plan(t->g, err)) || (s = gd_schedule_from_config(&t->sched, &c->sched, err)))
        goto fail;
    gd_graph_params(t->g, &t->P);
    t->m = gd_calloc(sizeof(float) * t->P);
    t->v = gd_calloc(sizeof(float) * t->P);
    t->ema = gd_malloc(sizeof(float) * t->P);
    t->perm = malloc(sizeof(int) * (size_t)d->n);
    t->eps = malloc(sizeof(float) * (size_t)d->c * d->h * d->w);
    if (!t->m || !t->v || !t->ema || !t->perm || !t->eps) {
        s = gd_error_set(err, GD_ERR_NOMEM, "trainer: out of memory");
        goto fail;
    }
    gd_rng rng;
    stream_seed(&rng, c->seed, STREAM_INIT, 0);
    gd_unet_init(t->g, &rng);
    memcpy(t->ema, gd_graph_params(t->g, NULL), sizeof(float) * t->P);
    if (gmm) {
        t->cnd = calloc(1, sizeof *t->cnd);
        if (!t->cnd) {
            s = gd_error_set(err, GD_ERR_NOMEM, "trainer: out of memory");
            goto fail;
        }
        if ((s = gd_condition_build(t->cnd, d, gd_unet_time_embed_dim(u), gd_train_cond_sigma(c),
                                    c->cond_components, c->seed, err)) ||
            (s = gd_condition_bind(t->cnd, d, t->attr_map, err)))
            goto fail;
        t->CP = (size_t)t->cnd->rows * (size_t)t->cnd->dim;
        t->cmu = gd_malloc(sizeof(float) * t->CP);
        t->cgrad = gd_calloc(sizeof(float) * t->CP);
        t->cm = gd_calloc(sizeof(float) * t->CP);
        t->cv = gd_calloc(sizeof(float) * t->CP);
        t->cema = gd_malloc(sizeof(float) * t->CP);
        t->rows = malloc(sizeof(int) * (size_t)c->batch * (size_t)t->cnd->n_attrs);
        if (!t->cmu || !t->cgrad || !t->cm || !t->cv || !t->cema || !t->rows) {
            s = gd_error_set(err, GD_ERR_NOMEM, "trainer: out of memory");
            goto fail;
        }
        gd_rng cr;
        stream_seed(&cr, c->seed, STREAM_COND, 0);
        gd_condition_init_means(t->cnd, t->cmu, &cr);
        memcpy(t->cema, t->cmu, sizeof(float) * t->CP);
    }
    if (c->aux_weight > 0) {
        t->aux = calloc(1, sizeof *t->aux);
        t->aux_dout = malloc(sizeof(float) * (size_t)c->batch * d->c * d->h * d->w);
        t->aux_keep = malloc(sizeof(int) * (size_t)c->batch);
        if (!t->aux || !t->aux_dout || !t->aux_keep) {
            s = gd_error_set(err, GD_ERR_NOMEM, "trainer: out of memory");
            goto fail;
        }
        if ((s = gd_classifier_open_guide(t->aux, c->aux_classifier, c->batch, c->aux_loss, err))) {
            free(t->aux);
            t->aux = NULL;
            goto fail;
        }
        const gd_classifier_config *cc = &t->aux->config;
        if (cc->in_channels != d->c || cc->sample_size != d->h || d->h != d->w) {
            s = gd_error_set(err, GD_ERR_SHAPE, "--aux-classifier %s reads %dx%dx%d images, the "
                             "data's are %dx%dx%d", c->aux_classifier, cc->in_channels,
                             cc->sample_size, cc->sample_size, d->c, d->h, d->w);
            goto fail;
        }
        if ((s = gd_classifier_bind(&t->aux->config, d, err))) goto fail;
    }
    *out = t;
    return GD_OK;
fail:
    gd_trainer_free(t);
    return s;
}

void gd_trainer_free(gd_trainer *t) {
    if (!t) return;
    gd_graph_free(t->g);
    gd_schedule_free(&t->sched);
    gd_free(t->m);
    gd_free(t->v);
    gd_free(t->ema);
    free(t->perm);
    free(t->eps);
    free(t->cnd);
    gd_free(t->cmu);
    gd_free(t->cgrad);
    gd_free(t->cm);
    gd_free(t->cv);
    gd_free(t->cema);
    free(t->rows);
    if (t->aux) gd_classifier_close(t->aux);
    free(t->aux);
    free(t->aux_dout);
    free(t->aux_keep);
    free(t->packed);
    free(t->skip_x);
    free(t->skip_c);
    free(t->skip_rows);
    free(t);
}

gd_status gd_trainer_set_ranks(gd_trainer *t, int rank, int size, gd_rank_sum_fn sum, void *ctx,
                               gd_error *err) {
    if (size < 1 || rank < 0 || rank >= size || (size > 1 && !sum))
        return gd_error_set(err, GD_ERR_ARG, "rank %d of %d is not a valid rank", rank, size);
    t->rank = rank;
    t->ranks = size;
    t->sum = sum;
    t->sum_ctx = ctx;
    if (size > 1 && !t->packed) {
        const gd_dataset *d = t->d;
        t->packed = malloc(sizeof(float) * (t->P + t->CP + 3));
        t->skip_x = malloc(sizeof(float) * (size_t)d->c * d->h * d->w);
        t->skip_c = malloc(sizeof(float) * (size_t)(t->cnd ? t->cnd->dim : 1));
        t->skip_rows = malloc(sizeof(int) * (size_t)(t->cnd ? t->cnd->n_attrs : 1));
        if (!t->packed || !t->skip_x || !t->skip_c || !t->skip_rows)
            return gd_error_set(err, GD_ERR_NOMEM, "trainer: out of memory for %d ranks", size);
    }
    return GD_OK;
}

void gd_trainer_vote_stop(gd_trainer *t) { t->vote = 1; }
int gd_trainer_stop_voted(const gd_trainer *t) { return t->voted; }

/* the sum over ranks of the gradients (UNet, condition means), the loss, the consistency term
 * and the stop votes, in one call; the gradients and values become their means */
static gd_status sum_ranks(gd_trainer *t, float *gr, float *l, gd_error *err) {
    const size_t P = t->P, CP = t->cnd ? t->CP : 0;
    float *b = t->packed;
    memcpy(b, gr, sizeof(float) * P);
    if (CP) memcpy(b + P, t->cgrad, sizeof(float) * CP);
    b[P + CP] = *l;
    b[P + CP + 1] = t->aux ? t->aux_value : 0.0f;
    b[P + CP + 2] = (float)t->vote;
    gd_status s = t->sum(b, P + CP + 3, t->sum_ctx, err);
    if (s) return s;
    const float inv = 1.0f / (float)t->ranks;
    for (size_t j = 0; j < P; j++) gr[j] = b[j] * inv;
    for (size_t j = 0; j < CP; j++) t->cgrad[j] = b[P + j] * inv;
    *l = b[P + CP] * inv;
    if (t->aux) t->aux_value = b[P + CP + 1] * inv;
    t->voted = b[P + CP + 2] > 0;
    t->vote = 0;
    return GD_OK;
}



/* the data set index at global position pos of the data stream */
static int data_item(gd_trainer *t, int64_t pos) {
    int n = t->d->n;
    int64_t epoch = pos / n;
    if (epoch != t->perm_epoch) { /* Fisher-Yates from the epoch's own stream */
        gd_rng r;
        stream_seed(&r, t->c.seed, STREAM_EPOCH, epoch);
        gd_rng_permutation(&r, t->perm, n);
        t->perm_epoch = epoch;
    }
    return t->perm[pos % n];
}

/* The feature-consistency term (gd_classifier_consistency): t->aux_dout = the MSE's output
 * gradient plus the term's, for the batch the graph holds. */
static void aux_gradient(gd_trainer *t, const float *tt) {
    gd_classifier *m = t->aux;
    const gd_classifier_config *cc = &m->config;
    const gd_dataset *d = t->d;
    const int B = t->c.batch, n_out = gd_classifier_n_out(cc);
    const size_t item = (size_t)d->c * d->h * d->w, n = (size_t)B * item;
    const float *out = gd_data(t->g, t->io.out), *x = gd_data(t->g, t->io.x);
    const float *tgt = gd_data(t->g, t->target);
    float *targets = gd_data(m->g, m->io.target), ac[GD_CONSISTENCY_MAX_BATCH];
    for (int i = 0; i < B; i++) {
        ac[i] = t->sched.alphas_cumprod[(int)tt[i]];
        int k = data_item(t, (t->step * t->ranks + t->rank) * (int64_t)B + i);
        int vals[GD_CLS_MAX_HEADS];
        for (int h = 0; h < cc->n_heads; h++)
            vals[h] = d->labels[(size_t)k * d->n_attrs + cc->head_attr[h]];
        gd_classifier_target_row(cc, vals, targets + (size_t)i * n_out);
    }
    memset(t->aux_dout, 0, sizeof(float) * n); /* the MSE op's own backward, then the term */
    gd_mse_backward(t->aux_dout, NULL, out, tgt, n, 1.0f);
    t->aux_value = gd_classifier_consistency(m, out, x, ac, t->aux_keep, targets,
                                             (int)t->c.sched.prediction, t->c.aux_weight,
                                             t->aux_dout);
}

float gd_trainer_aux_loss(const gd_trainer *t) { return t->aux ? t->aux_value : NAN; }

gd_status gd_trainer_step(gd_trainer *t, float *loss, float *grad_norm, gd_error *err) {
    const gd_dataset *d = t->d;
    const int B = t->c.batch;
    const size_t item = (size_t)d->c * d->h * d->w;
    float *x = gd_data(t->g, t->io.x), *tt = gd_data(t->g, t->io.t);
    float *tgt = gd_data(t->g, t->target);
    float *cls = t->io.cls >= 0 ? gd_data(t->g, t->io.cls) : NULL;
    gd_rng r;
    stream_seed(&r, t->c.seed, STREAM_STEP, t->step);
    /* the global batch of ranks * B items is drawn in full on every rank, in one fixed order
     * (timestep, noise, condition dropout per item); this rank keeps items lo .. lo + B - 1 */
    const int lo = t->rank * B, GB = B * t->ranks;
    const int64_t base = t->step * (int64_t)GB;
    for (int g = 0; g < GB; g++) {
        const int i = g - lo, mine = i >= 0 && i < B;
        int k = data_item(t, base + g);
        const float *x0 = d->images + (size_t)k * item;
        int ts = (int)gd_rng_below(&r, (uint64_t)t->sched.n);
        float ac = t->sched.alphas_cumprod[ts];
        gd_rng_fill_normal(&r, mine ? t->eps : t->skip_x, item, 0.0f, 1.0f);
        if (mine) {
            gd_add_noise(x + i * item, x0, t->eps, item, ac);
            gd_training_target(tgt + i * item, x0, t->eps, item, ac, t->c.sched.prediction);
            tt[i] = (float)ts;
        }
        double u = gd_rng_uniform(&r);
        if (t->aux_keep && mine) t->aux_keep[i] = !(u < t->c.cond_drop);
        if (t->cnd) { /* then the components (posterior draws) and their noise */
            int A = t->cnd->n_attrs;
            int *rows = mine ? t->rows + (size_t)i * (size_t)A : t->skip_rows;
            float *ci = mine ? cls + (size_t)i * (size_t)t->cnd->dim : t->skip_c;
            if (u < t->c.cond_drop) {
                for (int a = 0; a < A; a++) rows[a] = t->cnd->attrs[a].null_row;
                gd_condition_compose(t->cnd, t->cmu, rows, NULL, ci);
            } else {
                gd_condition_item_rows(t->cnd, d, t->attr_map, k, &r, rows);
                gd_condition_compose(t->cnd, t->cmu, rows, &r, ci);
            }
        } else if (cls && mine) {
            cls[i] = (float)(u < t->c.cond_drop ? t->null_class : d->cls[k]);
        }
    }
    gd_graph_forward(t->g);
    float l = gd_data(t->g, t->loss)[0];
    /* one rank alone: stop at once; several: every rank reaches the sum, then all stop */
    if (!isfinite(l) && t->ranks == 1)
        return gd_error_set(err, GD_ERR_NUMERIC, "step %lld: the loss is %f; stopped before "
                            "updating the weights", (long long)t->step + 1, (double)l);
    gd_graph_zero_grad(t->g);
    if (t->aux) {
        aux_gradient(t, tt);
        if (!isfinite(t->aux_value) && t->ranks == 1)
            return gd_error_set(err, GD_ERR_NUMERIC, "step %lld: the consistency term is %f; "
                                "stopped before updating the weights", (long long)t->step + 1,
                                (double)t->aux_value);
        gd_graph_backward_seed(t->g, t->io.out, t->aux_dout);
    } else {
        gd_graph_backward(t->g, t->loss);
    }
    size_t P;
    float *p = gd_graph_params(t->g, &P), *gr = gd_graph_param_grads(t->g, NULL);
    float norm;
    /* d c / d mu_r = I for every row r composed into c */
    if (t->cnd) gd_condition_backward(t->cnd, t->rows, B, gd_grad(t->g, t->io.cls), t->cgrad);
    if (t->ranks > 1) {
        gd_status s = sum_ranks(t, gr, &l, err);
        if (s) return s;
        if (!isfinite(l))
            return gd_error_set(err, GD_ERR_NUMERIC, "step %lld: the loss (mean over %d ranks) "
                                "is %f; stopped before updating the weights",
                                (long long)t->step + 1, t->ranks, (double)l);
        if (t->aux && !isfinite(t->aux_value))
            return gd_error_set(err, GD_ERR_NUMERIC, "step %lld: the consistency term (mean over "
                                "%d ranks) is %f; stopped before updating the weights",
                                (long long)t->step + 1, t->ranks, (double)t->aux_value);
    }
    if (t->cnd) {
        /* one global norm over the UNet's and the means' gradients */
        double ss = 0;
        for (size_t j = 0; j < P; j++) ss += (double)gr[j] * gr[j];
        for (size_t j = 0; j < t->CP; j++) ss += (double)t->cgrad[j] * t->cgrad[j];
        norm = (float)sqrt(ss);
        if (t->c.clip > 0 && isfinite(norm)) {
            float coef = t->c.clip / (norm + 1e-6f);
            if (coef < 1.0f) {
                for (size_t j = 0; j < P; j++) gr[j] *= coef;
                for (size_t j = 0; j < t->CP; j++) t->cgrad[j] *= coef;
            }
        }
    } else {
        norm = gd_clip_grad_norm(gr, P, t->c.clip > 0 ? t->c.clip : INFINITY);
    }
    if (!isfinite(norm))
        return gd_error_set(err, GD_ERR_NUMERIC, "step %lld: the gradient norm is %f; stopped "
                            "before updating the weights", (long long)t->step + 1, (double)norm);
    gd_adamw_config ac = {gd_train_lr(&t->c, t->step + 1), t->c.beta1, t->c.beta2,
                          t->c.adam_eps, t->c.weight_decay};
    gd_adamw_step(p, gr, t->m, t->v, P, t->step + 1, &ac);
    float decay = gd_ema_decay(t->step + 1, t->c.ema_max_decay, 0.0f, 0, 1, 1.0f, t->c.ema_power);
    gd_ema_update(t->ema, p, P, decay);
    if (t->cnd) {
        gd_adamw_step(t->cmu, t->cgrad, t->cm, t->cv, t->CP, t->step + 1, &ac);
        gd_ema_update(t->cema, t->cmu, t->CP, decay);
    }
    t->step++;
    if (loss) *loss = l;
    if (grad_norm) *grad_norm = norm;
    return GD_OK;
}

int64_t gd_trainer_steps_done(const gd_trainer *t) { return t->step; }
float gd_trainer_lr(const gd_trainer *t) { return gd_train_lr(&t->c, t->step + 1); }
const float *gd_trainer_ema(const gd_trainer *t, size_t *n) {
    if (n) *n = t->P;
    return t->ema;
}
int gd_trainer_null_class(const gd_trainer *t) { return t->null_class; }
const gd_condition *gd_trainer_condition(const gd_trainer *t, const float **ema_means) {
    if (ema_means) *ema_means = t->cema;
    return t->cnd;
}

gd_status gd_trainer_save(const gd_trainer *t, const char *run_dir, gd_error *err) {
    char path[4200], mdir[4100];
    snprintf(mdir, sizeof mdir, "%s/model", run_dir);
    if (mkdir(mdir, 0755) != 0) {
        struct stat sb;
        if (stat(mdir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return gd_error_set(err, GD_ERR_IO, "%s: cannot create the model folder", mdir);
    }
    /* the model folder holds the EMA weights: swap them in, save, swap back */
    float *p = gd_graph_params(t->g, NULL);
    float *keep = gd_malloc(sizeof(float) * t->P);
    if (!keep) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", run_dir);
    memcpy(keep, p, sizeof(float) * t->P);
    memcpy(p, t->ema, sizeof(float) * t->P);
    gd_status s = gd_unet_save(t->g, &t->u, mdir, err);
    memcpy(p, keep, sizeof(float) * t->P);
    gd_free(keep);
    snprintf(path, sizeof path, "%s/scheduler_config.json", mdir);
    if (!s) s = gd_scheduler_config_save(&t->c.sched, path, err);
    if (!s && t->cnd) s = gd_condition_save(t->cnd, t->cema, mdir, err);
    if (s) return s;
    char *cfg = gd_train_config_json(&t->c, &t->u, t->d);
    if (!cfg) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", run_dir);
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)t->step);
    const char *keys[4] = {"format", "version", "step", "config"};
    const char *vals[4] = {STATE_FORMAT, STATE_VERSION, step, cfg};
    int64_t shape[1] = {(int64_t)t->P}, cshape[1] = {(int64_t)t->CP};
    gd_st_entry e[8] = {{"params", p, 1, shape},          {"adam_m", t->m, 1, shape},
                        {"adam_v", t->v, 1, shape},       {"ema", t->ema, 1, shape},
                        {"cond_means", t->cmu, 1, cshape}, {"cond_adam_m", t->cm, 1, cshape},
                        {"cond_adam_v", t->cv, 1, cshape}, {"cond_ema", t->cema, 1, cshape}};
    snprintf(path, sizeof path, "%s/state.safetensors", run_dir);
    s = gd_st_write_meta(path, e, t->cnd ? 8 : 4, keys, vals, 4, err);
    free(cfg);
    return s;
}

/* the first key whose value differs between two configuration texts, ignoring `steps` */
static gd_status compare_config(const char *want, const char *have, const char *path,
                                gd_error *err) {
    gd_train_config a, b;
    gd_train_config_default(&a);
    gd_train_config_default(&b);
    gd_status s = gd_train_config_from_json(&a, want, "this run's configuration", err);
    if (!s) s = gd_train_config_from_json(&b, have, path, err);
    if (s) return s;
    char *ta, *tb;
    a.steps = b.steps = 0;
    ta = gd_train_config_json(&a, NULL, NULL);
    tb = gd_train_config_json(&b, NULL, NULL);
    int same = ta && tb && !strcmp(ta, tb);
    free(ta);
    free(tb);
    if (!same)
        return gd_error_set(err, GD_ERR_ARG, "%s: was written by a run with another training "
                            "configuration (only --steps may change on resume)", path);
    return GD_OK;
}

gd_status gd_trainer_resume(gd_trainer *t, const char *run_dir, gd_error *err) {
    char path[4200], buf[32];
    snprintf(path, sizeof path, "%s/state.safetensors", run_dir);
    gd_safetensors st;
    gd_status s = gd_st_open(&st, path, err);
    if (s) return s;
    const char *fmt = gd_st_meta(&st, "format", buf, sizeof buf);
    if (!fmt || strcmp(fmt, STATE_FORMAT) || !gd_st_meta(&st, "version", buf, sizeof buf) ||
        strcmp(buf, STATE_VERSION)) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: not a gmmdiff training state of version "
                         STATE_VERSION, path);
        goto done;
    }
    char *end;
    long long step = gd_st_meta(&st, "step", buf, sizeof buf) ? strtoll(buf, &end, 10) : -1;
    /* at most the largest `steps` a configuration takes (train_config.c): near INT64_MAX the
     * step arithmetic of the next step (step + 1, step * batch) would overflow */
    if (step < 0 || *end || step > 1000000000) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: missing or bad 'step' in the metadata", path);
        goto done;
    }
    size_t cap = st.file_size;
    char *have = malloc(cap), *want = gd_train_config_json(&t->c, &t->u, t->d);
    if (!have || !want || !gd_st_meta(&st, "config", have, cap))
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: missing 'config' in the metadata", path);
    else s = compare_config(want, have, path, err);
    free(have);
    free(want);
    if (s) goto done;
    int64_t shape[1] = {(int64_t)t->P};
    float *p = gd_graph_params(t->g, NULL);
    if ((s = gd_st_read_f32(&st, "params", p, 1, shape, err)) ||
        (s = gd_st_read_f32(&st, "adam_m", t->m, 1, shape, err)) ||
        (s = gd_st_read_f32(&st, "adam_v", t->v, 1, shape, err)) ||
        (s = gd_st_read_f32(&st, "ema", t->ema, 1, shape, err)))
        goto done;
    if (t->cnd) {
        int64_t cshape[1] = {(int64_t)t->CP};
        if ((s = gd_st_read_f32(&st, "cond_means", t->cmu, 1, cshape, err)) ||
            (s = gd_st_read_f32(&st, "cond_adam_m", t->cm, 1, cshape, err)) ||
            (s = gd_st_read_f32(&st, "cond_adam_v", t->cv, 1, cshape, err)) ||
            (s = gd_st_read_f32(&st, "cond_ema", t->cema, 1, cshape, err)))
            goto done;
    }
    t->step = step;
done:
    gd_st_close(&st);
    return s;
}

gd_status gd_trainer_sample(const gd_trainer *t, int n, const int *cls, float cfg, int steps,
                            uint64_t seed, float *x, gd_error *err) {
    GD_ASSERT(t && n > 0 && steps > 0 && x);
    const gd_dataset *d = t->d;
    gd_graph *g = gd_graph_new();
    gd_unet_io io = gd_unet_declare(g, &t->u, n, d->h, d->w);
    float *cond = NULL, *null = NULL;
    gd_status s = gd_graph_plan_inference(g, err);
    if (s) goto done;
    size_t P;
    float *p = gd_graph_params(g, &P);
    GD_ASSERT(P == t->P);
    memcpy(p, t->ema, sizeof(float) * P);
    if (t->cnd) { /* each sample the mean condition of one class's attribute values */
        size_t D = (size_t)t->cnd->dim;
        cond = malloc(sizeof(float) * (size_t)n * D);
        null = malloc(sizeof(float) * (size_t)n * D);
        int *rep = malloc(sizeof(int) * (size_t)d->n_classes), rows[GD_DATA_MAX_ATTRS];
        if (!cond || !null || !rep) {
            free(rep);
            s = gd_error_set(err, GD_ERR_NOMEM, "sampling: out of memory");
            goto done;
        }
        gd_dataset_class_firsts(d, rep);
        for (int i = 0; i < n; i++) {
            int k = cls ? cls[i] : (int)((int64_t)i * d->n_classes / n);
            GD_ASSERT(k >= 0 && k < d->n_classes);
            int item = rep[k] >= 0 ? rep[k] : 0; /* a class the data lacks: its first item's */
            gd_condition_item_rows(t->cnd, d, t->attr_map, item, NULL, rows);
            gd_condition_compose(t->cnd, t->cema, rows, NULL, cond + (size_t)i * D);
            gd_condition_null(t->cnd, t->cema, null + (size_t)i * D);
        }
        free(rep);
    } else if (io.cls >= 0) {
        cond = malloc(sizeof(float) * (size_t)n);
        null = malloc(sizeof(float) * (size_t)n);
        if (!cond || !null) {
            s = gd_error_set(err, GD_ERR_NOMEM, "sampling: out of memory");
            goto done;
        }
        for (int i = 0; i < n; i++) {
            int k = cls ? cls[i] : (int)((int64_t)i * d->n_classes / n);
            GD_ASSERT(k >= 0 && k < d->n_classes);
            cond[i] = (float)k;
            null[i] = (float)t->null_class;
        }
    }
    gd_sampler_config sc = gd_sampler_for_model(GD_SAMPLER_DDIM, &t->c.sched, steps);
    gd_guidance guide = {cfg, 0.0f};
    gd_rng r;
    gd_rng_seed(&r, seed);
    s = gd_unet_sample(g, &io, &sc, &t->sched, cond, null, &guide, x, &r, err);
done:
    free(cond);
    free(null);
    gd_graph_free(g);
    return s;
}

void gd_trainer_poison(gd_trainer *t) { gd_graph_params(t->g, NULL)[0] = NAN; }
