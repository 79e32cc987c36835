/* unet_config.c - UNet2DModel's config.json: defaults, validation, load and save. */
#include "gmmdiff/unet.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void gd_unet_config_default(gd_unet_config *c) {
    memset(c, 0, sizeof *c);
    c->sample_size = 28;
    c->in_channels = c->out_channels = 1;
    c->n_blocks = 3;
    c->block_out_channels[0] = 32;
    c->block_out_channels[1] = 64;
    c->block_out_channels[2] = 128;
    c->down_attn[2] = 1;
    c->up_attn[0] = 1;
    c->layers_per_block = 1;
    c->norm_num_groups = 8;
    c->norm_eps = 1e-5f;
    c->attention_head_dim = 8;
    c->add_attention = 1;
    c->flip_sin_to_cos = 1;
    c->freq_shift = 0;
    c->class_embed = GD_CLASS_EMBED_NONE;
    c->downsample_padding = 1;
}

int gd_unet_time_embed_dim(const gd_unet_config *c) { return 4 * c->block_out_channels[0]; }

gd_status gd_unet_config_validate(const gd_unet_config *c, const char *what, gd_error *err) {
#define BAD(...) return gd_error_set(err, GD_ERR_FORMAT, __VA_ARGS__)
    if (c->n_blocks < 1 || c->n_blocks > GD_UNET_MAX_BLOCKS)
        BAD("%s: block_out_channels must have 1 to %d entries", what, GD_UNET_MAX_BLOCKS);
    if (c->in_channels < 1 || c->out_channels < 1 || c->in_channels > 4096 ||
        c->out_channels > 4096)
        BAD("%s: in_channels and out_channels must be in [1, 4096]", what);
    if (c->layers_per_block < 1 || c->layers_per_block > 16)
        BAD("%s: layers_per_block must be in [1, 16]", what);
    if (c->norm_num_groups < 1) BAD("%s: norm_num_groups must be positive", what);
    if (!(c->norm_eps > 0)) BAD("%s: norm_eps must be positive", what);
    int ag = c->attn_norm_num_groups ? c->attn_norm_num_groups : c->norm_num_groups;
    for (int i = 0; i < c->n_blocks; i++) {
        int ch = c->block_out_channels[i];
        if (ch < 1 || ch > 65536) BAD("%s: block_out_channels[%d] = %d is out of range", what, i, ch);
        if (ch % c->norm_num_groups)
            BAD("%s: block_out_channels[%d] = %d is not divisible by norm_num_groups = %d", what,
                i, ch, c->norm_num_groups);
        int hd = c->attention_head_dim ? c->attention_head_dim : ch;
        int has_attn = c->down_attn[i] || c->up_attn[c->n_blocks - 1 - i] ||
                       (i == c->n_blocks - 1 && c->add_attention);
        if (has_attn && (ch % hd || ch % ag))
            BAD("%s: block_out_channels[%d] = %d must be divisible by attention_head_dim (%d) "
                "and the attention's norm groups (%d)",
                what, i, ch, hd, ag);
    }
    if (c->class_embed == GD_CLASS_EMBED_TABLE && (c->num_class_embeds < 1 ||
                                                   c->num_class_embeds > 1000000))
        BAD("%s: num_class_embeds must be in [1, 1000000]", what);
    if (c->block_out_channels[0] / 2 == (int)c->freq_shift && c->freq_shift != 0)
        BAD("%s: freq_shift equals half the embedding width", what);
    if (c->downsample_padding < 0 || c->downsample_padding > 1)
        BAD("%s: downsample_padding must be 0 or 1", what);
    return GD_OK;
#undef BAD
}

/* ---- loading ---- */
typedef struct { const char *path; json_t *root; gd_error *err; } cfg_reader;

