/* eval_model.c - a trained run's model opened for evaluation (eval_model.h). */
#include "eval_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_status gd_eval_model_load(gd_eval_model *m, const char *run_dir, gd_error *err) {
    memset(m, 0, sizeof *m);
    char path[4400];
    snprintf(m->dir, sizeof m->dir, "%s/model", run_dir);
    snprintf(path, sizeof path, "%s/config.json", m->dir);
    gd_status s = gd_unet_config_load(&m->u, path, err);
    if (s) return s;
    snprintf(path, sizeof path, "%s/scheduler_config.json", m->dir);
    if ((s = gd_scheduler_config_load(&m->schc, path, err))) return s;
    m->has_condition = m->u.class_embed == GD_CLASS_EMBED_IDENTITY;
    if (m->has_condition) s = gd_condition_load(&m->cnd, &m->means, m->dir, err);
    return s;
}

gd_status gd_eval_model_plan(gd_eval_model *m, int batch, gd_error *err) {
    m->batch = batch;
    m->g = gd_graph_new();
    if (!m->g) return gd_error_set(err, GD_ERR_NOMEM, "evaluation: out of memory");
    m->io = gd_unet_declare(m->g, &m->u, batch, m->u.sample_size, m->u.sample_size);
    gd_status s;
    if ((s = gd_graph_plan_inference(m->g, err)) ||
        (s = gd_unet_load_weights(m->g, m->dir, err)) ||
        (s = gd_schedule_from_config(&m->sched, &m->schc, err)))
        return s;
    return GD_OK;
}

void gd_eval_model_close(gd_eval_model *m) {
    if (!m) return;
    free(m->means);
    gd_schedule_free(&m->sched);
    gd_graph_free(m->g);
    memset(m, 0, sizeof *m);
}
