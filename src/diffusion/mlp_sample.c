/* mlp_sample.c - sampling from a declared, planned MLP denoiser graph: the denoiser callback
 * that feeds the graph's inputs (sample, timestep, condition or null condition) for gd_sample. */
#include "gmmdiff/diffusion.h"
#include "gmmdiff/mlp.h"

#include <string.h>

typedef struct mlp_ctx {
    gd_graph *g;
    const gd_mlp_io *io;
    size_t n, ncls;
    const float *cond, *null;
} mlp_ctx;

static gd_status mlp_eval(void *ctx, const float *x, int t, int conditional, float *out,
                          gd_error *err) {
    (void)err;
    mlp_ctx *m = ctx;
    memcpy(gd_data(m->g, m->io->x), x, sizeof(float) * m->n);
    float *tt = gd_data(m->g, m->io->t);
    for (size_t i = 0; i < gd_numel(m->g, m->io->t); i++) tt[i] = (float)t;
    if (m->io->cls >= 0)
        memcpy(gd_data(m->g, m->io->cls), conditional ? m->cond : m->null,
               sizeof(float) * m->ncls);
    gd_graph_forward(m->g);
    memcpy(out, gd_data(m->g, m->io->out), sizeof(float) * m->n);
    return GD_OK;
}

gd_status gd_mlp_sample(gd_graph *g, const gd_mlp_io *io, const gd_sampler_config *sc,
                        const gd_noise_schedule *sched, const float *cond, const float *null,
                        const gd_guidance *guide, float *x, gd_rng *rng, gd_error *err) {
    GD_ASSERT(g && io && sc && sched && x && rng);
    GD_ASSERT(io->cls < 0 || (cond && null));
    mlp_ctx m = {g, io, gd_numel(g, io->x), io->cls >= 0 ? gd_numel(g, io->cls) : 0, cond, null};
    gd_denoiser d = {&m, mlp_eval, NULL};
    return gd_sample(sc, sched, &d, guide, x, m.n, rng, err);
}
