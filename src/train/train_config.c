/* train_config.c - the training configuration: defaults, names, the learning-rate schedule and
 * the JSON form stored in run.json and in the training state (see train.h). */
#include "gmmdiff/train.h"
#include "gmmdiff/classifier.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gd_train_config_default(gd_train_config *c) {
    memset(c, 0, sizeof *c);
    c->seed = 0;
    c->steps = 1000;
    c->batch = 64;
    c->lr = 1e-3f;
    c->warmup = 100;
    c->lr_schedule = GD_LR_COSINE;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->adam_eps = 1e-8f;
    c->weight_decay = 0.0f;
    c->clip = 1.0f;
    c->ema_max_decay = 0.999f;
    c->ema_power = 0.75f;
    c->cond = GD_COND_CLASS;
    c->cond_drop = 0.1f;
    c->cond_sigma = -1.0f;
    c->cond_components = 3;
    c->clusters = 10;
    c->aux_weight = 0.0f;
    c->aux_classifier[0] = 0;
    c->aux_loss = -1;
    c->cluster_dims = 16;
    gd_scheduler_config_default(&c->sched);
}

static const char *cond_names[] = {"none", "class", "feature", "cluster"};
static const char *lr_names[] = {"constant", "cosine"};
static const char *beta_names[] = {"linear", "scaled_linear", "squaredcos_cap_v2"};
static const char *pred_names[] = {"epsilon", "v_prediction", "sample"};

gd_status gd_cond_mode_parse(const char *s, gd_cond_mode *out) {
    for (int i = 0; i < (int)(sizeof cond_names / sizeof *cond_names); i++)
        if (!strcmp(s, cond_names[i])) {
            *out = (gd_cond_mode)i;
            return GD_OK;
        }
    return GD_ERR_ARG;
}
const char *gd_cond_mode_name(gd_cond_mode m) { return cond_names[m]; }

gd_status gd_lr_schedule_parse(const char *s, gd_lr_schedule *out) {
    for (int i = 0; i < 2; i++)
        if (!strcmp(s, lr_names[i])) {
            *out = (gd_lr_schedule)i;
            return GD_OK;
        }
    return GD_ERR_ARG;
}
const char *gd_lr_schedule_name(gd_lr_schedule s) { return lr_names[s]; }

float gd_train_cond_sigma(const gd_train_config *c) {
    if (c->cond_sigma >= 0) return c->cond_sigma;
    return c->cond == GD_COND_FEATURE || c->cond == GD_COND_CLUSTER ? 0.1f : 0.0f;
}

int gd_train_gmm_condition(const gd_train_config *c) {
    return c->cond == GD_COND_FEATURE || c->cond == GD_COND_CLUSTER ||
           (c->cond == GD_COND_CLASS && gd_train_cond_sigma(c) > 0);
}

float gd_train_lr(const gd_train_config *c, int64_t step) {
    /* diffusers' get_{constant,cosine}_schedule_with_warmup, evaluated at step - 1 */
    double s = (double)(step - 1);
    if (s < c->warmup) return (float)(c->lr * s / (c->warmup > 0 ? c->warmup : 1));
    if (c->lr_schedule == GD_LR_CONSTANT) return c->lr;
    double span = c->steps - c->warmup;
    double p = span > 0 ? (s - c->warmup) / span : 1.0;
    if (p > 1.0) p = 1.0;
    return (float)(c->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * p)));
}

void gd_train_default_unet(gd_unet_config *u, const gd_dataset *d, gd_cond_mode cond) {
    gd_unet_config_default(u);
    u->sample_size = d->h;
    u->in_channels = u->out_channels = d->c;
    u->n_blocks = 3;
    const int ch[3] = {32, 64, 64};
    for (int i = 0; i < 3; i++) {
        u->block_out_channels[i] = ch[i];
        u->down_attn[i] = i == 2;
        u->up_attn[i] = i == 0;
    }
    u->layers_per_block = 1;
    u->norm_num_groups = 8;
    u->attention_head_dim = 8;
    u->add_attention = 1;
    if (cond == GD_COND_CLASS) {
        u->class_embed = GD_CLASS_EMBED_TABLE;
        u->num_class_embeds = d->n_classes + 1;
    } else if (cond == GD_COND_FEATURE || cond == GD_COND_CLUSTER) {
        u->class_embed = GD_CLASS_EMBED_IDENTITY;
        u->num_class_embeds = 0;
    } else {
        u->class_embed = GD_CLASS_EMBED_NONE;
        u->num_class_embeds = 0;
    }
}

