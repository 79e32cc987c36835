/* graph.c - the tensor table, memory planning and the forward/backward drivers. */
#include "graph_internal.h"
#include "core/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_graph *gd_graph_new(void) {
    gd_graph *g = calloc(1, sizeof *g);
    return g;
}

void gd_graph_free(gd_graph *g) {
    if (!g) return;
    gd_free(g->params);
    gd_free(g->param_grads);
    gd_free(g->arena);
    gd_free(g->scratch);
    free(g->param_ids);
    free(g->t);
    free(g);
}

gd_tensor *gd_graph_tensor(const gd_graph *g, gd_t id) {
    GD_ASSERT(g && id >= 0 && id < g->n);
    return &g->t[id];
}

gd_t gd_graph_add(gd_graph *g, gd_kind kind, const char *name, int ndim, const int *shape) {
    GD_ASSERT(g && !g->planned);
    GD_ASSERT(ndim >= 1 && ndim <= GD_MAX_DIMS && shape);
    int dims[GD_MAX_DIMS]; /* shape may point into the table, which may move below */
    memcpy(dims, shape, sizeof(int) * (size_t)ndim);
    shape = dims;
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        gd_tensor *t = realloc(g->t, sizeof *t * (size_t)cap);
        GD_ASSERT_MSG(t, "out of memory while declaring a graph");
        g->t = t;
        g->cap = cap;
    }
    gd_tensor *t = &g->t[g->n];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        GD_ASSERT(shape[i] > 0);
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    if (name) snprintf(t->name, sizeof t->name, "%s", name);
    else snprintf(t->name, sizeof t->name, "%%%d", g->n);
    return g->n++;
}

gd_t gd_input(gd_graph *g, const char *name, int ndim, const int *shape, int requires_grad) {
    gd_t id = gd_graph_add(g, GD_KIND_INPUT, name, ndim, shape);
    g->t[id].requires_grad = requires_grad != 0;
    return id;
}

gd_t gd_param(gd_graph *g, const char *name, int ndim, const int *shape) {
    GD_ASSERT_MSG(name && gd_graph_find(g, name) < 0, "parameter names must be unique");
    gd_t id = gd_graph_add(g, GD_KIND_PARAM, name, ndim, shape);
    g->t[id].requires_grad = 1;
    return id;
}

gd_status gd_graph_plan(gd_graph *g, gd_error *err) {
    GD_ASSERT(g && !g->planned);
    gd_status bs = gd_blas_init(err);
    if (bs) return bs;
    size_t np = 0, na = 0, ns = 0;
    int nparam = 0;
    for (int i = 0; i < g->n; i++) {
        gd_tensor *t = &g->t[i];
        if (t->kind == GD_KIND_PARAM) {
            np += t->numel;
            nparam++;
        } else {
            na += t->numel + t->saved_n + (t->requires_grad ? t->numel : 0);
        }
        if (t->scratch_n > ns) ns = t->scratch_n;
    }
    g->params = gd_calloc(sizeof(float) * (np ? np : 1));
    g->param_grads = gd_calloc(sizeof(float) * (np ? np : 1));
    g->arena = gd_calloc(sizeof(float) * (na ? na : 1));
    g->scratch = gd_malloc(sizeof(float) * (ns ? ns : 1));
    g->param_ids = malloc(sizeof(int) * (size_t)(nparam ? nparam : 1));
    if (!g->params || !g->param_grads || !g->arena || !g->scratch || !g->param_ids)
        return gd_error_set(err, GD_ERR_NOMEM, "graph plan: cannot allocate %.1f MiB",
                            (double)(2 * np + na + ns) * 4.0 / 1048576.0);
    g->n_params = np;
    g->n_arena = na;
    g->n_scratch = ns;
    size_t po = 0, ao = 0;
    for (int i = 0; i < g->n; i++) {
        gd_tensor *t = &g->t[i];
        if (t->kind == GD_KIND_PARAM) {
            t->data = g->params + po;
            t->grad = g->param_grads + po;
            po += t->numel;
            g->param_ids[g->n_param_ids++] = i;
        } else {
            t->data = g->arena + ao;
            ao += t->numel;
            if (t->saved_n) {
                t->saved = g->arena + ao;
                ao += t->saved_n;
            }
        }
    }
    /* activation gradients last, so backward clears them with one memset */
    for (int i = 0; i < g->n; i++) {
        gd_tensor *t = &g->t[i];
        if (t->kind != GD_KIND_PARAM && t->requires_grad) {
            t->grad = g->arena + ao;
            ao += t->numel;
        }
    }
    g->planned = 1;
    return GD_OK;
}

