/* mlp.h - a small residual MLP denoiser for low-dimensional data (2-D mixtures, toy
 * experiments, fast tests): its config.json, its graph, its checkpoint directory.
 *
 * Architecture (N samples of dimension dim; H = hidden, E = temb; PyTorch parameter names):
 *
 *   s   = timestep_embedding(t, E, flip_sin_to_cos, freq_shift)          [N, E]  (sinusoidal)
 *   emb = time_embedding.linear_2(silu(time_embedding.linear_1(s)))      [N, E]
 *   emb = emb + class_embedding.weight[cls]       class table: cls [N] in [0, num_classes)
 *   emb = emb + cls                               identity:    cls [N, cond_dim], cond_dim = E
 *   e   = silu(emb)                                                      [N, E]
 *   h   = linear_in(x)                                                   [N, H]
 *   for i in 0 .. n_layers-1 (blocks.i):
 *       a = linear_a(silu(h)) + time_emb_proj(e)                         [N, H]
 *       h = h + linear_b(silu(a))                                        [N, H]
 *   out = linear_out(silu(h))                                            [N, dim]
 *
 * Every linear has a bias. Parameters, in declaration order:
 *   time_embedding.linear_1.{weight [E,E], bias [E]}, time_embedding.linear_2.{weight, bias},
 *   class_embedding.weight [num_classes, E] (class table only), linear_in.{weight [H,dim], bias},
 *   blocks.i.linear_a.{weight [H,H], bias}, blocks.i.time_emb_proj.{weight [H,E], bias [H]},
 *   blocks.i.linear_b.{weight [H,H], bias}, linear_out.{weight [dim,H], bias [dim]}.
 * The same module in torch.nn is tools/ref/make_mlp_fixtures.py; docs/MODELS.md describes it.
 *
 * A model directory holds config.json ("_class_name": "GmmdiffMLP") and model.safetensors. */
#ifndef GMMDIFF_MLP_H
#define GMMDIFF_MLP_H

#include "gmmdiff/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_MLP_MAX_WIDTH 65536
#define GD_MLP_MAX_LAYERS 64

typedef enum gd_mlp_cond {
    GD_MLP_COND_NONE,
    GD_MLP_COND_TABLE,   /* num_class_embeds set, class_embed_type null: nn.Embedding */
    GD_MLP_COND_IDENTITY /* class_embed_type "identity": a [N, cond_dim] vector added as is */
} gd_mlp_cond;

/* config.json keys: dim, hidden, n_layers, temb, flip_sin_to_cos, freq_shift,
 * class_embed_type (null or "identity"), num_class_embeds (table), cond_dim (identity) */
typedef struct gd_mlp_config {
    int dim;             /* data dimension */
    int hidden;          /* width H of the residual stream */
    int n_layers;        /* residual blocks */
    int temb;            /* width E of the sinusoidal and the time embedding */
    int flip_sin_to_cos; /* [cos, sin] instead of [sin, cos] */
    float freq_shift;
    gd_mlp_cond cond;
    int num_classes;     /* GD_MLP_COND_TABLE: rows of the table */
    int cond_dim;        /* GD_MLP_COND_IDENTITY: condition width, equal to temb */
} gd_mlp_config;

/* dim 2, hidden 128, 3 layers, temb 64, flip_sin_to_cos, freq_shift 0, no condition */
void gd_mlp_config_default(gd_mlp_config *c);
/* what names the config in messages (a path, "mlp config") */
gd_status gd_mlp_config_validate(const gd_mlp_config *c, const char *what, gd_error *err);
/* Reads config.json; a missing dim, an unknown key, a value of the wrong type or out of range
 * is GD_ERR_FORMAT naming the file and the key. Keys starting with '_' are ignored except
 * _class_name, which must be "GmmdiffMLP" when present. */
gd_status gd_mlp_config_load(gd_mlp_config *c, const char *path, gd_error *err);
gd_status gd_mlp_config_save(const gd_mlp_config *c, const char *path, gd_error *err);
/* the config.json text (malloc'd; NULL when out of memory), keys sorted */
char *gd_mlp_config_dumps(const gd_mlp_config *c);

/* the tensors of a declared MLP */
typedef struct gd_mlp_io {
    gd_t x;   /* [N, dim] noisy sample (carries a gradient) */
    gd_t t;   /* [N] timesteps */
    gd_t cls; /* [N] class index (table), [N, cond_dim] (identity, carries a gradient), -1 */
    gd_t out; /* [N, dim] */
} gd_mlp_io;

/* Declares the MLP into g (not yet planned) for batch N; the caller may add a loss, then
 * plans. The config must be valid (asserted). */
gd_mlp_io gd_mlp_declare(gd_graph *g, const gd_mlp_config *c, int N);

/* PyTorch's default initialisation, drawn from rng in parameter order: linear weights
 * U(+-1/sqrt(fan_in)), their biases likewise from the weight's fan_in, the class table
 * N(0, 1). */
void gd_mlp_init(gd_graph *g, gd_rng *rng);

/* A model directory: config.json + model.safetensors. Loading needs every parameter with its
 * exact shape and no other tensor, else GD_ERR_SHAPE naming the file and the tensor. */
gd_status gd_mlp_load_weights(gd_graph *g, const char *dir, gd_error *err);
gd_status gd_mlp_save(const gd_graph *g, const gd_mlp_config *c, const char *dir,
                      gd_error *err);

/* Draws samples into x [numel of io->x] from a planned MLP graph with the sampler sc (see
 * gd_sample in diffusion.h). cond and null [numel of io->cls] are the condition inputs of the
 * conditional and the null pass (NULL for a model without condition). */
struct gd_sampler_config;
struct gd_noise_schedule;
struct gd_guidance;
gd_status gd_mlp_sample(gd_graph *g, const gd_mlp_io *io, const struct gd_sampler_config *sc,
                        const struct gd_noise_schedule *sched, const float *cond,
                        const float *null, const struct gd_guidance *guide, float *x,
                        gd_rng *rng, gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