/* a float as the shortest decimal that reads back as the same float, so 0.9f is written 0.9 */
static json_t *jf(float v) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return json_real(strtod(buf, NULL));
}

char *gd_train_config_json(const gd_train_config *c, const gd_unet_config *u,
                           const gd_dataset *d) {
    json_t *o = json_object();
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    json_object_set_new(o, "seed", json_string(seed));
    json_object_set_new(o, "steps", json_integer(c->steps));
    json_object_set_new(o, "batch", json_integer(c->batch));
    json_object_set_new(o, "lr", jf(c->lr));
    json_object_set_new(o, "warmup", json_integer(c->warmup));
    json_object_set_new(o, "lr_schedule", json_string(lr_names[c->lr_schedule]));
    json_object_set_new(o, "adam_beta1", jf(c->beta1));
    json_object_set_new(o, "adam_beta2", jf(c->beta2));
    json_object_set_new(o, "adam_eps", jf(c->adam_eps));
    json_object_set_new(o, "weight_decay", jf(c->weight_decay));
    json_object_set_new(o, "clip", jf(c->clip));
    json_object_set_new(o, "ema_max_decay", jf(c->ema_max_decay));
    json_object_set_new(o, "ema_power", jf(c->ema_power));
    json_object_set_new(o, "cond", json_string(cond_names[c->cond]));
    json_object_set_new(o, "cond_drop", jf(c->cond_drop));
    if (gd_train_gmm_condition(c))
        json_object_set_new(o, "cond_sigma", jf(gd_train_cond_sigma(c)));
    if (c->cond == GD_COND_FEATURE || c->cond == GD_COND_CLUSTER)
        json_object_set_new(o, "cond_components", json_integer(c->cond_components));
    if (c->aux_weight > 0) {
        json_object_set_new(o, "aux_weight", jf(c->aux_weight));
        json_object_set_new(o, "aux_classifier", json_string(c->aux_classifier));
        json_object_set_new(o, "aux_loss", json_string(c->aux_loss < 0 ? "classifier"
                                                       : gd_classifier_loss_name(c->aux_loss)));
    }
    if (c->cond == GD_COND_CLUSTER) {
        json_object_set_new(o, "clusters", json_integer(c->clusters));
        json_object_set_new(o, "cluster_dims", json_integer(c->cluster_dims));
    }
    json_object_set_new(o, "num_train_timesteps", json_integer(c->sched.num_train_timesteps));
    json_object_set_new(o, "beta_schedule", json_string(beta_names[c->sched.beta_schedule]));
    json_object_set_new(o, "beta_start", jf(c->sched.beta_start));
    json_object_set_new(o, "beta_end", jf(c->sched.beta_end));
    json_object_set_new(o, "prediction_type", json_string(pred_names[c->sched.prediction]));
    if (u) {
        char *ut = gd_unet_config_dumps(u);
        json_t *uj = ut ? json_loads(ut, 0, NULL) : NULL;
        free(ut);
        if (uj) json_object_set_new(o, "unet", uj);
    }
    if (d) {
        json_t *dj = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "name", d->name, "n", d->n,
                               "channels", d->c, "height", d->h, "width", d->w, "n_classes",
                               d->n_classes);
        json_t *attrs = json_array();
        for (int a = 0; a < d->n_attrs; a++) {
            const gd_attr *at = &d->attrs[a];
            json_t *aj = json_pack("{s:s, s:s}", "name", at->name, "kind",
                                   at->kind == GD_ATTR_CATEGORICAL ? "categorical" : "continuous");
            if (at->kind == GD_ATTR_CATEGORICAL) {
                json_t *vals = json_array();
                for (int k = 0; k < at->n_values; k++) json_array_append_new(vals, json_string(at->values[k]));
                json_object_set_new(aj, "values", vals);
            }
            json_array_append_new(attrs, aj);
        }
        json_object_set_new(dj, "attributes", attrs);
        json_object_set_new(o, "data", dj);
    }
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(o);
    return text;
}

