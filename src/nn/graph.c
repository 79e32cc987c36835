/* graph.c - the tensor table, memory planning and the forward/backward drivers. */
#include "graph_internal.h"
#include "core/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* per-op wall time, when on (gd_graph_profile): [op][0 forward, 1 backward] */
static int prof_on;
static double prof_ms[GD_OP_COUNT][2];
static long prof_calls[GD_OP_COUNT][2];

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void gd_graph_profile(int on) {
    prof_on = on;
    if (!on) return;
    memset(prof_ms, 0, sizeof prof_ms);
    memset(prof_calls, 0, sizeof prof_calls);
}

static int by_ms_desc(const void *a, const void *b) {
    double x = prof_ms[((const int *)a)[0]][((const int *)a)[1]];
    double y = prof_ms[((const int *)b)[0]][((const int *)b)[1]];
    return (x < y) - (x > y);
}

void gd_graph_profile_report(FILE *f) {
    int rows[GD_OP_COUNT * 2][2], n = 0;
    double total = 0;
    for (int o = 0; o < GD_OP_COUNT; o++)
        for (int d = 0; d < 2; d++)
            if (prof_calls[o][d]) {
                rows[n][0] = o;
                rows[n][1] = d;
                n++;
                total += prof_ms[o][d];
            }
    qsort(rows, (size_t)n, sizeof rows[0], by_ms_desc);
    fprintf(f, "%-20s %-8s %8s %10s %6s\n", "op", "pass", "calls", "ms", "share");
    for (int i = 0; i < n; i++) {
        int o = rows[i][0], d = rows[i][1];
        fprintf(f, "%-20s %-8s %8ld %10.1f %5.1f%%\n", gd_op_defs[o].name,
                d ? "backward" : "forward", prof_calls[o][d], prof_ms[o][d],
                total > 0 ? 100.0 * prof_ms[o][d] / total : 0.0);
    }
}

static void run_op(gd_graph *g, gd_tensor *t, int backward) {
    if (!prof_on) {
        (backward ? gd_op_defs[t->op].backward : gd_op_defs[t->op].forward)(g, t);
        return;
    }
    double t0 = now_ms();
    (backward ? gd_op_defs[t->op].backward : gd_op_defs[t->op].forward)(g, t);
    prof_ms[t->op][backward] += now_ms() - t0;
    prof_calls[t->op][backward]++;
}

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
    gd_free(g->grads);
    gd_free(g->in_grads);
    free(g->first);
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

/* The last op (highest index) that reads tensor i and needs its gradient; i itself when none
 * does. An op's backward is the first to write the gradients of its inputs at that index. */
static int last_grad_reader(const gd_graph *g, int i) {
    int last = i;
    for (int j = i + 1; j < g->n; j++) {
        const gd_tensor *t = &g->t[j];
        if (t->kind != GD_KIND_OP || !t->requires_grad) continue;
        for (int k = 0; k < t->nin; k++)
            if (t->in[k] == i) last = j;
    }
    return last;
}

typedef struct life_slot {
    int id;
    size_t off, size;
    int lo, hi; /* live over this closed range of a timeline */
    int saved;  /* a data slot holding the op's saved buffer rather than its output */
} life_slot;

static int by_size_desc(const void *a, const void *b) {
    const life_slot *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->id - y->id;
}

/* Offsets for buffers with lifetimes: two whose ranges meet never share memory. Greedy,
 * largest first, lowest free offset. Returns the floats needed. Used for the activation
 * gradients (the gradient of op output i lives from the backward of its last reader down to
 * its own backward: [i, last_grad_reader(i)] in op indices) and for the activations and saved
 * buffers (data_lifetimes). */
static size_t place_by_lifetime(life_slot *s, int ns) {
    qsort(s, (size_t)ns, sizeof *s, by_size_desc);
    size_t total = 0;
    for (int a = 0; a < ns; a++) {
        size_t off = 0;
        for (int moved = 1; moved;) { /* bump past every placed, overlapping neighbour */
            moved = 0;
            for (int b = 0; b < a; b++) {
                if (s[b].hi < s[a].lo || s[a].hi < s[b].lo) continue;
                if (off < s[b].off + s[b].size && s[b].off < off + s[a].size) {
                    off = s[b].off + s[b].size;
                    moved = 1;
                }
            }
        }
        s[a].off = off;
        if (off + s[a].size > total) total = off + s[a].size;
    }
    return total;
}

