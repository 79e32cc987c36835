/* train.h - training a UNet2DModel denoiser on a data set: the configuration, the trainer, its
 * checkpoints.
 *
 * A run is reproducible from its configuration alone. All randomness is counter-based: the
 * batch of step s (which items, which timesteps, which noise, which conditions are dropped) is
 * drawn from generators seeded by (seed, s) and the data order of epoch e from (seed, e). The
 * training state is therefore the step, the parameters, the AdamW moments and the EMA weights;
 * resuming from a state file continues bit-exactly (same bytes as a run that never stopped,
 * given the same thread count and build).
 *
 * Run directory:
 *   run.json                       the resolved configuration (train keys + data description)
 *   model/config.json              the UNet's diffusers config
 *   model/diffusion_pytorch_model.safetensors   the EMA weights (what sampling uses)
 *   model/scheduler_config.json    diffusers' DDPMScheduler config of the noise schedule
 *   model/condition.json, model/condition.safetensors   feature mode: the components and
 *                                  their EMA means (condition.h)
 *   state.safetensors              params, adam_m, adam_v, ema (flat, in parameter order), in
 *                                  feature mode cond_means, cond_adam_m, cond_adam_v, cond_ema,
 *                                  and metadata: format, version, step, config
 * Every file is written atomically (temporary file, fsync, rename), the state file last, so a
 * run killed at any moment leaves the previous complete checkpoint or the new one.
 */
#ifndef GMMDIFF_TRAIN_H
#define GMMDIFF_TRAIN_H

#include "gmmdiff/data.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/optim.h"
#include "gmmdiff/unet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gd_cond_mode { GD_COND_NONE, GD_COND_CLASS, GD_COND_FEATURE, GD_COND_CLUSTER }
    gd_cond_mode;
typedef enum gd_lr_schedule { GD_LR_CONSTANT, GD_LR_COSINE } gd_lr_schedule;

typedef struct gd_train_config {
    uint64_t seed;
    int steps;            /* total optimizer steps */
    int batch;
    float lr;             /* peak learning rate */
    int warmup;           /* linear warmup steps from 0 */
    gd_lr_schedule lr_schedule; /* after warmup: constant, or cosine to 0 at `steps` */
    float beta1, beta2, adam_eps, weight_decay;
    float clip;           /* max global gradient norm; 0 disables */
    float ema_max_decay;  /* diffusers EMAModel: warmup decay 1 - (1 + s)^-power, capped */
    float ema_power;
    gd_cond_mode cond;
    float cond_drop;      /* probability of the null condition per item (classifier-free) */
    float cond_sigma;     /* sigma of every component N(mu, sigma^2 I); < 0: the mode's default
                             (gd_train_cond_sigma) */
    int cond_components;  /* feature mode: 1-D GMM components per continuous attribute */
    int clusters;         /* cluster mode: GMM components over the image embeddings */
    float aux_weight;     /* the feature-consistency term's weight lambda (0: off) */
    char aux_classifier[1024]; /* its frozen classifier's directory */
    int aux_loss;         /* its signal: -1 the classifier's own loss, else gd_classifier_loss */
    int cluster_dims;     /* cluster mode: principal directions of the embedding */
    gd_scheduler_config sched;
} gd_train_config;

void gd_train_config_default(gd_train_config *c);
gd_status gd_cond_mode_parse(const char *s, gd_cond_mode *out); /* none, class, feature, cluster */
const char *gd_cond_mode_name(gd_cond_mode m);
gd_status gd_lr_schedule_parse(const char *s, gd_lr_schedule *out); /* constant, cosine */
const char *gd_lr_schedule_name(gd_lr_schedule s);
/* the components' sigma: cond_sigma when set (>= 0), else 0.1 for feature and cluster, 0 for
 * class (diffusers' plain class table) */
float gd_train_cond_sigma(const gd_train_config *c);
/* whether the condition is a composed vector of GMM components (condition.h): feature and
 * cluster mode, and class mode with sigma > 0, where each class owns one component
 * N(mu_class, sigma^2 I) (the data set's classes become the one attribute "class") */
int gd_train_gmm_condition(const gd_train_config *c);
/* the learning rate of (1-based) optimizer step `step` */
float gd_train_lr(const gd_train_config *c, int64_t step);

/* The UNet a data set gets by default: sample_size = image side, channels = image channels,
 * block_out_channels (32, 64, 64), DownBlock2D, DownBlock2D, AttnDownBlock2D (attention at the
 * lowest resolution and in the mid block), 1 layer per block, 8 groups, head dim 8; a class
 * table of n_classes + 1 rows (the last row the learned null condition) in class mode; the
 * identity class embedding (the composed condition vector, condition.h) in feature and cluster
 * mode. */
