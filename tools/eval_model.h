/* eval_model.h - a trained run's model opened for evaluation: its UNet and scheduler configs,
 * its condition (feature, cluster and class-component models: model/condition.json and
 * condition.safetensors), then a graph planned for a batch with the weights loaded. Shared by
 * every `gmmdiff eval` path. */
#ifndef GMMDIFF_EVAL_MODEL_H
#define GMMDIFF_EVAL_MODEL_H

#include "gmmdiff/condition.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/unet.h"

typedef struct gd_eval_model {
    char dir[4200];          /* run_dir/model */
    gd_unet_config u;
    gd_scheduler_config schc;
    int has_condition;       /* identity class embedding: cnd and means are loaded */
    gd_condition cnd;
    float *means;
    gd_graph *g;             /* after gd_eval_model_plan */
    gd_unet_io io;
    gd_noise_schedule sched;
    int batch;
} gd_eval_model;

/* the configs and the condition; no graph yet (so callers can check the model first) */
gd_status gd_eval_model_load(gd_eval_model *m, const char *run_dir, gd_error *err);
/* the graph for `batch` images, the weights, the noise schedule */
gd_status gd_eval_model_plan(gd_eval_model *m, int batch, gd_error *err);
void gd_eval_model_close(gd_eval_model *m); /* safe on a zeroed or closed model */

#endif
