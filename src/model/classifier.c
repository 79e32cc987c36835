/* classifier.c - the attribute classifier (classifier.h): config, graph, weights. */
#include "gmmdiff/classifier.h"
#include "gmmdiff/ops.h"
#include "gmmdiff/unet.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLS_TEMB_IN 64
#define CLS_TEMB 128

int gd_classifier_n_out(const gd_classifier_config *c) {
    int n = 0;
    for (int h = 0; h < c->n_heads; h++) n += c->head_values[h];
    return n;
}

int gd_classifier_offset(const gd_classifier_config *c, int head) {
    int n = 0;
    for (int h = 0; h < head; h++) n += c->head_values[h];
    return n;
}

static void config_base(gd_classifier_config *c, int in_channels, int size, int time_cond) {
    memset(c, 0, sizeof *c);
    c->in_channels = in_channels;
    c->sample_size = size;
    c->n_levels = 3;
    c->channels[0] = 32;
    c->channels[1] = 32;
    c->channels[2] = 64;
    c->channels[3] = 64;
    c->hidden = 128;
    c->norm_num_groups = 8;
    c->time_cond = time_cond;
    c->loss = GD_CLS_LOSS_BCE;
    c->ngmg_min = 0.5f;
    c->ngmg_max = 8.0f;
    c->ngmg_widths = 5;
}

static const char *loss_names[] = {"bce", "ngmg"};
gd_status gd_classifier_loss_parse(const char *s, gd_classifier_loss *out) {
    for (int i = 0; i < 2; i++)
        if (!strcmp(s, loss_names[i])) {
            *out = (gd_classifier_loss)i;
            return GD_OK;
        }
    return GD_ERR_ARG;
}
const char *gd_classifier_loss_name(gd_classifier_loss l) { return loss_names[l]; }

gd_status gd_classifier_config_for(gd_classifier_config *c, const gd_dataset *d, int time_cond,
                                   gd_error *err) {
    if (d->h != d->w)
        return gd_error_set(err, GD_ERR_ARG, "classifier: images must be square (%dx%d)", d->h,
                            d->w);
    config_base(c, d->c, d->h, time_cond);
    for (int a = 0; a < d->n_attrs; a++) {
        if (d->attrs[a].kind != GD_ATTR_CATEGORICAL) continue;
        if (c->n_heads == GD_CLS_MAX_HEADS)
            return gd_error_set(err, GD_ERR_ARG,
                                "classifier: data set '%s' has more than %d categorical attributes",
                                d->name, GD_CLS_MAX_HEADS);
        int h = c->n_heads++;
        snprintf(c->head_names[h], GD_DATA_NAME_MAX, "%s", d->attrs[a].name);
        c->head_values[h] = d->attrs[a].n_values;
        for (int v = 0; v < d->attrs[a].n_values; v++)
            snprintf(c->value_names[h][v], GD_DATA_NAME_MAX, "%s", d->attrs[a].values[v]);
        c->head_attr[h] = a;
    }
    if (!c->n_heads)
        return gd_error_set(err, GD_ERR_ARG, "classifier: data set '%s' has no categorical attribute",
                            d->name);
    return GD_OK;
}

gd_status gd_classifier_bind(gd_classifier_config *c, const gd_dataset *d, gd_error *err) {
    if (d->c != c->in_channels || d->h != c->sample_size || d->w != c->sample_size)
        return gd_error_set(err, GD_ERR_SHAPE,
                            "classifier: it reads %dx%dx%d images, the data set '%s' has %dx%dx%d",
                            c->in_channels, c->sample_size, c->sample_size, d->name, d->c, d->h,
                            d->w);
    for (int h = 0; h < c->n_heads; h++) {
        int a = gd_dataset_attr_index(d, c->head_names[h]);
        if (a < 0 || d->attrs[a].kind != GD_ATTR_CATEGORICAL ||
            d->attrs[a].n_values != c->head_values[h])
            return gd_error_set(err, GD_ERR_ARG,
                                "classifier: its head '%s' (%d values) has no matching categorical "
                                "attribute in data set '%s'",
                                c->head_names[h], c->head_values[h], d->name);
        c->head_attr[h] = a;
    }
    return GD_OK;
}

/* ---- config.json ---- */

