/* scheduler_config.c - diffusers' scheduler_config.json: the schedule a model was trained with. */
#include "gmmdiff/diffusion.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *beta_names[] = {"linear", "scaled_linear", "squaredcos_cap_v2"};
static const char *pred_names[] = {"epsilon", "v_prediction", "sample"};

void gd_scheduler_config_default(gd_scheduler_config *c) {
    c->num_train_timesteps = 1000;
    c->beta_schedule = GD_BETA_LINEAR;
    c->beta_start = 1e-4f;
    c->beta_end = 0.02f;
    c->prediction = GD_PRED_EPSILON;
    c->clip_sample = 1;
    c->clip_sample_range = 1.0f;
}

gd_status gd_scheduler_config_load(gd_scheduler_config *c, const char *path, gd_error *err) {
    gd_scheduler_config_default(c);
    FILE *f = fopen(path, "r");
    if (!f) return gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return gd_error_set(err, GD_ERR_FORMAT, "%s: not a JSON object (%s)", path,
                            root ? "wrong type" : je.text);
    }
    gd_status s = GD_OK;
    json_t *v;
    if ((v = json_object_get(root, "num_train_timesteps")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 2 ||
            json_integer_value(v) > GD_MAX_TRAIN_STEPS)
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: 'num_train_timesteps' must be an integer in "
                             "[2, %d]", path, GD_MAX_TRAIN_STEPS);
        else c->num_train_timesteps = (int)json_integer_value(v);
    }
    const char *fkeys[3] = {"beta_start", "beta_end", "clip_sample_range"};
    float *fdst[3] = {&c->beta_start, &c->beta_end, &c->clip_sample_range};
    for (int i = 0; !s && i < 3; i++)
        if ((v = json_object_get(root, fkeys[i])) && !json_is_null(v)) {
            if (!json_is_number(v)) s = gd_error_set(err, GD_ERR_FORMAT, "%s: '%s' must be a number", path, fkeys[i]);
            else *fdst[i] = (float)json_number_value(v);
        }
    if (!s && (v = json_object_get(root, "clip_sample")) && !json_is_null(v)) {
        if (!json_is_boolean(v)) s = gd_error_set(err, GD_ERR_FORMAT, "%s: 'clip_sample' must be true or false", path);
        else c->clip_sample = json_is_true(v);
    }
    if (!s && (v = json_object_get(root, "beta_schedule")) &&
        (!json_is_string(v) || gd_beta_schedule_parse(json_string_value(v), &c->beta_schedule)))
        s = gd_error_set(err, GD_ERR_FORMAT,
                         "%s: beta_schedule must be linear, scaled_linear or squaredcos_cap_v2", path);
    if (!s && (v = json_object_get(root, "prediction_type")) &&
        (!json_is_string(v) || gd_prediction_parse(json_string_value(v), &c->prediction)))
        s = gd_error_set(err, GD_ERR_FORMAT,
                         "%s: prediction_type must be epsilon, v_prediction or sample", path);
    if (!s && (v = json_object_get(root, "trained_betas")) && !json_is_null(v))
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: trained_betas is not supported", path);
    json_decref(root);
    return s;
}

gd_status gd_scheduler_config_save(const gd_scheduler_config *c, const char *path, gd_error *err) {
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:f, s:f, s:s, s:b, s:f, s:s}",
                          "_class_name", "DDPMScheduler", "_diffusers_version", "0.27.2",
                          "num_train_timesteps", c->num_train_timesteps, "beta_schedule",
                          beta_names[c->beta_schedule], "beta_start", (double)c->beta_start,
                          "beta_end", (double)c->beta_end, "prediction_type",
                          pred_names[c->prediction], "clip_sample", c->clip_sample,
                          "clip_sample_range", (double)c->clip_sample_range, "variance_type",
                          "fixed_small");
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    gd_status s = gd_write_text_atomic(path, text, err);
    free(text);
    return s;
}

gd_status gd_schedule_from_config(gd_noise_schedule *s, const gd_scheduler_config *c,
                                  gd_error *err) {
    return gd_schedule_init(s, c->beta_schedule, c->num_train_timesteps, c->beta_start,
                            c->beta_end, err);
}
