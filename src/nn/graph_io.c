/* graph_io.c - a graph's parameters to and from safetensors, by parameter name. */
#include "graph_internal.h"
#include "gmmdiff/safetensors.h"

#include <stdio.h>
#include <stdlib.h>

gd_status gd_graph_load_params(gd_graph *g, const gd_safetensors *st, const char *prefix,
                               gd_error *err) {
    GD_ASSERT(g && g->planned && st);
    char key[2 * GD_NAME_MAX];
    for (int i = 0; i < g->n_param_ids; i++) {
        gd_tensor *t = &g->t[g->param_ids[i]];
        snprintf(key, sizeof key, "%s%s", prefix ? prefix : "", t->name);
        int64_t shape[GD_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
        gd_status s = gd_st_read_f32(st, key, t->data, t->ndim, shape, err);
        if (s) return s;
    }
    return GD_OK;
}

gd_status gd_graph_load_file(gd_graph *g, const char *path, gd_error *err) {
    gd_safetensors st;
    gd_status s = gd_st_open(&st, path, err);
    if (s) return s;
    s = gd_graph_load_params(g, &st, "", err);
    /* a tensor the config does not explain means the two disagree */
    for (int i = 0; !s && i < st.n; i++)
        if (gd_graph_find(g, st.tensors[i].name) < 0)
            s = gd_error_set(err, GD_ERR_SHAPE,
                             "%s: tensor '%s' is not part of the model its config.json describes",
                             path, st.tensors[i].name);
    gd_st_close(&st);
    return s;
}

gd_status gd_graph_save_params(const gd_graph *g, const char *path, gd_error *err) {
    GD_ASSERT(g && g->planned && path);
    int n = g->n_param_ids;
    gd_st_entry *e = calloc((size_t)(n ? n : 1), sizeof *e);
    int64_t *shapes = calloc((size_t)(n ? n : 1) * GD_MAX_DIMS, sizeof *shapes);
    if (!e || !shapes) {
        free(e);
        free(shapes);
        return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < n; i++) {
        const gd_tensor *t = &g->t[g->param_ids[i]];
        for (int d = 0; d < t->ndim; d++) shapes[i * GD_MAX_DIMS + d] = t->shape[d];
        e[i] = (gd_st_entry){t->name, t->data, t->ndim, shapes + i * GD_MAX_DIMS};
    }
    gd_status s = gd_st_write(path, e, n, err);
    free(e);
    free(shapes);
    return s;
}