gd_status gd_classifier_config_save(const gd_classifier_config *c, const char *path,
                                    gd_error *err) {
    json_t *o = json_object(), *ch = json_array(), *heads = json_array();
    json_object_set_new(o, "format", json_string("gmmdiff-classifier"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "in_channels", json_integer(c->in_channels));
    json_object_set_new(o, "sample_size", json_integer(c->sample_size));
    for (int i = 0; i <= c->n_levels; i++) json_array_append_new(ch, json_integer(c->channels[i]));
    json_object_set_new(o, "channels", ch);
    json_object_set_new(o, "hidden", json_integer(c->hidden));
    json_object_set_new(o, "norm_num_groups", json_integer(c->norm_num_groups));
    json_object_set_new(o, "time_cond", json_boolean(c->time_cond));
    json_object_set_new(o, "loss", json_string(loss_names[c->loss]));
    if (c->loss == GD_CLS_LOSS_NGMG) {
        json_t *n = json_object();
        json_object_set_new(n, "s_min", json_real(c->ngmg_min));
        json_object_set_new(n, "s_max", json_real(c->ngmg_max));
        json_object_set_new(n, "widths", json_integer(c->ngmg_widths));
        json_object_set_new(o, "ngmg", n);
    }
    for (int h = 0; h < c->n_heads; h++) {
        json_t *hd = json_object(), *vals = json_array();
        json_object_set_new(hd, "name", json_string(c->head_names[h]));
        for (int v = 0; v < c->head_values[h]; v++)
            json_array_append_new(vals, json_string(c->value_names[h][v]));
        json_object_set_new(hd, "values", vals);
        json_array_append_new(heads, hd);
    }
    json_object_set_new(o, "heads", heads);
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    gd_status s = gd_write_text_atomic(path, text, err);
    free(text);
    return s;
}

static int get_int(json_t *o, const char *key, int lo, int hi, int *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) return 0;
    *out = (int)x;
    return 1;
}

