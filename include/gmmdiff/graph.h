/* graph.h - composing ops into a model: a static graph with planned memory and explicit backward.
 *
 * A model is declared once: inputs and parameters with fixed shapes, then ops on them (each
 * builder checks shapes with GD_ASSERT). gd_graph_plan() then allocates all memory once:
 *   - parameters in one contiguous buffer and their gradients in another (so the optimizer is
 *     one flat loop and a checkpoint one copy);
 *   - activations and saved intermediates in one arena, activation gradients in another; in
 *     each, buffers whose lifetimes do not meet share memory (an activation lives until the
 *     last op that reads it, in the forward or, if that op's backward reads its inputs, in the
 *     backward; inputs and outputs no op reads keep their values);
 *   - one scratch buffer shared by every op (the largest any op needs).
 * gd_graph_forward() runs the ops in declaration order; gd_graph_backward() seeds d(loss) = 1
 * and runs every op's backward in reverse, clearing each activation gradient before its first
 * writer and ADDING into parameter gradients, which are zeroed only by gd_graph_zero_grad()
 * (explicit, so gradients can be accumulated over micro-batches). Nothing allocates after
 * planning.
 */
#ifndef GMMDIFF_GRAPH_H
#define GMMDIFF_GRAPH_H

#include "gmmdiff/core.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GD_MAX_DIMS 4
#define GD_MAX_INPUTS 11
#define GD_NAME_MAX 128

typedef struct gd_graph gd_graph;
typedef int gd_t; /* a tensor of a graph; -1 is "none" (e.g. a linear without bias) */

gd_graph *gd_graph_new(void);
void gd_graph_free(gd_graph *g); /* gd_graph_free(NULL) is a no-op */

/* leaves */
gd_t gd_input(gd_graph *g, const char *name, int ndim, const int *shape, int requires_grad);
gd_t gd_param(gd_graph *g, const char *name, int ndim, const int *shape);

/* ops; shapes in brackets */
gd_t gd_op_linear(gd_graph *g, gd_t x /*[B,IC]*/, gd_t w /*[OC,IC]*/, gd_t b /*[OC] or -1*/);
gd_t gd_op_conv2d(gd_graph *g, gd_t x /*[N,IC,H,W]*/, gd_t w /*[OC,IC,K,K]*/, gd_t b, int stride,
                  int pad);
gd_t gd_op_group_norm(gd_graph *g, gd_t x /*[N,C,...]*/, gd_t gamma, gd_t beta, int groups,
                      float eps);
gd_t gd_op_silu(gd_graph *g, gd_t x);
/* silu(group_norm(x)) as one op: the same values and gradients as the two ops, without the
 * normalised tensor in memory */
gd_t gd_op_group_norm_silu(gd_graph *g, gd_t x, gd_t gamma, gd_t beta, int groups, float eps);
gd_t gd_op_add(gd_graph *g, gd_t a, gd_t b);               /* same shapes */
gd_t gd_op_add_channel(gd_graph *g, gd_t x /*[N,C,H,W]*/, gd_t e /*[N,C]*/);
gd_t gd_op_upsample2x(gd_graph *g, gd_t x /*[N,C,H,W]*/);
gd_t gd_op_concat(gd_graph *g, gd_t a /*[N,C1,H,W]*/, gd_t b /*[N,C2,H,W]*/);
gd_t gd_op_embedding(gd_graph *g, gd_t idx /*[N], integers as float*/, gd_t table /*[K,D]*/);
/* p: gn.weight, gn.bias, to_q.w, to_q.b, to_k.w, to_k.b, to_v.w, to_v.b, to_out.w, to_out.b */
gd_t gd_op_attention(gd_graph *g, gd_t x /*[N,C,H,W]*/, const gd_t p[10], int groups, int heads,
                     float eps);
gd_t gd_op_timestep_embedding(gd_graph *g, gd_t t /*[N]*/, int dim, int flip_sin_to_cos,
                              float freq_shift);
gd_t gd_op_mse(gd_graph *g, gd_t a, gd_t b);               /* scalar [1] */
gd_t gd_op_bce_logits(gd_graph *g, gd_t x, gd_t y);        /* scalar [1] */
/* the mean NGMG potential of y around the centres mu (ops.h gd_ngmg_forward), scalar [1]; its
 * backward is the NGMG itself */
gd_t gd_op_ngmg(gd_graph *g, gd_t y, gd_t mu, float s_min, float s_max, int n_widths);
/* the same elements in a new shape (a copy; e.g. [N,C,H,W] -> [N,C*H*W] before a linear) */
gd_t gd_op_reshape(gd_graph *g, gd_t x, int ndim, const int *shape);

/* planning and running */
gd_status gd_graph_plan(gd_graph *g, gd_error *err);
/* the same for a graph that only runs forward: no gradient memory, and an activation's memory
 * is reused once the ops that read it have run (only the outputs no op reads keep their values
 * after a forward); backward asserts */
gd_status gd_graph_plan_inference(gd_graph *g, gd_error *err);
void gd_graph_forward(gd_graph *g);
void gd_graph_zero_grad(gd_graph *g);
void gd_graph_backward(gd_graph *g, gd_t loss);
/* backward from any tensor t with a given output gradient dt (numel of t): for gradients of
 * non-scalar outputs, e.g. a classifier head's backward signal or a vector-Jacobian check */
void gd_graph_backward_seed(gd_graph *g, gd_t t, const float *dt);

/* access (after planning) */
float *gd_data(const gd_graph *g, gd_t t);
float *gd_grad(const gd_graph *g, gd_t t); /* NULL when t needs no gradient */
size_t gd_numel(const gd_graph *g, gd_t t);
int gd_ndim(const gd_graph *g, gd_t t);
const int *gd_shape(const gd_graph *g, gd_t t);
const char *gd_name(const gd_graph *g, gd_t t);
gd_t gd_graph_find(const gd_graph *g, const char *name);
int gd_graph_num_params(const gd_graph *g);
gd_t gd_graph_param(const gd_graph *g, int i);
float *gd_graph_params(const gd_graph *g, size_t *n);      /* all parameters, contiguous */
float *gd_graph_param_grads(const gd_graph *g, size_t *n); /* their gradients, same order */
size_t gd_graph_bytes(const gd_graph *g); /* memory planned (parameters, activations, scratch) */
/* the floating-point operations of one forward (2 per multiply-add of the linears,
 * convolutions and attention products; norms and elementwise ops not counted); planned or not */
double gd_graph_flops(const gd_graph *g);

/* Wall time per op kind and pass, summed over every graph of the process from the call with
 * on = 1 (which clears the sums) to the call with on = 0; gd_graph_profile_report prints them, largest first. */
void gd_graph_profile(int on);
void gd_graph_profile_report(FILE *f);

/* parameters <-> safetensors, by name (tensor prefix + parameter name); every parameter must be
 * present with its exact shape, else GD_ERR_SHAPE naming the file and the tensor */
struct gd_safetensors;
gd_status gd_graph_load_params(gd_graph *g, const struct gd_safetensors *st, const char *prefix,
                               gd_error *err);
gd_status gd_graph_save_params(const gd_graph *g, const char *path, gd_error *err);
/* the whole file at path: every parameter as above, and GD_ERR_SHAPE naming a tensor of the
 * file that the graph (the model its config.json describes) lacks */
gd_status gd_graph_load_file(gd_graph *g, const char *path, gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
