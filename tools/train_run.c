/* train_run.c - the run directory of `gmmdiff train` and its loop: steps, metrics, progress,
 * checkpoints, sample grids, clean stops (see train_run.h). */
#include "train_run.h"
#include "gmmdiff/image.h"
#include "gmmdiff/metrics.h"
#include "gmmdiff/progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

gd_train_run_opts gd_train_run_defaults(void) {
    gd_train_run_opts o = {250, -1, 10, 16, 50, GD_RUN_PROGRESS_AUTO, NULL, 0, 0, 0, 1, NULL, NULL};
    return o;
}

gd_status gd_run_progress_parse(const char *s, gd_run_progress *out) {
    const char *names[] = {"auto", "bar", "plain", "none"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = (gd_run_progress)i;
            return GD_OK;
        }
    return GD_ERR_ARG;
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

gd_status gd_train_run_create(const char *dir, const gd_train_config *c, const gd_cli_data *ds,
                              const gd_unet_config *u, const gd_dataset *d, gd_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/run.json", dir);
    if (exists(path))
        return gd_error_set(err, GD_ERR_ARG, "%s already holds a run: continue it with --resume "
                            "%s, or choose another --out", dir, dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return gd_error_set(err, GD_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
    gd_status s = gd_unet_config_validate(u, "the model configuration", err);
    if (s) return s;
    char *text = gd_train_config_json(c, u, d);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!o) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    json_object_set_new(o, "data_source", gd_cli_data_json(ds));
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(o);
    s = gd_write_text_atomic(path, text, err);
    free(text);
    return s;
}

gd_status gd_train_run_read(const char *dir, gd_train_config *c, gd_cli_data *ds,
                            gd_unet_config *u, gd_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/run.json", dir);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return exists(path) ? gd_error_set(err, GD_ERR_FORMAT, "%s: not a JSON object (%s)", path,
                                           je.text)
                            : gd_error_set(err, GD_ERR_IO, "%s: cannot open: no run to resume "
                                           "there", path);
    }
    gd_status s = GD_OK;
    json_t *src = json_object_get(o, "data_source");
    json_object_del(o, "unet"); /* the model's own config.json is authoritative */
    json_object_del(o, "data");
    if (!src) s = gd_error_set(err, GD_ERR_FORMAT, "%s: 'data_source' is missing", path);
    else s = gd_cli_data_from_json(ds, src, path, err);
    if (!s) {
        json_incref(src);
        json_object_del(o, "data_source");
        char *text = json_dumps(o, 0);
        s = text ? gd_train_config_from_json(c, text, path, err)
                 : gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
        free(text);
        json_decref(src);
    }
    json_decref(o);
    if (s) return s;
    snprintf(path, sizeof path, "%s/model/config.json", dir);
    return gd_unet_config_load(u, path, err);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static gd_status write_grid(const gd_trainer *t, const gd_dataset *d, const char *dir,
                            const gd_train_run_opts *o, gd_error *err) {
    char path[4300];
    snprintf(path, sizeof path, "%s/samples", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return gd_error_set(err, GD_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    int n = o->n_samples;
    float *x = malloc(sizeof(float) * (size_t)n * d->c * d->h * d->w);
    if (!x) return gd_error_set(err, GD_ERR_NOMEM, "sampling: out of memory");
    gd_status s = gd_trainer_sample(t, n, NULL, 1.0f, o->sample_steps, 1234, x, err);
    snprintf(path, sizeof path, "%s/samples/step_%06lld.png", dir,
             (long long)gd_trainer_steps_done(t));
    if (!s) s = gd_png_write_grid(path, x, n, d->c, d->h, d->w, (int)ceil(sqrt((double)n)), err);
    free(x);
    return s;
}

int gd_train_run(const char *dir, const gd_train_config *c, const gd_unet_config *u,
                 const gd_dataset *d, int resume, const gd_train_run_opts *o, gd_error *err) {
    gd_trainer *t = NULL;
    gd_metrics *m = NULL;
    int rc = 1;
    gd_run_progress mode = o->progress;
    gd_progress pr;
    int pr_on = 0;
    const int lead = o->rank == 0, ranks = o->ranks > 1 ? o->ranks : 1;
    if (!lead) mode = GD_RUN_PROGRESS_NONE;
    if (gd_trainer_new(&t, c, u, d, err)) goto done;
    if (ranks > 1 && gd_trainer_set_ranks(t, o->rank, ranks, o->sum, o->sum_ctx, err)) goto done;
    char state[4200];
    snprintf(state, sizeof state, "%s/state.safetensors", dir);
    if (resume && exists(state)) {
        if (gd_trainer_resume(t, dir, err)) goto done;
        if (lead && gd_metrics_truncate_after(dir, gd_trainer_steps_done(t), err)) goto done;
    } else if (lead && gd_trainer_save(t, dir, err)) {
        goto done;
    }
    if (lead && gd_metrics_open(&m, dir, resume, err)) goto done;
    int64_t start = gd_trainer_steps_done(t), last_ckpt = start;
    if (mode != GD_RUN_PROGRESS_NONE && start > 0)
        fprintf(stderr, "resuming %s at step %lld of %d\n", dir, (long long)start, c->steps);
    if (mode != GD_RUN_PROGRESS_NONE) {
        gd_progress_begin(&pr, stderr, c->steps, start,
                          mode == GD_RUN_PROGRESS_AUTO ? GD_PROGRESS_AUTO
                                                       : mode == GD_RUN_PROGRESS_BAR);
        pr_on = 1;
    }
    double t0 = now_s(), t_log = t0, loss_sum = 0, its = 0;
    int64_t n_log = 0, s_log = start;
    float loss = 0, gnorm = 0;
    rc = 0;
    /* GMMDIFF_FAULT_NAN_STEP=N (tests): a NaN parameter before step N */
    const char *fault = getenv("GMMDIFF_FAULT_NAN_STEP");
    int64_t nan_step = fault ? atoll(fault) : -1;
    while (gd_trainer_steps_done(t) < c->steps) {
        float lr = gd_trainer_lr(t);
        if (gd_trainer_steps_done(t) + 1 == nan_step && o->rank == ranks - 1)
            gd_trainer_poison(t);
        if (ranks > 1 && o->stop_flag && *o->stop_flag) gd_trainer_vote_stop(t);
        if (gd_trainer_step(t, &loss, &gnorm, err)) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            gd_error_set(err, err->status, "%.400s; the last checkpoint (step %lld) is kept",
                         msg, (long long)last_ckpt);
            rc = 1;
            break;
        }
        int64_t step = gd_trainer_steps_done(t);
        loss_sum += loss;
        n_log++;
        if (pr_on) {
            char extra[48];
            snprintf(extra, sizeof extra, "lr %.2g", (double)lr);
            gd_progress_update(&pr, step, loss, extra);
        }
        /* across ranks, a signal on any rank stops every rank after the same step */
        int last = step == c->steps;
        int stop = ranks > 1 ? gd_trainer_stop_voted(t) : o->stop_flag && *o->stop_flag;
        int halt = !last && o->stop_at > 0 && step >= o->stop_at;
        if (step % o->log_every == 0 || last || stop || halt) {
            double now = now_s();
            its = (step - s_log) / (now - t_log > 1e-9 ? now - t_log : 1e-9);
            const char *names[6] = {"loss", "lr", "grad_norm", "it_per_s", "elapsed_s",
                                    "aux_loss"};
            double vals[6] = {loss_sum / n_log, lr, gnorm, its, now - t0, gd_trainer_aux_loss(t)};
            if (lead && gd_metrics_log(m, step, names, vals, c->aux_weight > 0 ? 6 : 5, err)) {
                rc = 1;
                break;
            }
            loss_sum = 0;
            n_log = 0;
            t_log = now;
            s_log = step;
        }
        if (step % o->ckpt_every == 0 || last || stop || halt) {
            if (lead && gd_trainer_save(t, dir, err)) {
                rc = 1;
                break;
            }
            last_ckpt = step;
        }
        int sample_every = o->sample_every < 0 ? o->ckpt_every : o->sample_every;
        if (lead && sample_every > 0 && (step % sample_every == 0 || last)) {
            if (write_grid(t, d, dir, o, err)) {
                rc = 1;
                break;
            }
        }
        if (stop) {
            if (lead && ranks == 1)
                fprintf(stderr, "stopped by signal %d at step %lld; checkpoint written, continue "
                                "with: gmmdiff train --resume %s\n", (int)*o->stop_flag,
                        (long long)step, dir);
            else if (lead)
                fprintf(stderr, "stopped by a signal to one of the %d ranks at step %lld; "
                                "checkpoint written, continue with: gmmdiff train --resume %s\n",
                        ranks, (long long)step, dir);
            rc = 130;
            break;
        }
        if (halt) {
            if (!o->quiet && lead)
                printf("stopped %s at step %lld of %d (--stop-at); continue with: gmmdiff train "
                       "--resume %s\n", dir, (long long)step, c->steps, dir);
            rc = 2;
            break;
        }
    }
    if (pr_on) gd_progress_end(&pr);
    if (rc == 0 && !o->quiet && lead)
        printf("trained %s to step %lld (%.1f s); model in %s/model\n", dir,
               (long long)gd_trainer_steps_done(t), now_s() - t0, dir);
    if (rc == 2) rc = 0; /* --stop-at reached */
done:
    gd_metrics_close(m);
    gd_trainer_free(t);
    return rc;
}