void gd_train_default_unet(gd_unet_config *u, const gd_dataset *d, gd_cond_mode cond);

typedef struct gd_trainer gd_trainer;

/* A trainer for dataset d (not copied: it must outlive the trainer) and UNet u. The weights are
 * initialised from the seed. Validates the combination (image size vs config, classes vs
 * table rows) and returns GD_ERR_ARG with a message when they disagree. */
gd_status gd_trainer_new(gd_trainer **t, const gd_train_config *c, const gd_unet_config *u,
                         const gd_dataset *d, gd_error *err);
void gd_trainer_free(gd_trainer *t); /* NULL-safe */

/* One optimizer step. On success *loss is the batch loss and *grad_norm the gradient norm
 * before clipping. A non-finite loss or gradient leaves parameters, moments and EMA untouched
 * and returns GD_ERR_NUMERIC naming the step. */
gd_status gd_trainer_step(gd_trainer *t, float *loss, float *grad_norm, gd_error *err);
int64_t gd_trainer_steps_done(const gd_trainer *t);
float gd_trainer_lr(const gd_trainer *t); /* of the next step */
/* the consistency term's classifier loss at the last step; NaN when it is off */
float gd_trainer_aux_loss(const gd_trainer *t);

/* The EMA weights (flat, parameter order) and the graph they fit, for sampling */
const float *gd_trainer_ema(const gd_trainer *t, size_t *n);
int gd_trainer_null_class(const gd_trainer *t); /* the null row in class mode, else -1 */
/* feature mode: the components and their EMA means [rows, dim]; NULL in other modes */
struct gd_condition;
const struct gd_condition *gd_trainer_condition(const gd_trainer *t, const float **ema_means);

/* Data-parallel training (docs/DISTRIBUTED.md). This trainer is rank `rank` of `size`: a step
 * draws the global batch of size * c->batch items (data order, timesteps, noise, condition
 * dropout, exactly as one trainer of batch size * c->batch would) and runs its own slice of
 * c->batch items; then `sum` adds one packed buffer over the ranks, once per step (the
 * gradients of the UNet and of the condition means, the loss, the consistency term and the
 * stop votes), which must leave the same values on every rank. Every rank then takes the same
 * optimizer step. The library has no MPI: the caller supplies `sum` (tools/mpi_run.c). */
typedef gd_status (*gd_rank_sum_fn)(float *buf, size_t n, void *ctx, gd_error *err);
gd_status gd_trainer_set_ranks(gd_trainer *t, int rank, int size, gd_rank_sum_fn sum, void *ctx,
                               gd_error *err);
/* votes to stop after the next step (a signal on this rank); gd_trainer_stop_voted: some rank
 * voted at the last step, so every rank stops there together */
void gd_trainer_vote_stop(gd_trainer *t);
int gd_trainer_stop_voted(const gd_trainer *t);

/* Fault injection for tests: sets a parameter to NaN, so the next step's loss is NaN. */
void gd_trainer_poison(gd_trainer *t);

/* Samples n images from the EMA weights with DDIM (steps, eta 0, eps from the clamped x0)
 * into x [n, C, H, W]; class and feature models get the classes cls [n] (NULL: spread evenly
 * over all classes; a feature model composes each class's attribute values) and
 * classifier-free guidance scale cfg (1: off). The noise comes from seed alone. */
gd_status gd_trainer_sample(const gd_trainer *t, int n, const int *cls, float cfg, int steps,
                            uint64_t seed, float *x, gd_error *err);

/* Writes model/ (EMA weights, config, scheduler config) and state.safetensors into run_dir
 * (which must exist), each file atomically and the state last. */
gd_status gd_trainer_save(const gd_trainer *t, const char *run_dir, gd_error *err);
/* Restores step, parameters, moments and EMA from run_dir/state.safetensors; the state's
 * configuration must equal this trainer's (else GD_ERR_ARG naming the differing key). */
gd_status gd_trainer_resume(gd_trainer *t, const char *run_dir, gd_error *err);

/* The configuration as the JSON text stored in run.json and in the state's metadata; and read
 * back (keys absent keep c's values; unknown keys and bad values are errors naming `what`). */
char *gd_train_config_json(const gd_train_config *c, const gd_unet_config *u, const gd_dataset *d);
gd_status gd_train_config_from_json(gd_train_config *c, const char *json, const char *what,
                                     gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
