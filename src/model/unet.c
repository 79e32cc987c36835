/* unet.c - UNet2DModel as a graph, under diffusers' state-dict names (see unet.h).
 *
 *   emb = time_embedding(time_proj(t)) [+ class embedding]
 *   h = conv_in(x); skips = [h]
 *   down block i: layers_per_block x (resnet [, attention]), push each; downsample (not last), push
 *   mid: resnet, attention (add_attention), resnet
 *   up block i: (layers_per_block + 1) x (concat a popped skip, resnet [, attention]); upsample
 *   out = conv_out(silu(conv_norm_out(h)))
 * ResnetBlock2D: h = conv1(silu(norm1(x))) + time_emb_proj(silu(emb)); h = conv2(silu(norm2(h)));
 * out = h + (conv_shortcut(x) if channels change else x). silu(emb) is shared by all resnets. */
#include "gmmdiff/unet.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct builder {
    gd_graph *g;
    const gd_unet_config *c;
    gd_t emb_act; /* silu(emb), [N, temb] */
    int temb;
} builder;

static gd_t param(builder *b, int ndim, const int *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static gd_t param(builder *b, int ndim, const int *shape, const char *fmt, ...) {
    char name[GD_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return gd_param(b->g, name, ndim, shape);
}

static gd_t conv(builder *b, gd_t x, const char *name, int ic, int oc, int k, int stride,
                 int pad) {
    gd_t w = param(b, 4, (int[]){oc, ic, k, k}, "%s.weight", name);
    gd_t bias = param(b, 1, (int[]){oc}, "%s.bias", name);
    return gd_op_conv2d(b->g, x, w, bias, stride, pad);
}

static gd_t linear(builder *b, gd_t x, const char *name, int ic, int oc) {
    gd_t w = param(b, 2, (int[]){oc, ic}, "%s.weight", name);
    gd_t bias = param(b, 1, (int[]){oc}, "%s.bias", name);
    return gd_op_linear(b->g, x, w, bias);
}

/* silu(group_norm(x)), fused */
static gd_t norm_silu(builder *b, gd_t x, const char *name, int ch, int groups) {
    gd_t w = param(b, 1, (int[]){ch}, "%s.weight", name);
    gd_t bias = param(b, 1, (int[]){ch}, "%s.bias", name);
    return gd_op_group_norm_silu(b->g, x, w, bias, groups, b->c->norm_eps);
}

static gd_t resnet(builder *b, gd_t x, const char *name, int ic, int oc) {
    char n[GD_NAME_MAX];
    int G = b->c->norm_num_groups;
    snprintf(n, sizeof n, "%s.norm1", name);
    gd_t h = norm_silu(b, x, n, ic, G);
    snprintf(n, sizeof n, "%s.conv1", name);
    h = conv(b, h, n, ic, oc, 3, 1, 1);
    snprintf(n, sizeof n, "%s.time_emb_proj", name);
    h = gd_op_add_channel(b->g, h, linear(b, b->emb_act, n, b->temb, oc));
    snprintf(n, sizeof n, "%s.norm2", name);
    h = norm_silu(b, h, n, oc, G);
    snprintf(n, sizeof n, "%s.conv2", name);
    h = conv(b, h, n, oc, oc, 3, 1, 1);
    gd_t skip = x;
    if (ic != oc) {
        snprintf(n, sizeof n, "%s.conv_shortcut", name);
        skip = conv(b, x, n, ic, oc, 1, 1, 0);
    }
    return gd_op_add(b->g, skip, h);
}

static gd_t attention(builder *b, gd_t x, const char *name, int ch) {
    static const char *parts[10] = {"group_norm.weight", "group_norm.bias", "to_q.weight",
                                    "to_q.bias",         "to_k.weight",     "to_k.bias",
                                    "to_v.weight",       "to_v.bias",       "to_out.0.weight",
                                    "to_out.0.bias"};
    gd_t p[10];
    for (int i = 0; i < 10; i++) {
        int mat = i >= 2 && i % 2 == 0;
        p[i] = mat ? param(b, 2, (int[]){ch, ch}, "%s.%s", name, parts[i])
                   : param(b, 1, (int[]){ch}, "%s.%s", name, parts[i]);
    }
    const gd_unet_config *c = b->c;
    int hd = c->attention_head_dim ? c->attention_head_dim : ch;
    int groups = c->attn_norm_num_groups ? c->attn_norm_num_groups : c->norm_num_groups;
    return gd_op_attention(b->g, x, p, groups, ch / hd, c->norm_eps);
}

/* time_proj (sinusoidal) then TimestepEmbedding: linear_1, SiLU, linear_2 */
static gd_t timestep_mlp(builder *b, gd_t t, const char *name) {
    const gd_unet_config *c = b->c;
    int c0 = c->block_out_channels[0];
    char n[GD_NAME_MAX];
    gd_t e = gd_op_timestep_embedding(b->g, t, c0, c->flip_sin_to_cos, c->freq_shift);
    snprintf(n, sizeof n, "%s.linear_1", name);
    e = gd_op_silu(b->g, linear(b, e, n, c0, b->temb));
    snprintf(n, sizeof n, "%s.linear_2", name);
    return linear(b, e, n, b->temb, b->temb);
}

gd_unet_io gd_unet_declare(gd_graph *g, const gd_unet_config *c, int N, int H, int W) {
    GD_ASSERT_MSG(gd_unet_config_validate(c, "unet config", NULL) == GD_OK,
                  "gd_unet_declare needs a valid config (gd_unet_config_validate)");
    int down = 1 << (c->n_blocks - 1);
    GD_ASSERT_MSG(N > 0 && H > 0 && W > 0 && H % down == 0 && W % down == 0,
                  "unet: H and W must be divisible by 2^(blocks - 1)");
    builder b = {g, c, -1, gd_unet_time_embed_dim(c)};
    gd_unet_io io;
    io.x = gd_input(g, "sample", 4, (int[]){N, c->in_channels, H, W}, 0);
    io.t = gd_input(g, "timestep", 1, (int[]){N}, 0);
    io.cls = -1;
    gd_t emb = timestep_mlp(&b, io.t, "time_embedding");
    if (c->class_embed == GD_CLASS_EMBED_TABLE) {
        io.cls = gd_input(g, "class_labels", 1, (int[]){N}, 0);
        gd_t table = param(&b, 2, (int[]){c->num_class_embeds, b.temb}, "class_embedding.weight");
        emb = gd_op_add(g, emb, gd_op_embedding(g, io.cls, table));
    } else if (c->class_embed == GD_CLASS_EMBED_TIMESTEP) {
        io.cls = gd_input(g, "class_labels", 1, (int[]){N}, 0);
        emb = gd_op_add(g, emb, timestep_mlp(&b, io.cls, "class_embedding"));
    } else if (c->class_embed == GD_CLASS_EMBED_IDENTITY) {
        io.cls = gd_input(g, "class_labels", 2, (int[]){N, b.temb}, 1);
        emb = gd_op_add(g, emb, io.cls);
    }
    b.emb_act = gd_op_silu(g, emb);

    char n[GD_NAME_MAX];
    gd_t skips[GD_UNET_MAX_BLOCKS * 18 + 1];
    int skip_ch[GD_UNET_MAX_BLOCKS * 18 + 1], ns = 0;
    int ch = c->block_out_channels[0];
    gd_t h = conv(&b, io.x, "conv_in", c->in_channels, ch, 3, 1, 1);
    skips[ns] = h;
    skip_ch[ns++] = ch;
    for (int i = 0; i < c->n_blocks; i++) {
        int oc = c->block_out_channels[i];
        for (int l = 0; l < c->layers_per_block; l++) {
            snprintf(n, sizeof n, "down_blocks.%d.resnets.%d", i, l);
            h = resnet(&b, h, n, ch, oc);
            ch = oc;
            if (c->down_attn[i]) {
                snprintf(n, sizeof n, "down_blocks.%d.attentions.%d", i, l);
                h = attention(&b, h, n, ch);
            }
            skips[ns] = h;
            skip_ch[ns++] = ch;
        }
        if (i < c->n_blocks - 1) {
            snprintf(n, sizeof n, "down_blocks.%d.downsamplers.0.conv", i);
            int p = c->downsample_padding;
            h = conv(&b, h, n, ch, ch, 3, 2, p);
            skips[ns] = h;
            skip_ch[ns++] = ch;
        }
    }
    h = resnet(&b, h, "mid_block.resnets.0", ch, ch);
    if (c->add_attention) h = attention(&b, h, "mid_block.attentions.0", ch);
    h = resnet(&b, h, "mid_block.resnets.1", ch, ch);
    for (int i = 0; i < c->n_blocks; i++) {
        int oc = c->block_out_channels[c->n_blocks - 1 - i];
        for (int l = 0; l < c->layers_per_block + 1; l++) {
            GD_ASSERT(ns > 0);
            gd_t s = skips[--ns];
            int sc = skip_ch[ns];
            h = gd_op_concat(g, h, s);
            snprintf(n, sizeof n, "up_blocks.%d.resnets.%d", i, l);
            h = resnet(&b, h, n, ch + sc, oc);
            ch = oc;
            if (c->up_attn[i]) {
                snprintf(n, sizeof n, "up_blocks.%d.attentions.%d", i, l);
                h = attention(&b, h, n, ch);
            }
        }
        if (i < c->n_blocks - 1) {
            snprintf(n, sizeof n, "up_blocks.%d.upsamplers.0.conv", i);
            h = conv(&b, gd_op_upsample2x(g, h), n, ch, ch, 3, 1, 1);
        }
    }
    GD_ASSERT(ns == 0);
    h = norm_silu(&b, h, "conv_norm_out", ch, c->norm_num_groups);
    io.out = conv(&b, h, "conv_out", ch, c->out_channels, 3, 1, 1);
    return io;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void gd_unet_init(gd_graph *g, gd_rng *rng) {
    for (int i = 0; i < gd_graph_num_params(g); i++) {
        gd_t t = gd_graph_param(g, i);
        const char *name = gd_name(g, t);
        float *d = gd_data(g, t);
        size_t n = gd_numel(g, t);
        if (!strcmp(name, "class_embedding.weight")) {
            gd_rng_fill_normal(rng, d, n, 0.0f, 1.0f);
        } else if (gd_ndim(g, t) >= 2) {
            float bound = 1.0f / sqrtf((float)(n / (size_t)gd_shape(g, t)[0]));
            gd_rng_fill_uniform(rng, d, n, -bound, bound);
        } else if (strstr(name, "norm")) { /* norm1, norm2, group_norm, conv_norm_out */
            for (size_t j = 0; j < n; j++) d[j] = ends_with(name, ".weight") ? 1.0f : 0.0f;
        } else { /* a bias: bound from its weight's fan-in */
            char wname[GD_NAME_MAX];
            snprintf(wname, sizeof wname, "%.*s.weight", (int)(strlen(name) - 5), name);
            gd_t w = gd_graph_find(g, wname);
            GD_ASSERT_MSG(w >= 0 && ends_with(name, ".bias"), "unet init: unknown parameter");
            float bound = 1.0f / sqrtf((float)(gd_numel(g, w) / (size_t)gd_shape(g, w)[0]));
            gd_rng_fill_uniform(rng, d, n, -bound, bound);
        }
    }
}

gd_status gd_unet_load_weights(gd_graph *g, const char *dir, gd_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    return gd_graph_load_file(g, path, err);
}

gd_status gd_unet_save(const gd_graph *g, const gd_unet_config *c, const char *dir,
                       gd_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    gd_status s = gd_graph_save_params(g, path, err);
    if (s) return s;
    snprintf(path, sizeof path, "%s/config.json", dir);
    return gd_unet_config_save(c, path, err);
}