gd_status gd_classifier_config_load(gd_classifier_config *c, const char *path, gd_error *err) {
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: not valid JSON (line %d: %s)", path, je.line,
                            je.text);
    gd_status s = GD_OK;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        s = gd_error_set(err, GD_ERR_FORMAT, __VA_ARGS__);                                         \
        goto done;                                                                                 \
    } while (0)
    memset(c, 0, sizeof *c);
    json_t *fmt = json_object_get(o, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "gmmdiff-classifier"))
        BAD("%s: not a gmmdiff classifier config (format is not \"gmmdiff-classifier\")", path);
    int version = 0;
    if (!get_int(o, "version", 1, 1, &version)) BAD("%s: unsupported version (expected 1)", path);
    if (!get_int(o, "in_channels", 1, 16, &c->in_channels))
        BAD("%s: in_channels must be an integer in [1, 16]", path);
    if (!get_int(o, "sample_size", 4, 1024, &c->sample_size))
        BAD("%s: sample_size must be an integer in [4, 1024]", path);
    if (!get_int(o, "hidden", 1, 65536, &c->hidden))
        BAD("%s: hidden must be an integer in [1, 65536]", path);
    if (!get_int(o, "norm_num_groups", 1, 1024, &c->norm_num_groups))
        BAD("%s: norm_num_groups must be an integer in [1, 1024]", path);
    json_t *tc = json_object_get(o, "time_cond");
    if (!json_is_boolean(tc)) BAD("%s: time_cond must be true or false", path);
    c->time_cond = json_is_true(tc);
    json_t *ls = json_object_get(o, "loss"); /* absent: bce (the first format had no choice) */
    c->loss = GD_CLS_LOSS_BCE;
    c->ngmg_min = 0.5f; /* the default ladder, used when the loss is replaced by NGMG */
    c->ngmg_max = 8.0f;
    c->ngmg_widths = 5;
    if (ls && (!json_is_string(ls) || gd_classifier_loss_parse(json_string_value(ls),
                                                               (gd_classifier_loss *)&c->loss)))
        BAD("%s: loss must be \"bce\" or \"ngmg\"", path);
    if (c->loss == GD_CLS_LOSS_NGMG) {
        json_t *n = json_object_get(o, "ngmg");
        json_t *a = json_object_get(n, "s_min"), *b = json_object_get(n, "s_max");
        double sw[GD_NGMG_MAX_WIDTHS];
        if (!json_is_object(n) || !json_is_number(a) || !json_is_number(b) ||
            !get_int(n, "widths", 1, GD_NGMG_MAX_WIDTHS, &c->ngmg_widths))
            BAD("%s: an NGMG classifier needs \"ngmg\": {\"s_min\", \"s_max\", \"widths\"}", path);
        c->ngmg_min = (float)json_number_value(a);
        c->ngmg_max = (float)json_number_value(b);
        if (!gd_ngmg_widths(c->ngmg_min, c->ngmg_max, c->ngmg_widths, sw))
            BAD("%s: the NGMG ladder needs 0 < s_min <= s_max and 1 to %d widths", path,
                GD_NGMG_MAX_WIDTHS);
    }
    json_t *ch = json_object_get(o, "channels");
    if (!json_is_array(ch) || json_array_size(ch) < 2 || json_array_size(ch) > GD_CLS_MAX_LEVELS + 1)
        BAD("%s: channels must be a list of 2 to %d integers", path, GD_CLS_MAX_LEVELS + 1);
    c->n_levels = (int)json_array_size(ch) - 1;
    int side = c->sample_size;
    for (int i = 0; i <= c->n_levels; i++) {
        json_t *v = json_array_get(ch, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 4096)
            BAD("%s: channels[%d] must be an integer in [1, 4096]", path, i);
        c->channels[i] = (int)json_integer_value(v);
        if (i > 0 && c->channels[i] % c->norm_num_groups)
            BAD("%s: channels[%d] = %d is not divisible by norm_num_groups = %d", path, i,
                c->channels[i], c->norm_num_groups);
        if (i > 0) side = (side + 1) / 2;
    }
    if ((size_t)c->channels[c->n_levels] * (size_t)side * (size_t)side > 1u << 20)
        BAD("%s: the flattened features are too large", path);
    json_t *heads = json_object_get(o, "heads");
    if (!json_is_array(heads) || json_array_size(heads) < 1 ||
        json_array_size(heads) > GD_CLS_MAX_HEADS)
        BAD("%s: heads must be a list of 1 to %d heads", path, GD_CLS_MAX_HEADS);
    c->n_heads = (int)json_array_size(heads);
    for (int h = 0; h < c->n_heads; h++) {
        json_t *hd = json_array_get(heads, (size_t)h), *name = json_object_get(hd, "name"),
               *vals = json_object_get(hd, "values");
        if (!json_is_string(name) || strlen(json_string_value(name)) >= GD_DATA_NAME_MAX)
            BAD("%s: heads[%d].name must be a string shorter than %d", path, h, GD_DATA_NAME_MAX);
        snprintf(c->head_names[h], GD_DATA_NAME_MAX, "%s", json_string_value(name));
        if (!json_is_array(vals) || json_array_size(vals) < 2 ||
            json_array_size(vals) > GD_DATA_MAX_VALUES)
            BAD("%s: heads[%d].values must be a list of 2 to %d names", path, h,
                GD_DATA_MAX_VALUES);
        c->head_values[h] = (int)json_array_size(vals);
        for (int v = 0; v < c->head_values[h]; v++) {
            json_t *vn = json_array_get(vals, (size_t)v);
            if (!json_is_string(vn) || strlen(json_string_value(vn)) >= GD_DATA_NAME_MAX)
                BAD("%s: heads[%d].values[%d] must be a string shorter than %d", path, h, v,
                    GD_DATA_NAME_MAX);
            snprintf(c->value_names[h][v], GD_DATA_NAME_MAX, "%s", json_string_value(vn));
        }
        c->head_attr[h] = -1;
    }
#undef BAD
done:
    json_decref(o);
    return s;
}

/* ---- the graph ---- */

static gd_t param(gd_graph *g, int ndim, const int *shape, const char *fmt, int i) {
    char name[GD_NAME_MAX];
    snprintf(name, sizeof name, fmt, i);
    return gd_param(g, name, ndim, shape);
}

static gd_t conv(gd_graph *g, gd_t x, const char *prefix, int i, int ic, int oc, int stride) {
    char fw[64], fb[64];
    snprintf(fw, sizeof fw, "%s.weight", prefix);
    snprintf(fb, sizeof fb, "%s.bias", prefix);
    gd_t w = param(g, 4, (int[]){oc, ic, 3, 3}, fw, i);
    gd_t b = param(g, 1, (int[]){oc}, fb, i);
    return gd_op_conv2d(g, x, w, b, stride, 1);
}

