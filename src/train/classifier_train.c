/* classifier_train.c - training, prediction and accuracy of the attribute classifier. */
#include "gmmdiff/classifier.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_classifier_train_opts gd_classifier_train_defaults(void) {
    gd_classifier_train_opts o = {0};
    o.steps = 1500;
    o.batch = 64;
    o.lr = 2e-3f;
    o.weight_decay = 0.0f;
    o.seed = 0;
    o.noisy = 0;
    o.log_every = 0;
    return o;
}

/* one-hot targets of item i into row */
static void fill_target(const gd_classifier_config *c, const gd_dataset *d, int i, float *row) {
    int off = 0;
    for (int h = 0; h < c->n_heads; h++) {
        int v = d->labels[(size_t)i * (size_t)d->n_attrs + (size_t)c->head_attr[h]];
        for (int k = 0; k < c->head_values[h]; k++) row[off + k] = k == v ? 1.0f : 0.0f;
        off += c->head_values[h];
    }
}

gd_status gd_classifier_train(gd_classifier *m, const gd_dataset *d,
                              const gd_classifier_train_opts *o, float *final_loss,
                              gd_error *err) {
    gd_status s = gd_classifier_bind(&m->config, d, err);
    if (s) return s;
    if (o->batch != m->batch)
        return gd_error_set(err, GD_ERR_ARG, "classifier: planned for batch %d, trained with %d",
                            m->batch, o->batch);
    if (o->noisy && !m->config.time_cond)
        return gd_error_set(err, GD_ERR_ARG, "classifier: noisy training needs time_cond");
    gd_noise_schedule sched = {0};
    if (o->noisy && (s = gd_schedule_init(&sched, GD_BETA_LINEAR, 1000, 1e-4f, 0.02f, err)))
        return s;
    size_t np;
    float *p = gd_graph_params(m->g, &np), *gr = gd_graph_param_grads(m->g, NULL);
    float *am = calloc(np, sizeof(float)), *av = calloc(np, sizeof(float));
    int *perm = malloc(sizeof(int) * (size_t)d->n);
    size_t img = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    float *eps = malloc(sizeof(float) * img);
    if (!am || !av || !perm || !eps) {
        s = gd_error_set(err, GD_ERR_NOMEM, "classifier: out of memory");
        goto done;
    }
    gd_adamw_config ac = gd_adamw_defaults();
    ac.weight_decay = o->weight_decay;
    float *x = gd_data(m->g, m->io.x), *tgt = gd_data(m->g, m->io.target);
    float *tt = m->config.time_cond ? gd_data(m->g, m->io.t) : NULL;
    int n_out = gd_classifier_n_out(&m->config), pos = d->n, epoch = -1;
    double loss_sum = 0;
    int loss_n = 0;
    const int warmup = o->steps < 1000 ? o->steps / 10 : 100;
    for (int step = 1; step <= o->steps; step++) {
        gd_rng r;
        gd_rng_seed(&r, gd_mix64(o->seed * 0x100000001b3ull + (uint64_t)step));
        for (int b = 0; b < m->batch; b++) {
            if (pos == d->n) { /* a new epoch: its own permutation */
                gd_rng pr;
                gd_rng_seed(&pr, gd_mix64(o->seed ^ gd_mix64((uint64_t)++epoch + 7)));
                gd_rng_permutation(&pr, perm, d->n);
                pos = 0;
            }
            int i = perm[pos++];
            const float *x0 = d->images + (size_t)i * img;
            float *xb = x + (size_t)b * img;
            if (o->noisy) {
                int t = (int)gd_rng_below(&r, 1000);
                gd_rng_fill_normal(&r, eps, img, 0.0f, 1.0f);
                gd_add_noise(xb, x0, eps, img, sched.alphas_cumprod[t]);
                tt[b] = (float)t;
            } else {
                memcpy(xb, x0, sizeof(float) * img);
                if (tt) tt[b] = 0.0f;
            }
            fill_target(&m->config, d, i, tgt + (size_t)b * (size_t)n_out);
        }
        gd_graph_forward(m->g);
        float loss = gd_data(m->g, m->io.loss)[0];
        if (!isfinite(loss)) {
            s = gd_error_set(err, GD_ERR_NUMERIC, "classifier: loss is %g at step %d", loss, step);
            goto done;
        }
        gd_graph_zero_grad(m->g);
        gd_graph_backward(m->g, m->io.loss);
        float gn = gd_clip_grad_norm(gr, np, 1.0f);
        if (o->loss_log) o->loss_log[step - 1] = loss;
        if (o->gnorm_log) o->gnorm_log[step - 1] = gn;
        float prog = step <= warmup ? (float)step / (float)(warmup > 0 ? warmup : 1)
                                    : 0.5f * (1.0f + cosf(3.14159265f * (float)(step - warmup) /
                                                          (float)(o->steps - warmup + 1)));
        ac.lr = o->lr * prog;
        gd_adamw_step(p, gr, am, av, np, step, &ac);
        if (step > o->steps - 50) {
            loss_sum += loss;
            loss_n++;
        }
        if (o->log_every && step % o->log_every == 0)
            printf("classifier step %d/%d loss %.5f\n", step, o->steps, loss);
    }
    if (final_loss) *final_loss = loss_n ? (float)(loss_sum / loss_n) : NAN;
done:
    gd_schedule_free(&sched);
    free(am);
    free(av);
    free(perm);
    free(eps);
    return s;
}

