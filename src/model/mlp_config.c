/* mlp_config.c - the MLP denoiser's config.json: defaults, validation, load and save. */
#include "gmmdiff/mlp.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gd_mlp_config_default(gd_mlp_config *c) {
    memset(c, 0, sizeof *c);
    c->dim = 2;
    c->hidden = 128;
    c->n_layers = 3;
    c->temb = 64;
    c->flip_sin_to_cos = 1;
    c->freq_shift = 0.0f;
    c->cond = GD_MLP_COND_NONE;
}

gd_status gd_mlp_config_validate(const gd_mlp_config *c, const char *what, gd_error *err) {
#define BAD(...) return gd_error_set(err, GD_ERR_FORMAT, __VA_ARGS__)
    if (c->dim < 1 || c->dim > GD_MLP_MAX_WIDTH)
        BAD("%s: 'dim' = %d must be in [1, %d]", what, c->dim, GD_MLP_MAX_WIDTH);
    if (c->hidden < 1 || c->hidden > GD_MLP_MAX_WIDTH)
        BAD("%s: 'hidden' = %d must be in [1, %d]", what, c->hidden, GD_MLP_MAX_WIDTH);
    if (c->n_layers < 0 || c->n_layers > GD_MLP_MAX_LAYERS)
        BAD("%s: 'n_layers' = %d must be in [0, %d]", what, c->n_layers, GD_MLP_MAX_LAYERS);
    if (c->temb < 2 || c->temb > GD_MLP_MAX_WIDTH)
        BAD("%s: 'temb' = %d must be in [2, %d]", what, c->temb, GD_MLP_MAX_WIDTH);
    if (c->temb / 2 == (int)c->freq_shift && c->freq_shift != 0)
        BAD("%s: 'freq_shift' equals half of temb", what);
    if (c->cond == GD_MLP_COND_TABLE && (c->num_classes < 1 || c->num_classes > 1000000))
        BAD("%s: 'num_class_embeds' = %d must be in [1, 1000000]", what, c->num_classes);
    if (c->cond == GD_MLP_COND_IDENTITY && c->cond_dim != c->temb)
        BAD("%s: 'cond_dim' = %d must equal temb = %d (the identity condition is added to the "
            "time embedding as is)",
            what, c->cond_dim, c->temb);
    if (c->cond != GD_MLP_COND_NONE && c->cond != GD_MLP_COND_TABLE &&
        c->cond != GD_MLP_COND_IDENTITY)
        BAD("%s: unknown condition kind %d", what, (int)c->cond);
    return GD_OK;
#undef BAD
}

/* ---- loading ---- */
static const char *const known_keys[] = {"dim",        "hidden",           "n_layers",
                                         "temb",       "flip_sin_to_cos",  "freq_shift",
                                         "class_embed_type", "num_class_embeds", "cond_dim"};

static gd_status get_int(const char *path, json_t *root, const char *key, int *out,
                         gd_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return GD_OK;
    if (!json_is_integer(v))
        return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' must be an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < -1000000000 || x > 1000000000)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' is out of range", path, key);
    *out = (int)x;
    return GD_OK;
}

static gd_status get_float(const char *path, json_t *root, const char *key, float *out,
                           gd_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return GD_OK;
    if (!json_is_number(v))
        return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' must be a number", path, key);
    *out = (float)json_number_value(v);
    return GD_OK;
}

static gd_status get_bool(const char *path, json_t *root, const char *key, int *out,
                          gd_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return GD_OK;
    if (!json_is_boolean(v))
        return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' must be true or false", path, key);
    *out = json_is_true(v);
    return GD_OK;
}

/* every key is known or starts with '_'; _class_name, when present, names this model */
static gd_status check_keys(const char *path, json_t *root, gd_error *err) {
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (key[0] == '_') continue;
        int known = 0;
        for (size_t i = 0; i < sizeof known_keys / sizeof *known_keys; i++)
            known |= !strcmp(key, known_keys[i]);
        if (!known)
            return gd_error_set(err, GD_ERR_FORMAT, "%s: unknown key '%s' for GmmdiffMLP", path,
                                key);
    }
    json_t *cls = json_object_get(root, "_class_name");
    if (cls && (!json_is_string(cls) || strcmp(json_string_value(cls), "GmmdiffMLP")))
        return gd_error_set(err, GD_ERR_FORMAT, "%s: '_class_name' must be \"GmmdiffMLP\" (not %s)",
                            path, json_is_string(cls) ? json_string_value(cls) : "a string");
    return GD_OK;
}