static gd_t linear(gd_graph *g, gd_t x, const char *prefix, int i, int in, int out) {
    char fw[64], fb[64];
    snprintf(fw, sizeof fw, "%s.weight", prefix);
    snprintf(fb, sizeof fb, "%s.bias", prefix);
    gd_t w = param(g, 2, (int[]){out, in}, fw, i);
    gd_t b = param(g, 1, (int[]){out}, fb, i);
    return gd_op_linear(g, x, w, b);
}

gd_classifier_io gd_classifier_declare(gd_graph *g, const gd_classifier_config *c, int N,
                                       int x_requires_grad) {
    GD_ASSERT(c->n_levels >= 1 && c->n_levels <= GD_CLS_MAX_LEVELS && c->n_heads >= 1);
    gd_classifier_io io;
    int S = c->sample_size, n_out = gd_classifier_n_out(c);
    io.x = gd_input(g, "x", 4, (int[]){N, c->in_channels, S, S}, x_requires_grad);
    io.t = c->time_cond ? gd_input(g, "t", 1, (int[]){N}, 0) : -1;
    io.target = gd_input(g, "target", 2, (int[]){N, n_out}, 0);
    gd_t e = -1;
    if (c->time_cond) {
        gd_t s = gd_op_timestep_embedding(g, io.t, CLS_TEMB_IN, 1, 0.0f);
        e = linear(g, s, "time_embedding.linear_1", 0, CLS_TEMB_IN, CLS_TEMB);
        e = linear(g, gd_op_silu(g, e), "time_embedding.linear_2", 0, CLS_TEMB, CLS_TEMB);
        e = gd_op_silu(g, e);
    }
    gd_t h = conv(g, io.x, "conv_in", 0, c->in_channels, c->channels[0], 1);
    int side = S;
    for (int i = 1; i <= c->n_levels; i++) {
        int ic = c->channels[i - 1], oc = c->channels[i];
        h = conv(g, h, "levels.%d.conv", i - 1, ic, oc, 2);
        side = (side + 1) / 2;
        if (c->time_cond)
            h = gd_op_add_channel(g, h, linear(g, e, "levels.%d.time_proj", i - 1, CLS_TEMB, oc));
        gd_t nw = param(g, 1, (int[]){oc}, "levels.%d.norm.weight", i - 1);
        gd_t nb = param(g, 1, (int[]){oc}, "levels.%d.norm.bias", i - 1);
        h = gd_op_silu(g, gd_op_group_norm(g, h, nw, nb, c->norm_num_groups, 1e-5f));
    }
    int flat = c->channels[c->n_levels] * side * side;
    h = gd_op_reshape(g, h, 2, (int[]){N, flat});
    h = gd_op_silu(g, linear(g, h, "head.linear_1", 0, flat, c->hidden));
    io.features = h;
    io.logits = linear(g, h, "head.linear_2", 0, c->hidden, n_out);
    io.loss = c->loss == GD_CLS_LOSS_NGMG
                  ? gd_op_ngmg(g, io.logits, io.target, c->ngmg_min, c->ngmg_max, c->ngmg_widths)
                  : gd_op_bce_logits(g, io.logits, io.target);
    return io;
}

void gd_classifier_init_params(gd_graph *g, uint64_t seed) {
    gd_rng r;
    gd_rng_seed(&r, seed);
    gd_unet_init(g, &r); /* the same PyTorch default rules, by parameter name */
}

static gd_status create(gd_classifier *m, const gd_classifier_config *c, int batch,
                        uint64_t seed, int x_grad, gd_error *err) {
    memset(m, 0, sizeof *m);
    m->config = *c;
    m->batch = batch;
    m->g = gd_graph_new();
    if (!m->g) return gd_error_set(err, GD_ERR_NOMEM, "classifier: out of memory");
    m->io = gd_classifier_declare(m->g, c, batch, x_grad);
    gd_status s = gd_graph_plan(m->g, err);
    if (s) {
        gd_classifier_close(m);
        return s;
    }
    gd_classifier_init_params(m->g, seed);
    return GD_OK;
}

gd_status gd_classifier_create(gd_classifier *m, const gd_classifier_config *c, int batch,
                               uint64_t seed, gd_error *err) {
    return create(m, c, batch, seed, 0, err);
}

