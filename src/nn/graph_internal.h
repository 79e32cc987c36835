/* graph_internal.h - the graph's tensor table, shared by graph.c (planning, running) and
 * graph_ops.c (the op builders and their forward/backward bindings). */
#ifndef GMMDIFF_GRAPH_INTERNAL_H
#define GMMDIFF_GRAPH_INTERNAL_H

#include "gmmdiff/graph.h"

typedef enum gd_kind { GD_KIND_INPUT, GD_KIND_PARAM, GD_KIND_OP } gd_kind;

typedef enum gd_opcode {
    GD_OP_NONE,
    GD_OP_LINEAR,
    GD_OP_CONV2D,
    GD_OP_GROUP_NORM,
    GD_OP_SILU,
    GD_OP_ADD,
    GD_OP_ADD_CHANNEL,
    GD_OP_UPSAMPLE2X,
    GD_OP_CONCAT,
    GD_OP_EMBEDDING,
    GD_OP_ATTENTION,
    GD_OP_TIMESTEP_EMBEDDING,
    GD_OP_MSE,
    GD_OP_BCE_LOGITS,
    GD_OP_RESHAPE,
    GD_OP_NGMG,
    GD_OP_GROUP_NORM_SILU,
    GD_OP_COUNT
} gd_opcode;

typedef struct gd_tensor {
    char name[GD_NAME_MAX];
    gd_kind kind;
    gd_opcode op;
    int ndim, shape[GD_MAX_DIMS];
    size_t numel;
    int nin;
    gd_t in[GD_MAX_INPUTS];
    int iattr[4];
    float fattr[2];
    int requires_grad;
    size_t saved_n, scratch_n;     /* floats, set by the builder */
    float *data, *grad, *saved;    /* set by gd_graph_plan */
} gd_tensor;

struct gd_graph {
    gd_tensor *t;
    int n, cap;
    int planned;
    int inference; /* planned by gd_graph_plan_inference: no backward, no gradients */
    float *params, *param_grads, *arena, *scratch;
    size_t n_params, n_arena, n_scratch;
    float *grads;      /* activation gradients: shared by tensors whose lifetimes do not meet */
    size_t n_grads;
    float *in_grads;   /* the inputs' gradients, kept after backward */
    size_t n_in_grads;
    int *first;        /* [n] per tensor, the op whose backward first writes its gradient in a
                          backward from first_id (gd_graph_backward_seed); -1: not yet made */
    int first_id;
    int *param_ids, n_param_ids;
};

typedef struct gd_op_def {
    const char *name;
    void (*forward)(gd_graph *g, gd_tensor *t);
    void (*backward)(gd_graph *g, gd_tensor *t);
    int backward_reads_inputs; /* 0: the backward needs only the output gradient (add, concat,
                                  ...), so the inputs' memory may be reused once the forward
                                  has read them */
} gd_op_def;

extern const gd_op_def gd_op_defs[GD_OP_COUNT];

gd_t gd_graph_add(gd_graph *g, gd_kind kind, const char *name, int ndim, const int *shape);
gd_tensor *gd_graph_tensor(const gd_graph *g, gd_t id);

#endif