gd_status gd_mlp_config_load(gd_mlp_config *c, const char *path, gd_error *err) {
    GD_ASSERT(c && path);
    FILE *f = fopen(path, "r");
    if (!f) return gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: not valid JSON: %s (line %d)", path, je.text,
                            je.line);
    gd_status s = GD_OK;
    gd_mlp_config_default(c);
    if (!json_is_object(root)) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    if ((s = check_keys(path, root, err))) goto done;
    if (!json_is_integer(json_object_get(root, "dim"))) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: missing key 'dim' (an integer)", path);
        goto done;
    }
    int nce = 0, cond_dim = 0;
    if ((s = get_int(path, root, "dim", &c->dim, err)) ||
        (s = get_int(path, root, "hidden", &c->hidden, err)) ||
        (s = get_int(path, root, "n_layers", &c->n_layers, err)) ||
        (s = get_int(path, root, "temb", &c->temb, err)) ||
        (s = get_bool(path, root, "flip_sin_to_cos", &c->flip_sin_to_cos, err)) ||
        (s = get_float(path, root, "freq_shift", &c->freq_shift, err)) ||
        (s = get_int(path, root, "num_class_embeds", &nce, err)) ||
        (s = get_int(path, root, "cond_dim", &cond_dim, err)))
        goto done;
    json_t *cet = json_object_get(root, "class_embed_type");
    const char *cets = json_is_string(cet) ? json_string_value(cet) : NULL;
    if (cet && !json_is_null(cet) && !cets) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: 'class_embed_type' must be a string or null",
                         path);
        goto done;
    }
    if (!cets) {
        if (cond_dim) {
            s = gd_error_set(err, GD_ERR_FORMAT,
                             "%s: 'cond_dim' needs 'class_embed_type': \"identity\"", path);
            goto done;
        }
        c->cond = nce > 0 ? GD_MLP_COND_TABLE : GD_MLP_COND_NONE;
        c->num_classes = nce;
    } else if (!strcmp(cets, "identity")) {
        if (nce) {
            s = gd_error_set(err, GD_ERR_FORMAT,
                             "%s: 'num_class_embeds' and 'class_embed_type' \"identity\" exclude "
                             "each other",
                             path);
            goto done;
        }
        c->cond = GD_MLP_COND_IDENTITY;
        c->cond_dim = cond_dim;
    } else {
        s = gd_error_set(err, GD_ERR_FORMAT,
                         "%s: 'class_embed_type' \"%s\" is not supported (null, identity)", path,
                         cets);
        goto done;
    }
    s = gd_mlp_config_validate(c, path, err);
done:
    json_decref(root);
    return s;
}

/* ---- saving ---- */
char *gd_mlp_config_dumps(const gd_mlp_config *c) {
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "_class_name", json_string("GmmdiffMLP"));
    json_object_set_new(o, "_gmmdiff_version", json_string(GD_VERSION_STRING));
    json_object_set_new(o, "class_embed_type",
                        c->cond == GD_MLP_COND_IDENTITY ? json_string("identity") : json_null());
    json_object_set_new(o, "cond_dim", c->cond == GD_MLP_COND_IDENTITY
                                           ? json_integer(c->cond_dim)
                                           : json_null());
    json_object_set_new(o, "dim", json_integer(c->dim));
    json_object_set_new(o, "flip_sin_to_cos", json_boolean(c->flip_sin_to_cos));
    json_object_set_new(o, "freq_shift", json_real(c->freq_shift));
    json_object_set_new(o, "hidden", json_integer(c->hidden));
    json_object_set_new(o, "n_layers", json_integer(c->n_layers));
    json_object_set_new(o, "num_class_embeds", c->cond == GD_MLP_COND_TABLE
                                                   ? json_integer(c->num_classes)
                                                   : json_null());
    json_object_set_new(o, "temb", json_integer(c->temb));
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    json_decref(o);
    return text;
}

gd_status gd_mlp_config_save(const gd_mlp_config *c, const char *path, gd_error *err) {
    GD_ASSERT(c && path);
    gd_status s = gd_mlp_config_validate(c, path, err);
    if (s) return s;
    char *text = gd_mlp_config_dumps(c);
    s = gd_write_text_atomic(path, text, err);
    free(text);
    return s;
}