static gd_status open_dir(gd_classifier *m, const char *dir, int batch, int x_grad, int loss,
                          gd_error *err) {
    char path[4200];
    gd_classifier_config c;
    snprintf(path, sizeof path, "%s/config.json", dir);
    gd_status s = gd_classifier_config_load(&c, path, err);
    if (s) return s;
    if (loss >= 0) c.loss = loss; /* the loss op holds no weights */
    if ((s = create(m, &c, batch, 0, x_grad, err))) return s;
    snprintf(path, sizeof path, "%s/classifier.safetensors", dir);
    if ((s = gd_graph_load_file(m->g, path, err))) gd_classifier_close(m);
    return s;
}

gd_status gd_classifier_open(gd_classifier *m, const char *dir, int batch, gd_error *err) {
    return open_dir(m, dir, batch, 0, -1, err);
}

gd_status gd_classifier_open_guide(gd_classifier *m, const char *dir, int batch, int loss,
                                   gd_error *err) {
    return open_dir(m, dir, batch, 1, loss, err);
}

gd_status gd_classifier_parse_values(const gd_classifier_config *c, const char *spec, int *values,
                                     gd_error *err) {
    for (int h = 0; h < c->n_heads; h++) values[h] = -1;
    char buf[4096];
    if (strlen(spec) >= sizeof buf) return gd_error_set(err, GD_ERR_ARG, "'%s': too long", spec);
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return gd_error_set(err, GD_ERR_ARG, "'%s' is not attribute=value", tok);
        *eq = 0;
        int h = 0;
        while (h < c->n_heads && strcmp(c->head_names[h], tok)) h++;
        if (h == c->n_heads)
            return gd_error_set(err, GD_ERR_ARG, "the classifier has no attribute '%s'", tok);
        int v = 0;
        while (v < c->head_values[h] && strcmp(c->value_names[h][v], eq + 1)) v++;
        if (v == c->head_values[h])
            return gd_error_set(err, GD_ERR_ARG, "'%s' is not a value of the classifier's '%s'",
                                eq + 1, tok);
        values[h] = v;
    }
    for (int h = 0; h < c->n_heads; h++)
        if (values[h] < 0)
            return gd_error_set(err, GD_ERR_ARG, "guidance needs a value for every attribute of "
                                "the classifier; '%s' has none", c->head_names[h]);
    return GD_OK;
}

void gd_classifier_target_row(const gd_classifier_config *c, const int *values, float *row) {
    int off = 0;
    for (int h = 0; h < c->n_heads; h++) {
        for (int k = 0; k < c->head_values[h]; k++) row[off + k] = k == values[h] ? 1.0f : 0.0f;
        off += c->head_values[h];
    }
}

float gd_classifier_input_grad(gd_classifier *m) {
    gd_graph_forward(m->g);
    gd_graph_zero_grad(m->g);
    gd_graph_backward(m->g, m->io.loss);
    return gd_data(m->g, m->io.loss)[0];
}

gd_status gd_classifier_guide_grad(void *ctx, const float *x, int t, float *grad, gd_error *err) {
    (void)err;
    gd_classifier_guide *gc = ctx;
    gd_classifier *m = gc->m;
    const gd_classifier_config *c = &m->config;
    const size_t n = (size_t)m->batch * c->in_channels * c->sample_size * c->sample_size;
    const int n_out = gd_classifier_n_out(c);
    memcpy(gd_data(m->g, m->io.x), x, sizeof(float) * n);
    memcpy(gd_data(m->g, m->io.target), gc->target, sizeof(float) * (size_t)m->batch * n_out);
    if (c->time_cond) {
        float *tt = gd_data(m->g, m->io.t);
        for (int b = 0; b < m->batch; b++) tt[b] = (float)t;
    }
    gd_classifier_input_grad(m);
    /* the loss is a mean over batch x slots; each item's log-likelihood is minus its sum */
    const float k = -(float)m->batch * (float)n_out;
    const float *gx = gd_grad(m->g, m->io.x);
    for (size_t i = 0; i < n; i++) grad[i] = k * gx[i];
    return GD_OK;
}

gd_status gd_classifier_save(const gd_classifier *m, const char *dir, gd_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/classifier.safetensors", dir);
    gd_status s = gd_graph_save_params(m->g, path, err);
    if (s) return s;
    snprintf(path, sizeof path, "%s/config.json", dir);
    return gd_classifier_config_save(&m->config, path, err);
}

void gd_classifier_close(gd_classifier *m) {
    gd_graph_free(m->g);
    m->g = NULL;
}