float gd_classifier_consistency(gd_classifier *m, const float *out, const float *xt,
                                const float *ac, const int *keep, const float *targets, int pred,
                                float weight, float *dout) {
    const gd_classifier_config *cc = &m->config;
    const int B = m->batch, n_out = gd_classifier_n_out(cc);
    const size_t item = (size_t)cc->in_channels * cc->sample_size * cc->sample_size;
    float *cx = gd_data(m->g, m->io.x), *ct = gd_data(m->g, m->io.target);
    GD_ASSERT(B <= GD_CONSISTENCY_MAX_BATCH);
    for (int i = 0; i < B; i++)
        gd_prediction_to_x0_eps(cx + i * item, NULL, out + i * item, xt + i * item, item, ac[i],
                                (gd_prediction)pred);
    if (ct != targets) memcpy(ct, targets, sizeof(float) * (size_t)B * n_out);
    if (cc->time_cond) memset(gd_data(m->g, m->io.t), 0, sizeof(float) * (size_t)B);
    float value = gd_classifier_input_grad(m);
    const float *gx = gd_grad(m->g, m->io.x);
    for (int i = 0; i < B; i++) {
        if (!keep[i]) continue;
        double a = ac[i], chain; /* alpha_bar_t * d x0 / d out */
        switch ((gd_prediction)pred) {
        case GD_PRED_EPSILON: chain = -sqrt(1.0 - a) * sqrt(a); break;
        case GD_PRED_V: chain = -sqrt(1.0 - a) * a; break;
        default: chain = a; break;
        }
        const float w = (float)(weight * chain);
        for (size_t j = i * item; j < (i + 1) * item; j++) dout[j] += w * gx[j];
    }
    return value;
}

/* forwards images [start, start + nb) (nb <= batch; the rest of the batch zero) at timesteps
 * t (NULL: 0) */
static void forward_chunk(gd_classifier *m, const float *images, const float *t, int start,
                          int nb) {
    const gd_classifier_config *c = &m->config;
    size_t img = (size_t)c->in_channels * (size_t)c->sample_size * (size_t)c->sample_size;
    float *x = gd_data(m->g, m->io.x);
    float *tt = c->time_cond ? gd_data(m->g, m->io.t) : NULL;
    memcpy(x, images + (size_t)start * img, sizeof(float) * img * (size_t)nb);
    if (nb < m->batch) memset(x + img * (size_t)nb, 0, sizeof(float) * img * (size_t)(m->batch - nb));
    if (tt)
        for (int b = 0; b < m->batch; b++) tt[b] = t && b < nb ? t[start + b] : 0.0f;
    gd_graph_forward(m->g);
}

