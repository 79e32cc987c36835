/* unet_sample.c - sampling from a declared, planned UNet graph: the denoiser callback that feeds
 * the graph's inputs (sample, timestep, condition or null condition) for gd_sample. */
#include "gmmdiff/diffusion.h"
#include "gmmdiff/unet.h"

#include <string.h>

typedef struct unet_ctx {
    gd_graph *g;
    const gd_unet_io *io;
    size_t n, ncls;
    const float *cond, *null;
} unet_ctx;

static gd_status unet_eval(void *ctx, const float *x, int t, int conditional, float *out,
                           gd_error *err) {
    (void)err;
    unet_ctx *u = ctx;
    memcpy(gd_data(u->g, u->io->x), x, sizeof(float) * u->n);
    float *tt = gd_data(u->g, u->io->t);
    for (size_t i = 0; i < gd_numel(u->g, u->io->t); i++) tt[i] = (float)t;
    if (u->io->cls >= 0)
        memcpy(gd_data(u->g, u->io->cls), conditional ? u->cond : u->null, sizeof(float) * u->ncls);
    gd_graph_forward(u->g);
    memcpy(out, gd_data(u->g, u->io->out), sizeof(float) * u->n);
    return GD_OK;
}

gd_status gd_unet_sample(gd_graph *g, const gd_unet_io *io, const gd_sampler_config *sc,
                         const gd_noise_schedule *sched, const float *cond, const float *null,
                         const gd_guidance *guide, float *x, gd_rng *rng, gd_error *err) {
    GD_ASSERT(g && io && sc && sched && x && rng);
    GD_ASSERT(io->cls < 0 || (cond && null));
    unet_ctx u = {g, io, gd_numel(g, io->x), io->cls >= 0 ? gd_numel(g, io->cls) : 0, cond, null};
    gd_denoiser d = {&u, unet_eval, NULL};
    return gd_sample(sc, sched, &d, guide, x, u.n, rng, err);
}
