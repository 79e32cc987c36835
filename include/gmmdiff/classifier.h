/* classifier.h - an image classifier with one head per categorical attribute, optionally
 * conditioned on the diffusion timestep so that it can read noisy images x_t.
 *
 * Architecture (every conv 3x3, padding 1):
 *   h = conv_in(x)                                             [N, C0, S, S]
 *   for each level i:  h = conv_i(h, stride 2)                 [N, Ci, S/2^(i+1), ...]
 *                      h += proj_i(silu(temb(t)))   (time_cond only, per channel)
 *                      h = silu(group_norm_i(h))
 *   logits = head_2(silu(head_1(flatten(h))))                  [N, sum of values]
 * temb(t) = linear_2(silu(linear_1(timestep_embedding(t, 64)))), width 128.
 *
 * The logits are the attributes' value slots side by side (attribute a owns
 * [offset[a], offset[a] + n_values[a])), each slot a scalar output y answering one binary
 * question against the one-hot target. The loss (`loss`): BCE with logits, or NGMG (DESIGN.md
 * section 4, docs/NGMG.md): the mean negative Gaussian mixture potential of y around its
 * target (1 for the item's value, 0 for the others) over a geometric ladder of widths, whose
 * gradient, the NGMG, is the head's backward signal. A prediction is the argmax within each
 * attribute's slots, for either loss.
 * A model directory holds config.json and classifier.safetensors.
 */
#ifndef GMMDIFF_CLASSIFIER_H
#define GMMDIFF_CLASSIFIER_H

#include "gmmdiff/core.h"
#include "gmmdiff/data.h"
#include "gmmdiff/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_CLS_MAX_LEVELS 4
#define GD_CLS_MAX_HEADS 16

typedef enum gd_classifier_loss { GD_CLS_LOSS_BCE, GD_CLS_LOSS_NGMG } gd_classifier_loss;
gd_status gd_classifier_loss_parse(const char *s, gd_classifier_loss *out); /* bce, ngmg */
const char *gd_classifier_loss_name(gd_classifier_loss l);

typedef struct gd_classifier_config {
    int in_channels, sample_size;
    int n_levels, channels[GD_CLS_MAX_LEVELS + 1]; /* channels[0] = conv_in width */
    int hidden, norm_num_groups, time_cond;
    int loss;                 /* gd_classifier_loss */
    float ngmg_min, ngmg_max; /* NGMG: the ladder's smallest and largest width */
    int ngmg_widths;          /* NGMG: widths in the ladder (1: the single width ngmg_min) */
    int n_heads;
    char head_names[GD_CLS_MAX_HEADS][GD_DATA_NAME_MAX];
    int head_values[GD_CLS_MAX_HEADS];       /* values per head */
    char value_names[GD_CLS_MAX_HEADS][GD_DATA_MAX_VALUES][GD_DATA_NAME_MAX];
    int head_attr[GD_CLS_MAX_HEADS];         /* the data set's attribute index (not saved) */
} gd_classifier_config;

/* a config for data set d: one head per categorical attribute (at most GD_CLS_MAX_HEADS),
 * levels sized to the images (3 levels, channels 32, 32, 64, 64, hidden 128, 8 groups) */
gd_status gd_classifier_config_for(gd_classifier_config *c, const gd_dataset *d, int time_cond,
                                   gd_error *err);
int gd_classifier_n_out(const gd_classifier_config *c);
int gd_classifier_offset(const gd_classifier_config *c, int head);
/* matches the classifier's heads to data set d's attributes by name (fills head_attr);
 * GD_ERR_ARG naming the missing attribute or value count that differs */
gd_status gd_classifier_bind(gd_classifier_config *c, const gd_dataset *d, gd_error *err);

gd_status gd_classifier_config_save(const gd_classifier_config *c, const char *path,
                                    gd_error *err);
gd_status gd_classifier_config_load(gd_classifier_config *c, const char *path, gd_error *err);

typedef struct gd_classifier_io {
    gd_t x, t, target; /* inputs [N,C,S,S], [N] (time_cond; else -1), [N, n_out] */
    gd_t logits, loss; /* [N, n_out]; BCE with logits or the NGMG potential against target */
    gd_t features;     /* [N, hidden]: silu(head_1(...)), the space FD is measured in */
} gd_classifier_io;

/* declares the classifier for batch N into g (not planned) */
gd_classifier_io gd_classifier_declare(gd_graph *g, const gd_classifier_config *c, int N,
                                       int x_requires_grad);
/* PyTorch's default init (kaiming-uniform weights, uniform biases, norms 1/0) from seed */
void gd_classifier_init_params(gd_graph *g, uint64_t seed);

/* a planned classifier with its weights: directory dir (config.json, classifier.safetensors) */
typedef struct gd_classifier {
    gd_classifier_config config;
    gd_graph *g;
    gd_classifier_io io;
    int batch;
} gd_classifier;
gd_status gd_classifier_open(gd_classifier *m, const char *dir, int batch, gd_error *err);
/* the same, with gradients for the input images (classifier guidance, the consistency term);
 * loss >= 0 replaces the loss it was trained with (gd_classifier_loss), -1 keeps it */