static gd_status get_int(cfg_reader *r, const char *key, int *out, int required) {
    json_t *v = json_object_get(r->root, key);
    if (!v || json_is_null(v)) {
        if (required) return gd_error_set(r->err, GD_ERR_FORMAT, "%s: missing key '%s'", r->path, key);
        return GD_OK;
    }
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < -1000000000 || x > 1000000000)
            return gd_error_set(r->err, GD_ERR_FORMAT, "%s: '%s' is out of range", r->path, key);
        *out = (int)x;
        return GD_OK;
    }
    /* a whole real (diffusers writes 32.0 at times) within the integers' range: converting a
     * real outside int's range is undefined behaviour, so the range is checked first */
    double x = json_is_real(v) ? json_real_value(v) : 0.5;
    if (x >= -1000000000.0 && x <= 1000000000.0 && x == (double)(int)x) {
        *out = (int)x;
        return GD_OK;
    }
    return gd_error_set(r->err, GD_ERR_FORMAT, "%s: '%s' must be an integer", r->path, key);
}

static gd_status get_float(cfg_reader *r, const char *key, float *out) {
    json_t *v = json_object_get(r->root, key);
    if (!v || json_is_null(v)) return GD_OK;
    if (!json_is_number(v))
        return gd_error_set(r->err, GD_ERR_FORMAT, "%s: '%s' must be a number", r->path, key);
    *out = (float)json_number_value(v);
    return GD_OK;
}

static gd_status get_bool(cfg_reader *r, const char *key, int *out) {
    json_t *v = json_object_get(r->root, key);
    if (!v || json_is_null(v)) return GD_OK;
    if (!json_is_boolean(v))
        return gd_error_set(r->err, GD_ERR_FORMAT, "%s: '%s' must be true or false", r->path, key);
    *out = json_is_true(v);
    return GD_OK;
}

/* a string key that must equal `want` when present */
static gd_status expect_str(cfg_reader *r, const char *key, const char *want) {
    json_t *v = json_object_get(r->root, key);
    if (!v || json_is_null(v)) return GD_OK;
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
        return gd_error_set(r->err, GD_ERR_FORMAT, "%s: '%s' must be \"%s\" (not supported: %s)",
                            r->path, key, want, json_is_string(v) ? json_string_value(v) : "?");
    return GD_OK;
}

static gd_status get_blocks(cfg_reader *r, const char *key, const char *plain, const char *attn,
                            int *flags, int n) {
    json_t *v = json_object_get(r->root, key);
    if (!json_is_array(v))
        return gd_error_set(r->err, GD_ERR_FORMAT, "%s: '%s' must be a list", r->path, key);
    if ((int)json_array_size(v) != n)
        return gd_error_set(r->err, GD_ERR_FORMAT,
                            "%s: '%s' has %zu entries but block_out_channels has %d", r->path,
                            key, json_array_size(v), n);
    for (int i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(v, (size_t)i));
        if (s && !strcmp(s, plain)) flags[i] = 0;
        else if (s && !strcmp(s, attn)) flags[i] = 1;
        else
            return gd_error_set(r->err, GD_ERR_FORMAT, "%s: %s[%d] = %s is not supported (%s or %s)",
                                r->path, key, i, s ? s : "?", plain, attn);
    }
    return GD_OK;
}