/* The lifetimes of the activations and saved buffers on one timeline: the forward of op j at
 * time j, its backward at 2n - 1 - j. An op output lives from its forward to the last forward
 * that reads it, or to the last backward that reads it (ops whose backward reads their inputs);
 * a saved buffer from its op's forward to its op's backward. Inputs, and outputs that no op
 * reads (what callers read after a forward), live throughout. In inference no backward runs. */
static int data_lifetimes(const gd_graph *g, life_slot *s) {
    const int n = g->n, forever = 2 * n + 1;
    int ns = 0;
    for (int i = 0; i < n; i++) {
        const gd_tensor *t = &g->t[i];
        if (t->kind == GD_KIND_PARAM) continue;
        int hi = -1;
        if (t->kind == GD_KIND_OP) {
            for (int j = i + 1; j < n; j++) {
                const gd_tensor *u = &g->t[j];
                if (u->kind != GD_KIND_OP) continue;
                for (int k = 0; k < u->nin; k++) {
                    if (u->in[k] != i) continue;
                    int end = j;
                    if (!g->inference && u->requires_grad &&
                        gd_op_defs[u->op].backward_reads_inputs)
                        end = 2 * n - 1 - j;
                    if (end > hi) hi = end;
                }
            }
        }
        s[ns++] = (life_slot){i, 0, t->numel, t->kind == GD_KIND_OP ? i : 0,
                              hi < 0 ? forever : hi, 0};
        if (t->saved_n)
            s[ns++] = (life_slot){i, 0, t->saved_n, i,
                                  !g->inference && t->requires_grad ? 2 * n - 1 - i : i, 1};
    }
    return ns;
}

gd_status gd_graph_plan_inference(gd_graph *g, gd_error *err) {
    GD_ASSERT(g && !g->planned);
    g->inference = 1;
    return gd_graph_plan(g, err);
}

gd_status gd_graph_plan(gd_graph *g, gd_error *err) {
    GD_ASSERT(g && !g->planned);
    gd_status bs = gd_blas_init(err);
    if (bs) return bs;
    size_t np = 0, ns = 0, nin = 0;
    int nparam = 0, nslots = 0;
    life_slot *slots = malloc(sizeof *slots * (size_t)(g->n ? g->n : 1));
    life_slot *dslots = malloc(sizeof *dslots * (size_t)(2 * g->n + 1));
    if (!slots || !dslots) {
        free(slots);
        free(dslots);
        return gd_error_set(err, GD_ERR_NOMEM, "graph plan: out of memory");
    }
    for (int i = 0; i < g->n; i++) {
        gd_tensor *t = &g->t[i];
        if (t->kind == GD_KIND_PARAM) {
            np += t->numel;
            nparam++;
        } else if (!g->inference) {
            if (t->requires_grad && t->kind == GD_KIND_INPUT) nin += t->numel;
            if (t->requires_grad && t->kind == GD_KIND_OP)
                slots[nslots++] = (life_slot){i, 0, t->numel, i, last_grad_reader(g, i), 0};
        }
        if (t->scratch_n > ns) ns = t->scratch_n;
    }
    size_t ng = place_by_lifetime(slots, nslots);
    int nd = data_lifetimes(g, dslots);
    size_t na = place_by_lifetime(dslots, nd);
    g->params = gd_calloc(sizeof(float) * (np ? np : 1));
    g->param_grads = gd_calloc(sizeof(float) * (np ? np : 1));
    g->arena = gd_calloc(sizeof(float) * (na ? na : 1));
    g->grads = gd_calloc(sizeof(float) * (ng ? ng : 1));
    g->in_grads = gd_calloc(sizeof(float) * (nin ? nin : 1));
    g->scratch = gd_malloc(sizeof(float) * (ns ? ns : 1));
    g->param_ids = malloc(sizeof(int) * (size_t)(nparam ? nparam : 1));
    g->first = malloc(sizeof(int) * (size_t)(g->n ? g->n : 1));
    g->first_id = -1;
    if (!g->params || !g->param_grads || !g->arena || !g->grads || !g->in_grads || !g->scratch ||
        !g->param_ids || !g->first) {
        free(slots);
        free(dslots);
        return gd_error_set(err, GD_ERR_NOMEM, "graph plan: cannot allocate %.1f MiB",
                            (double)(2 * np + na + ng + nin + ns) * 4.0 / 1048576.0);
    }
    g->n_params = np;
    g->n_arena = na;
    g->n_scratch = ns;
    g->n_grads = ng;
    g->n_in_grads = nin;
    size_t po = 0, io = 0;
    for (int i = 0; i < g->n; i++) {
        gd_tensor *t = &g->t[i];
        if (t->kind == GD_KIND_PARAM) {
            t->data = g->params + po;
            t->grad = g->param_grads + po;
            po += t->numel;
            g->param_ids[g->n_param_ids++] = i;
        } else if (t->requires_grad && t->kind == GD_KIND_INPUT && !g->inference) {
            t->grad = g->in_grads + io;
            io += t->numel;
        }
    }
    for (int k = 0; k < nslots; k++) g->t[slots[k].id].grad = g->grads + slots[k].off;
    for (int k = 0; k < nd; k++) {
        gd_tensor *t = &g->t[dslots[k].id];
        if (dslots[k].saved) t->saved = g->arena + dslots[k].off;
        else t->data = g->arena + dslots[k].off;
    }
    free(slots);
    free(dslots);
    g->planned = 1;
    return GD_OK;
}