void gd_classifier_features(gd_classifier *m, const float *images, int n, float *out) {
    const int F = m->config.hidden;
    const float *f = gd_data(m->g, m->io.features);
    for (int start = 0; start < n; start += m->batch) {
        int nb = n - start < m->batch ? n - start : m->batch;
        forward_chunk(m, images, NULL, start, nb);
        memcpy(out + (size_t)start * F, f, sizeof(float) * (size_t)nb * F);
    }
}

void gd_classifier_predict(gd_classifier *m, const float *images, const float *t, int n,
                           int *pred) {
    const gd_classifier_config *c = &m->config;
    const float *lg = gd_data(m->g, m->io.logits);
    int n_out = gd_classifier_n_out(c);
    for (int start = 0; start < n; start += m->batch) {
        int nb = n - start < m->batch ? n - start : m->batch;
        forward_chunk(m, images, t, start, nb);
        for (int b = 0; b < nb; b++) {
            const float *row = lg + (size_t)b * (size_t)n_out;
            int off = 0;
            for (int h = 0; h < c->n_heads; h++) {
                int best = 0;
                for (int k = 1; k < c->head_values[h]; k++)
                    if (row[off + k] > row[off + best]) best = k;
                pred[(size_t)(start + b) * (size_t)c->n_heads + (size_t)h] = best;
                off += c->head_values[h];
            }
        }
    }
}

static gd_status accuracy(gd_classifier *m, const gd_dataset *d, int max_n, int t, uint64_t seed,
                          double *acc, gd_error *err) {
    gd_status s = gd_classifier_bind(&m->config, d, err);
    if (s) return s;
    int n = max_n > 0 && max_n < d->n ? max_n : d->n, H = m->config.n_heads;
    const size_t img = (size_t)d->c * d->h * d->w;
    const int noisy = t >= 0;
    int *pred = malloc(sizeof(int) * (size_t)n * (size_t)H);
    float *xt = noisy ? malloc(sizeof(float) * img * (size_t)n) : NULL;
    float *tv = noisy ? malloc(sizeof(float) * (size_t)n) : NULL;
    float *eps = noisy ? malloc(sizeof(float) * img) : NULL;
    gd_noise_schedule sched = {0};
    if (!pred || (noisy && (!xt || !tv || !eps))) {
        s = gd_error_set(err, GD_ERR_NOMEM, "classifier: out of memory");
        goto done;
    }
    if (noisy) { /* every item as x_t, its own noise from one seeded stream */
        if ((s = gd_schedule_init(&sched, GD_BETA_LINEAR, 1000, 1e-4f, 0.02f, err))) goto done;
        gd_rng r;
        gd_rng_seed(&r, seed);
        for (int i = 0; i < n; i++) {
            gd_rng_fill_normal(&r, eps, img, 0.0f, 1.0f);
            gd_add_noise(xt + (size_t)i * img, d->images + (size_t)i * img, eps, img,
                         sched.alphas_cumprod[t]);
            tv[i] = (float)t;
        }
    }
    gd_classifier_predict(m, noisy ? xt : d->images, tv, n, pred);
    for (int h = 0; h < H; h++) {
        int right = 0;
        for (int i = 0; i < n; i++)
            right += pred[(size_t)i * (size_t)H + (size_t)h] ==
                     d->labels[(size_t)i * (size_t)d->n_attrs + (size_t)m->config.head_attr[h]];
        acc[h] = (double)right / n;
    }
done:
    gd_schedule_free(&sched);
    free(pred);
    free(xt);
    free(tv);
    free(eps);
    return s;
}

gd_status gd_classifier_accuracy(gd_classifier *m, const gd_dataset *d, int max_n, double *acc,
                                 gd_error *err) {
    return accuracy(m, d, max_n, -1, 0, acc, err);
}

gd_status gd_classifier_accuracy_noisy(gd_classifier *m, const gd_dataset *d, int max_n, int t,
                                       uint64_t seed, double *acc, gd_error *err) {
    if (t < 0 || t >= 1000)
        return gd_error_set(err, GD_ERR_ARG, "noisy accuracy: timestep %d is not in [0, 1000)", t);
    return accuracy(m, d, max_n, t, seed, acc, err);
}