gd_status gd_unet_config_load(gd_unet_config *c, const char *path, gd_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: not valid JSON: %s (line %d)", path, je.text,
                            je.line);
    cfg_reader r = {path, root, err};
    gd_status s = GD_OK;
    gd_unet_config_default(c);
    memset(c->down_attn, 0, sizeof c->down_attn);
    memset(c->up_attn, 0, sizeof c->up_attn);
    if (!json_is_object(root)) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    json_t *cls = json_object_get(root, "_class_name");
    if (cls && (!json_is_string(cls) || strcmp(json_string_value(cls), "UNet2DModel"))) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: _class_name must be UNet2DModel", path);
        goto done;
    }
    json_t *boc = json_object_get(root, "block_out_channels");
    if (!json_is_array(boc) || json_array_size(boc) < 1 ||
        json_array_size(boc) > GD_UNET_MAX_BLOCKS) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: 'block_out_channels' must be a list of 1 to %d",
                         path, GD_UNET_MAX_BLOCKS);
        goto done;
    }
    c->n_blocks = (int)json_array_size(boc);
    for (int i = 0; i < c->n_blocks; i++) {
        json_t *e = json_array_get(boc, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 ||
            json_integer_value(e) > 1000000000) {
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: block_out_channels[%d] must be an integer "
                             "in [0, 1000000000]", path, i);
            goto done;
        }
        c->block_out_channels[i] = (int)json_integer_value(e);
    }
    int center = 0;
    float mid_scale = 1.0f, dropout = 0.0f;
    if ((s = get_int(&r, "sample_size", &c->sample_size, 0)) ||
        (s = get_int(&r, "in_channels", &c->in_channels, 0)) ||
        (s = get_int(&r, "out_channels", &c->out_channels, 0)) ||
        (s = get_int(&r, "layers_per_block", &c->layers_per_block, 0)) ||
        (s = get_int(&r, "norm_num_groups", &c->norm_num_groups, 0)) ||
        (s = get_int(&r, "attn_norm_num_groups", &c->attn_norm_num_groups, 0)) ||
        (s = get_int(&r, "downsample_padding", &c->downsample_padding, 0)) ||
        (s = get_float(&r, "norm_eps", &c->norm_eps)) ||
        (s = get_float(&r, "freq_shift", &c->freq_shift)) ||
        (s = get_float(&r, "mid_block_scale_factor", &mid_scale)) ||
        (s = get_float(&r, "dropout", &dropout)) ||
        (s = get_bool(&r, "flip_sin_to_cos", &c->flip_sin_to_cos)) ||
        (s = get_bool(&r, "add_attention", &c->add_attention)) ||
        (s = get_bool(&r, "center_input_sample", &center)) ||
        (s = expect_str(&r, "time_embedding_type", "positional")) ||
        (s = expect_str(&r, "act_fn", "silu")) ||
        (s = expect_str(&r, "resnet_time_scale_shift", "default")) ||
        (s = expect_str(&r, "downsample_type", "conv")) ||
        (s = expect_str(&r, "upsample_type", "conv")) ||
        (s = get_blocks(&r, "down_block_types", "DownBlock2D", "AttnDownBlock2D", c->down_attn,
                        c->n_blocks)) ||
        (s = get_blocks(&r, "up_block_types", "UpBlock2D", "AttnUpBlock2D", c->up_attn,
                        c->n_blocks)))
        goto done;
    json_t *hd = json_object_get(root, "attention_head_dim");
    if (hd && json_is_null(hd)) c->attention_head_dim = 0;
    else if ((s = get_int(&r, "attention_head_dim", &c->attention_head_dim, 0))) goto done;
    if (center || mid_scale != 1.0f || dropout != 0.0f) {
        s = gd_error_set(err, GD_ERR_FORMAT,
                         "%s: center_input_sample, mid_block_scale_factor != 1 and dropout are "
                         "not supported",
                         path);
        goto done;
    }
    int nce = 0;
    if ((s = get_int(&r, "num_class_embeds", &nce, 0))) goto done;
    json_t *cet = json_object_get(root, "class_embed_type");
    const char *cets = json_is_string(cet) ? json_string_value(cet) : NULL;
    if (cet && !json_is_null(cet) && !cets) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: class_embed_type must be a string or null", path);
        goto done;
    }
    if (!cets) {
        c->class_embed = nce > 0 ? GD_CLASS_EMBED_TABLE : GD_CLASS_EMBED_NONE;
        c->num_class_embeds = nce;
    } else if (!strcmp(cets, "timestep")) {
        c->class_embed = GD_CLASS_EMBED_TIMESTEP;
    } else if (!strcmp(cets, "identity")) {
        c->class_embed = GD_CLASS_EMBED_IDENTITY;
    } else {
        s = gd_error_set(err, GD_ERR_FORMAT,
                         "%s: class_embed_type \"%s\" is not supported (null, timestep, identity)",
                         path, cets);
        goto done;
    }
    s = gd_unet_config_validate(c, path, err);