/* reads one key of the train configuration; absent keys keep their value */
static gd_status read_key(gd_train_config *c, const char *key, json_t *v, const char *what,
                          gd_error *err) {
    const char *f_keys[] = {"lr", "adam_beta1", "adam_beta2", "adam_eps", "weight_decay",
                            "clip", "ema_max_decay", "ema_power", "cond_drop", "beta_start",
                            "beta_end", "cond_sigma", "aux_weight"};
    float *f_dst[] = {&c->lr, &c->beta1, &c->beta2, &c->adam_eps, &c->weight_decay, &c->clip,
                      &c->ema_max_decay, &c->ema_power, &c->cond_drop, &c->sched.beta_start,
                      &c->sched.beta_end, &c->cond_sigma, &c->aux_weight};
    for (size_t i = 0; i < sizeof f_keys / sizeof *f_keys; i++)
        if (!strcmp(key, f_keys[i])) {
            if (!json_is_number(v) || !isfinite(json_number_value(v)))
                return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' must be a finite number", what, key);
            *f_dst[i] = (float)json_number_value(v);
            return GD_OK;
        }
    const char *i_keys[] = {"steps", "batch", "warmup", "num_train_timesteps", "cond_components",
                            "clusters", "cluster_dims"};
    int *i_dst[] = {&c->steps, &c->batch, &c->warmup, &c->sched.num_train_timesteps,
                    &c->cond_components, &c->clusters, &c->cluster_dims};
    for (size_t i = 0; i < sizeof i_keys / sizeof *i_keys; i++)
        if (!strcmp(key, i_keys[i])) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000)
                return gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' must be a non-negative integer", what, key);
            *i_dst[i] = (int)json_integer_value(v);
            return GD_OK;
        }
    const char *s = json_string_value(v);
    if (!strcmp(key, "aux_classifier")) {
        if (!s || strlen(s) >= sizeof c->aux_classifier)
            return gd_error_set(err, GD_ERR_FORMAT, "%s: 'aux_classifier' must be a path", what);
        snprintf(c->aux_classifier, sizeof c->aux_classifier, "%s", s);
        return GD_OK;
    }
    if (!strcmp(key, "aux_loss")) {
        gd_classifier_loss l;
        if (s && !strcmp(s, "classifier")) c->aux_loss = -1;
        else if (s && !gd_classifier_loss_parse(s, &l)) c->aux_loss = (int)l;
        else return gd_error_set(err, GD_ERR_FORMAT, "%s: 'aux_loss' must be bce, ngmg or "
                                 "classifier", what);
        return GD_OK;
    }
    if (!strcmp(key, "seed")) {
        char *end;
        unsigned long long x = s ? strtoull(s, &end, 10) : 0;
        if (!s || !*s || *end)
            return gd_error_set(err, GD_ERR_FORMAT, "%s: 'seed' must be a decimal string", what);
        c->seed = x;
        return GD_OK;
    }
    int bad = 0;
    if (!strcmp(key, "lr_schedule")) bad = !s || gd_lr_schedule_parse(s, &c->lr_schedule);
    else if (!strcmp(key, "cond")) bad = !s || gd_cond_mode_parse(s, &c->cond);
    else if (!strcmp(key, "beta_schedule")) bad = !s || gd_beta_schedule_parse(s, &c->sched.beta_schedule);
    else if (!strcmp(key, "prediction_type")) bad = !s || gd_prediction_parse(s, &c->sched.prediction);
    else if (!strcmp(key, "unet") || !strcmp(key, "data")) return GD_OK; /* described elsewhere */
    else return gd_error_set(err, GD_ERR_FORMAT, "%s: unknown key '%s'", what, key);
    if (bad) return gd_error_set(err, GD_ERR_FORMAT, "%s: bad value of '%s'", what, key);
    return GD_OK;
}

gd_status gd_train_config_from_json(gd_train_config *c, const char *json, const char *what,
                                     gd_error *err) {
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return gd_error_set(err, GD_ERR_FORMAT, "%s: not a JSON object (%s)", what,
                            root ? "wrong type" : je.text);
    }
    gd_status s = GD_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if ((s = read_key(c, key, v, what, err))) break;
    }
    json_decref(root);
    return s;
}