void gd_graph_forward(gd_graph *g) {
    GD_ASSERT_MSG(g && g->planned, "gd_graph_forward before gd_graph_plan");
    for (int i = 0; i < g->n; i++) {
        gd_tensor *t = &g->t[i];
        if (t->kind == GD_KIND_OP) run_op(g, t, 0);
    }
}

void gd_graph_zero_grad(gd_graph *g) {
    GD_ASSERT(g && g->planned);
    memset(g->param_grads, 0, sizeof(float) * g->n_params);
}

/* zeroes, before op j's backward (j from id down), the gradient of every op output whose
 * first writer in a backward from id is j: its last gradient reader at or below id, or, with
 * none, its own op (whose backward then reads zeros) */
void gd_graph_backward_seed(gd_graph *g, gd_t id, const float *dt) {
    GD_ASSERT(g && g->planned && dt);
    gd_tensor *l = gd_graph_tensor(g, id);
    GD_ASSERT_MSG(!g->inference, "backward on a graph planned for inference");
    GD_ASSERT_MSG(l->kind == GD_KIND_OP && l->requires_grad,
                  "backward needs an op output that has a gradient");
    memset(g->in_grads, 0, sizeof(float) * g->n_in_grads);
    int *first = g->first;
    if (g->first_id != id) { /* made once per seed (each step seeds the same tensor) */
        for (int i = 0; i <= id; i++) first[i] = i;
        for (int j = 0; j <= id; j++) {
            const gd_tensor *t = &g->t[j];
            if (t->kind != GD_KIND_OP || !t->requires_grad) continue;
            for (int k = 0; k < t->nin; k++)
                if (t->in[k] >= 0 && first[t->in[k]] < j) first[t->in[k]] = j;
        }
        g->first_id = id;
    }
    memcpy(l->grad, dt, sizeof(float) * l->numel);
    for (int j = id; j >= 0; j--) {
        gd_tensor *t = &g->t[j];
        if (t->kind != GD_KIND_OP || !t->requires_grad) continue;
        /* the gradients first written here (an input read twice is cleared twice, harmlessly,
         * both before the backward writes) */
        for (int k = 0; k < t->nin; k++) {
            int i = t->in[k];
            if (i >= 0 && first[i] == j && g->t[i].kind == GD_KIND_OP && g->t[i].requires_grad)
                memset(g->t[i].grad, 0, sizeof(float) * g->t[i].numel);
        }
        if (first[j] == j && j != id) memset(t->grad, 0, sizeof(float) * t->numel);
        run_op(g, t, 1);
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
double gd_graph_flops(const gd_graph *g) {
    double f = 0;
    for (int i = 0; i < g->n; i++) {
        const gd_tensor *t = &g->t[i];
        if (t->kind != GD_KIND_OP) continue;
        const gd_tensor *x = &g->t[t->in[0]];
        if (t->op == GD_OP_LINEAR) { /* [B, IC] x [IC, OC] */
            f += (double)x->shape[0] * x->shape[1] * t->shape[1];
        } else if (t->op == GD_OP_CONV2D) { /* per output: IC * K * K */
            const gd_tensor *w = &g->t[t->in[1]];
            f += (double)t->numel * w->shape[1] * w->shape[2] * w->shape[3];
        } else if (t->op == GD_OP_ATTENTION) { /* 4 projections, q k^T and P v */
            double C = x->shape[1], S = (double)x->numel / ((double)x->shape[0] * C);
            f += x->shape[0] * (4.0 * C * C * S + 2.0 * S * S * C);
        }
    }
    return 2.0 * f;
}

size_t gd_graph_bytes(const gd_graph *g) {
    return sizeof(float) *
           (2 * g->n_params + g->n_arena + g->n_grads + g->n_in_grads + g->n_scratch);
}
