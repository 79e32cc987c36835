/* unet.h - diffusers' UNet2DModel: its config.json, its graph, its checkpoint directory.
 *
 * Parameter names and layouts are diffusers' state-dict names, so a directory written by
 * UNet2DModel.save_pretrained() loads here and one written here loads in diffusers. Supported:
 * positional time embedding (flip_sin_to_cos, freq_shift), DownBlock2D / AttnDownBlock2D /
 * UpBlock2D / AttnUpBlock2D, the mid block with or without attention, class embeddings None,
 * a table (num_class_embeds), "timestep" and "identity"; SiLU, "default" time scale shift, conv
 * down/up sampling. Anything else in a config is refused with a message naming the key. */
#ifndef GMMDIFF_UNET_H
#define GMMDIFF_UNET_H

#include "gmmdiff/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_UNET_MAX_BLOCKS 8

typedef enum gd_class_embed {
    GD_CLASS_EMBED_NONE,
    GD_CLASS_EMBED_TABLE,    /* num_class_embeds set, class_embed_type null: nn.Embedding */
    GD_CLASS_EMBED_TIMESTEP, /* sinusoidal projection of a number, then an MLP */
    GD_CLASS_EMBED_IDENTITY  /* a [N, 4 * block_out_channels[0]] vector added as is */
} gd_class_embed;

typedef struct gd_unet_config {
    int sample_size, in_channels, out_channels;
    int n_blocks;
    int block_out_channels[GD_UNET_MAX_BLOCKS];
    int down_attn[GD_UNET_MAX_BLOCKS]; /* AttnDownBlock2D (1) or DownBlock2D (0) */
    int up_attn[GD_UNET_MAX_BLOCKS];   /* AttnUpBlock2D (1) or UpBlock2D (0) */
    int layers_per_block;
    int norm_num_groups, attn_norm_num_groups; /* attn_norm_num_groups 0: as norm_num_groups */
    float norm_eps;
    int attention_head_dim; /* 0: null (one head per block) */
    int add_attention;
    int flip_sin_to_cos;
    float freq_shift;
    gd_class_embed class_embed;
    int num_class_embeds;
    int downsample_padding;
} gd_unet_config;

/* diffusers' defaults for a small model: sample 28, 1 channel, (32, 64, 128), attention at the
 * lowest level and in the mid block, head dim 8, 8 groups */
void gd_unet_config_default(gd_unet_config *c);
int gd_unet_time_embed_dim(const gd_unet_config *c);
gd_status gd_unet_config_validate(const gd_unet_config *c, const char *what, gd_error *err);
gd_status gd_unet_config_load(gd_unet_config *c, const char *path, gd_error *err);
gd_status gd_unet_config_save(const gd_unet_config *c, const char *path, gd_error *err);
/* the config.json text (malloc'd; NULL when out of memory), keys sorted */
char *gd_unet_config_dumps(const gd_unet_config *c);

/* the tensors of a declared UNet */
typedef struct gd_unet_io {
    gd_t x;     /* [N, in, H, W] noisy sample */
    gd_t t;     /* [N] timesteps */
    gd_t cls;   /* [N] class index or number, [N, temb] for identity, -1 without */
    gd_t out;   /* [N, out, H, W] */
} gd_unet_io;

/* Declares the UNet into g (not yet planned) for batch N at H x W (each divisible by
 * 2^(n_blocks-1)); the caller may add a loss, then plans. */
gd_unet_io gd_unet_declare(gd_graph *g, const gd_unet_config *c, int N, int H, int W);

/* PyTorch's default initialisation, drawn from rng in parameter order: weights of convs and
 * linears U(+-1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)), their biases likewise from the
 * weight's fan_in, group norms weight 1 and bias 0, class embedding table N(0, 1). */
void gd_unet_init(gd_graph *g, gd_rng *rng);

/* A model directory: config.json + diffusion_pytorch_model.safetensors. */
gd_status gd_unet_load_weights(gd_graph *g, const char *dir, gd_error *err);
gd_status gd_unet_save(const gd_graph *g, const gd_unet_config *c, const char *dir,
                       gd_error *err);

/* Draws samples into x [numel of io->x] from a planned UNet graph with the sampler sc (see
 * gd_sample in diffusion.h). cond and null [numel of io->cls] are the class inputs of the
 * conditional and the null pass (NULL for a model without class embedding). */
struct gd_sampler_config;
struct gd_noise_schedule;
struct gd_guidance;
gd_status gd_unet_sample(gd_graph *g, const gd_unet_io *io, const struct gd_sampler_config *sc,
                         const struct gd_noise_schedule *sched, const float *cond,
                         const float *null, const struct gd_guidance *guide, float *x,
                         gd_rng *rng, gd_error *err);
/* the same with classifier guidance: log_prob_grad(ctx, x, t, grad, err) as in gd_denoiser,
 * used when guide->classifier_scale != 0 */
gd_status gd_unet_sample_guided(gd_graph *g, const gd_unet_io *io,
                                const struct gd_sampler_config *sc,
                                const struct gd_noise_schedule *sched, const float *cond,
                                const float *null, const struct gd_guidance *guide,
                                gd_status (*log_prob_grad)(void *ctx, const float *x, int t,
                                                           float *grad, gd_error *err),
                                void *ctx, float *x, gd_rng *rng, gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
