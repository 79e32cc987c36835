/* mlp.c - the residual MLP denoiser as a graph, its initialisation and its checkpoint
 * directory (architecture and parameter names: mlp.h). */
#include "gmmdiff/mlp.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* name.weight [oc, ic], name.bias [oc]; x [N, ic] -> [N, oc] */
static gd_t linear(gd_graph *g, gd_t x, const char *name, int ic, int oc) {
    char n[GD_NAME_MAX];
    snprintf(n, sizeof n, "%.100s.weight", name);
    gd_t w = gd_param(g, n, 2, (int[]){oc, ic});
    snprintf(n, sizeof n, "%.100s.bias", name);
    gd_t b = gd_param(g, n, 1, (int[]){oc});
    return gd_op_linear(g, x, w, b);
}

gd_mlp_io gd_mlp_declare(gd_graph *g, const gd_mlp_config *c, int N) {
    GD_ASSERT_MSG(gd_mlp_config_validate(c, "mlp config", NULL) == GD_OK,
                  "gd_mlp_declare needs a valid config (gd_mlp_config_validate)");
    GD_ASSERT(g && N > 0);
    int E = c->temb, H = c->hidden;
    gd_mlp_io io;
    io.x = gd_input(g, "sample", 2, (int[]){N, c->dim}, 1);
    io.t = gd_input(g, "timestep", 1, (int[]){N}, 0);
    io.cls = -1;

    gd_t s = gd_op_timestep_embedding(g, io.t, E, c->flip_sin_to_cos, c->freq_shift); /* [N,E] */
    gd_t emb = gd_op_silu(g, linear(g, s, "time_embedding.linear_1", E, E));
    emb = linear(g, emb, "time_embedding.linear_2", E, E);                            /* [N,E] */
    if (c->cond == GD_MLP_COND_TABLE) {
        io.cls = gd_input(g, "class_labels", 1, (int[]){N}, 0);
        gd_t table = gd_param(g, "class_embedding.weight", 2, (int[]){c->num_classes, E});
        emb = gd_op_add(g, emb, gd_op_embedding(g, io.cls, table));
    } else if (c->cond == GD_MLP_COND_IDENTITY) {
        io.cls = gd_input(g, "class_labels", 2, (int[]){N, c->cond_dim}, 1);
        emb = gd_op_add(g, emb, io.cls);
    }
    gd_t e = gd_op_silu(g, emb); /* [N, E], shared by every block */

    gd_t h = linear(g, io.x, "linear_in", c->dim, H); /* [N, H] */
    char n[GD_NAME_MAX];
    for (int i = 0; i < c->n_layers; i++) {
        snprintf(n, sizeof n, "blocks.%d.linear_a", i);
        gd_t a = linear(g, gd_op_silu(g, h), n, H, H);
        snprintf(n, sizeof n, "blocks.%d.time_emb_proj", i);
        a = gd_op_add(g, a, linear(g, e, n, E, H));
        snprintf(n, sizeof n, "blocks.%d.linear_b", i);
        h = gd_op_add(g, h, linear(g, gd_op_silu(g, a), n, H, H));
    }
    io.out = linear(g, gd_op_silu(g, h), "linear_out", H, c->dim); /* [N, dim] */
    return io;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void gd_mlp_init(gd_graph *g, gd_rng *rng) {
    GD_ASSERT(g && rng);
    for (int i = 0; i < gd_graph_num_params(g); i++) {
        gd_t t = gd_graph_param(g, i);
        const char *name = gd_name(g, t);
        float *d = gd_data(g, t);
        size_t n = gd_numel(g, t);
        if (!strcmp(name, "class_embedding.weight")) {
            gd_rng_fill_normal(rng, d, n, 0.0f, 1.0f);
        } else if (gd_ndim(g, t) == 2) {
            float bound = 1.0f / sqrtf((float)gd_shape(g, t)[1]);
            gd_rng_fill_uniform(rng, d, n, -bound, bound);
        } else { /* a bias: bound from its weight's fan-in */
            char wname[GD_NAME_MAX];
            GD_ASSERT_MSG(ends_with(name, ".bias"), "mlp init: unknown parameter");
            snprintf(wname, sizeof wname, "%.*s.weight", (int)(strlen(name) - 5), name);
            gd_t w = gd_graph_find(g, wname);
            GD_ASSERT_MSG(w >= 0, "mlp init: a bias without its weight");
            float bound = 1.0f / sqrtf((float)gd_shape(g, w)[1]);
            gd_rng_fill_uniform(rng, d, n, -bound, bound);
        }
    }
}

gd_status gd_mlp_load_weights(gd_graph *g, const char *dir, gd_error *err) {
    GD_ASSERT(g && dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    return gd_graph_load_file(g, path, err);
}

gd_status gd_mlp_save(const gd_graph *g, const gd_mlp_config *c, const char *dir,
                      gd_error *err) {
    GD_ASSERT(g && c && dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    gd_status s = gd_mlp_config_validate(c, path, err);
    if (s) return s;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    s = gd_graph_save_params(g, path, err);
    if (s) return s;
    snprintf(path, sizeof path, "%s/config.json", dir);
    return gd_mlp_config_save(c, path, err);
}