gd_status gd_classifier_open_guide(gd_classifier *m, const char *dir, int batch, int loss,
                                   gd_error *err);

/* Classifier guidance (gd_denoiser.log_prob_grad, DESIGN.md section 4 (a)): grad [batch, C, S,
 * S] = d/dx of each item's log-likelihood of its target values under m at timestep t, where the
 * log-likelihood is minus the item's summed loss: for BCE, the sum over slots of log sigmoid
 * (+-logit); for NGMG, -U, so guidance follows the NGMG toward the targets. m is opened with
 * gd_classifier_open_guide; target [batch, n_out] one-hot rows (gd_classifier_target_row). */
/* for a classifier opened with input gradients and its inputs (x, t, target) in place: the
 * forward pass, then the gradient of its loss in gd_grad(m->g, m->io.x); returns the loss */
float gd_classifier_input_grad(gd_classifier *m);

typedef struct gd_classifier_guide {
    gd_classifier *m;
    const float *target;
} gd_classifier_guide;
gd_status gd_classifier_guide_grad(void *ctx, const float *x, int t, float *grad, gd_error *err);
/* The feature-consistency term of diffusion training (DESIGN.md section 4 (b), docs/NGMG.md).
 * For a batch of m->batch denoiser outputs out [B, C, S, S] at noisy inputs xt, with
 * alpha_bar_t per item in ac and its prediction type pred (gd_prediction): each item's x0
 * prediction goes through the classifier m (opened with gd_classifier_open_guide; targets
 * [B, n_out] already in place, e.g. m's target input), and
 *   dout += weight * ac_i * d/d(out) of the classifier's loss
 * for the items with keep[i] != 0 (the gradient of weight * sum_i keep_i ac_i L(x0_i), L the
 * classifier's mean loss). alpha_bar_t makes the noisiest steps, whose x0 predictions are
 * blurs, count least and keeps the chain factor bounded. Returns the classifier's loss. */
#define GD_CONSISTENCY_MAX_BATCH 65536
float gd_classifier_consistency(gd_classifier *m, const float *out, const float *xt,
                                const float *ac, const int *keep, const float *targets, int pred,
                                float weight, float *dout);
/* "shape=circle,size=large,..." -> values [n_heads]; every head must be named */
gd_status gd_classifier_parse_values(const gd_classifier_config *c, const char *spec, int *values,
                                     gd_error *err);
/* the one-hot target row [n_out] of values [n_heads] */
void gd_classifier_target_row(const gd_classifier_config *c, const int *values, float *row);
gd_status gd_classifier_save(const gd_classifier *m, const char *dir, gd_error *err);
void gd_classifier_close(gd_classifier *m);

/* predicted value per head for n images [n, C, S, S] at timesteps t (NULL: t = 0);
 * pred: [n, n_heads] */
void gd_classifier_predict(gd_classifier *m, const float *images, const float *t, int n,
                           int *pred);

typedef struct gd_classifier_train_opts {
    int steps, batch;
    float lr, weight_decay;
    uint64_t seed;
    int noisy;          /* time_cond: train on x_t at t ~ U{0..T-1} of a linear schedule */
    int log_every;      /* 0: silent */
    float *loss_log;    /* [steps] each step's loss, or NULL */
    float *gnorm_log;   /* [steps] each step's gradient norm before clipping, or NULL */
} gd_classifier_train_opts;
gd_classifier_train_opts gd_classifier_train_defaults(void);

/* trains m (declared and planned with opts->batch, params initialised by the caller) on d;
 * the final mean loss of the last 50 steps in *final_loss */
gd_status gd_classifier_train(gd_classifier *m, const gd_dataset *d,
                              const gd_classifier_train_opts *o, float *final_loss,
                              gd_error *err);
/* a fresh classifier for d, planned with the given batch */
gd_status gd_classifier_create(gd_classifier *m, const gd_classifier_config *c, int batch,
                               uint64_t seed, gd_error *err);

/* the classifier's features (io.features) of n images [n, C, S, S] at t = 0: out [n, hidden] */
void gd_classifier_features(gd_classifier *m, const float *images, int n, float *out);

/* per-head accuracy of m on d (clean images, t = 0): acc [n_heads]; items limited to max_n
 * (0: all) */
gd_status gd_classifier_accuracy(gd_classifier *m, const gd_dataset *d, int max_n, double *acc,
                                 gd_error *err);
/* the same on noisy images: each item as x_t at timestep t of the linear schedule (1000 steps,
 * betas 1e-4 .. 0.02) with noise seeded by seed, the classifier told t (time_cond) */
gd_status gd_classifier_accuracy_noisy(gd_classifier *m, const gd_dataset *d, int max_n, int t,
                                       uint64_t seed, double *acc, gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
