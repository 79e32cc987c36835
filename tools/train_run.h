/* train_run.h - a training run directory: creating it, reading it back for --resume, and the
 * loop that steps the trainer and writes metrics, checkpoints and sample grids. */
#ifndef GMMDIFF_TRAIN_RUN_H
#define GMMDIFF_TRAIN_RUN_H

#include <signal.h>

#include "cli.h"
#include "gmmdiff/train.h"

typedef enum gd_run_progress { GD_RUN_PROGRESS_AUTO, GD_RUN_PROGRESS_BAR, GD_RUN_PROGRESS_PLAIN,
                                GD_RUN_PROGRESS_NONE } gd_run_progress;
gd_status gd_run_progress_parse(const char *s, gd_run_progress *out);

typedef struct gd_train_run_opts {
    int ckpt_every;      /* checkpoint every N steps (and at the end) */
    int sample_every;    /* sample grid every N steps; 0 off; -1: as ckpt_every */
    int log_every;       /* metrics line every N steps */
    int n_samples;       /* images in a sample grid */
    int sample_steps;    /* DDIM steps of a sample grid */
    gd_run_progress progress;
    volatile sig_atomic_t *stop_flag; /* set by a signal: checkpoint and stop */
    int quiet;           /* no closing line */
    int stop_at;         /* > 0: checkpoint and stop after this step (the schedule still runs
                            to the configured steps; continue with --resume) */
    /* data parallel (tools/mpi_run.h): this process is rank `rank` of `ranks`; rank 0 alone
     * writes checkpoints, metrics, sample grids and messages */
    int rank, ranks;
    gd_rank_sum_fn sum;
    void *sum_ctx;
} gd_train_run_opts;

gd_train_run_opts gd_train_run_defaults(void);

/* Creates dir (refusing one that already holds a run), writes run.json. */
gd_status gd_train_run_create(const char *dir, const gd_train_config *c, const gd_cli_data *ds,
                              const gd_unet_config *u, const gd_dataset *d, gd_error *err);
/* Reads run.json and model/config.json of an existing run. */
gd_status gd_train_run_read(const char *dir, gd_train_config *c, gd_cli_data *ds,
                            gd_unet_config *u, gd_error *err);
/* Trains to c->steps (resuming from dir's state when resume is set, else from step 0, written
 * first as a checkpoint). Returns 0 when done, 130 when stopped by a signal (after a
 * checkpoint), 1 on an error (err filled; the last checkpoint is kept). */
int gd_train_run(const char *dir, const gd_train_config *c, const gd_unet_config *u,
                 const gd_dataset *d, int resume, const gd_train_run_opts *o, gd_error *err);

#endif