done:
    json_decref(root);
    return s;
}

/* ---- saving ---- */
static json_t *block_list(const gd_unet_config *c, const int *flags, const char *plain,
                          const char *attn) {
    json_t *a = json_array();
    for (int i = 0; i < c->n_blocks; i++) json_array_append_new(a, json_string(flags[i] ? attn : plain));
    return a;
}

char *gd_unet_config_dumps(const gd_unet_config *c) {
    json_t *o = json_object();
    json_t *boc = json_array();
    for (int i = 0; i < c->n_blocks; i++) json_array_append_new(boc, json_integer(c->block_out_channels[i]));
    json_object_set_new(o, "_class_name", json_string("UNet2DModel"));
    json_object_set_new(o, "_diffusers_version", json_string("0.27.2"));
    json_object_set_new(o, "act_fn", json_string("silu"));
    json_object_set_new(o, "add_attention", json_boolean(c->add_attention));
    json_object_set_new(o, "attention_head_dim",
                        c->attention_head_dim ? json_integer(c->attention_head_dim) : json_null());
    json_object_set_new(o, "attn_norm_num_groups",
                        c->attn_norm_num_groups ? json_integer(c->attn_norm_num_groups) : json_null());
    json_object_set_new(o, "block_out_channels", boc);
    json_object_set_new(o, "center_input_sample", json_false());
    const char *cet = c->class_embed == GD_CLASS_EMBED_TIMESTEP   ? "timestep"
                      : c->class_embed == GD_CLASS_EMBED_IDENTITY ? "identity"
                                                                  : NULL;
    json_object_set_new(o, "class_embed_type", cet ? json_string(cet) : json_null());
    json_object_set_new(o, "down_block_types",
                        block_list(c, c->down_attn, "DownBlock2D", "AttnDownBlock2D"));
    json_object_set_new(o, "downsample_padding", json_integer(c->downsample_padding));
    json_object_set_new(o, "downsample_type", json_string("conv"));
    json_object_set_new(o, "dropout", json_real(0.0));
    json_object_set_new(o, "flip_sin_to_cos", json_boolean(c->flip_sin_to_cos));
    json_object_set_new(o, "freq_shift", json_integer((json_int_t)c->freq_shift));
    json_object_set_new(o, "in_channels", json_integer(c->in_channels));
    json_object_set_new(o, "layers_per_block", json_integer(c->layers_per_block));
    json_object_set_new(o, "mid_block_scale_factor", json_integer(1));
    json_object_set_new(o, "norm_eps", json_real(c->norm_eps));
    json_object_set_new(o, "norm_num_groups", json_integer(c->norm_num_groups));
    json_object_set_new(o, "num_class_embeds", c->class_embed == GD_CLASS_EMBED_TABLE
                                                   ? json_integer(c->num_class_embeds)
                                                   : json_null());
    json_object_set_new(o, "num_train_timesteps", json_null());
    json_object_set_new(o, "out_channels", json_integer(c->out_channels));
    json_object_set_new(o, "resnet_time_scale_shift", json_string("default"));
    json_object_set_new(o, "sample_size", json_integer(c->sample_size));
    json_object_set_new(o, "time_embedding_type", json_string("positional"));
    json_object_set_new(o, "up_block_types", block_list(c, c->up_attn, "UpBlock2D", "AttnUpBlock2D"));
    json_object_set_new(o, "upsample_type", json_string("conv"));
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    json_decref(o);
    return text;
}

gd_status gd_unet_config_save(const gd_unet_config *c, const char *path, gd_error *err) {
    gd_status s = gd_unet_config_validate(c, path, err);
    if (s) return s;
    char *text = gd_unet_config_dumps(c);
    s = gd_write_text_atomic(path, text, err);
    free(text);
    return s;
}