void gd_graph_forward(gd_graph *g) {
    GD_ASSERT_MSG(g && g->planned, "gd_graph_forward before gd_graph_plan");
    for (int i = 0; i < g->n; i++) {
        gd_tensor *t = &g->t[i];
        if (t->kind == GD_KIND_OP) gd_op_defs[t->op].forward(g, t);
    }
}

void gd_graph_zero_grad(gd_graph *g) {
    GD_ASSERT(g && g->planned);
    memset(g->param_grads, 0, sizeof(float) * g->n_params);
}

void gd_graph_backward_seed(gd_graph *g, gd_t id, const float *dt) {
    GD_ASSERT(g && g->planned && dt);
    gd_tensor *l = gd_graph_tensor(g, id);
    GD_ASSERT_MSG(l->kind == GD_KIND_OP && l->requires_grad,
                  "backward needs an op output that has a gradient");
    for (int i = 0; i < g->n; i++) {
        gd_tensor *t = &g->t[i];
        if (t->kind != GD_KIND_PARAM && t->requires_grad) {
            /* the activation gradients are one contiguous tail of the arena */
            size_t off = (size_t)(t->grad - g->arena);
            memset(t->grad, 0, sizeof(float) * (g->n_arena - off));
            break;
        }
    }
    memcpy(l->grad, dt, sizeof(float) * l->numel);
    for (int i = id; i >= 0; i--) {
        gd_tensor *t = &g->t[i];
        if (t->kind == GD_KIND_OP && t->requires_grad) gd_op_defs[t->op].backward(g, t);
    }
}

void gd_graph_backward(gd_graph *g, gd_t loss) {
    GD_ASSERT_MSG(gd_numel(g, loss) == 1, "backward needs a scalar loss");
    const float one = 1.0f;
    gd_graph_backward_seed(g, loss, &one);
}

float *gd_data(const gd_graph *g, gd_t t) {
    GD_ASSERT(g->planned);
    return gd_graph_tensor(g, t)->data;
}
float *gd_grad(const gd_graph *g, gd_t t) {
    GD_ASSERT(g->planned);
    return gd_graph_tensor(g, t)->grad;
}
size_t gd_numel(const gd_graph *g, gd_t t) { return gd_graph_tensor(g, t)->numel; }
int gd_ndim(const gd_graph *g, gd_t t) { return gd_graph_tensor(g, t)->ndim; }
const int *gd_shape(const gd_graph *g, gd_t t) { return gd_graph_tensor(g, t)->shape; }
const char *gd_name(const gd_graph *g, gd_t t) { return gd_graph_tensor(g, t)->name; }

gd_t gd_graph_find(const gd_graph *g, const char *name) {
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->t[i].name, name) == 0) return i;
    return -1;
}

int gd_graph_num_params(const gd_graph *g) {
    GD_ASSERT(g->planned);
    return g->n_param_ids;
}
gd_t gd_graph_param(const gd_graph *g, int i) {
    GD_ASSERT(g->planned && i >= 0 && i < g->n_param_ids);
    return g->param_ids[i];
}
float *gd_graph_params(const gd_graph *g, size_t *n) {
    GD_ASSERT(g->planned);
    if (n) *n = g->n_params;
    return g->params;
}
float *gd_graph_param_grads(const gd_graph *g, size_t *n) {
    GD_ASSERT(g->planned);
    if (n) *n = g->n_params;
    return g->param_grads;
}
size_t gd_graph_bytes(const gd_graph *g) {
    return sizeof(float) * (2 * g->n_params + g->n_arena + g->n_scratch);
}
