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
    gd_status (*lpg)(void *ctx, const float *x, int t, float *grad, gd_error *err);
    void *lpg_ctx;
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

static gd_status unet_log_prob_grad(void *ctx, const float *x, int t, float *grad,
                                    gd_error *err) {
    unet_ctx *u = ctx;
    return u->lpg(u->lpg_ctx, x, t, grad, err);
}

gd_status gd_unet_sample_guided(gd_graph *g, const gd_unet_io *io, const gd_sampler_config *sc,
                                const gd_noise_schedule *sched, const float *cond,
                                const float *null, const gd_guidance *guide,
                                gd_status (*log_prob_grad)(void *ctx, const float *x, int t,
                                                           float *grad, gd_error *err),
                                void *ctx, float *x, gd_rng *rng, gd_error *err) {
    GD_ASSERT(g && io && sc && sched && x && rng);
    GD_ASSERT(io->cls < 0 || (cond && null));
    unet_ctx u = {g, io, gd_numel(g, io->x), io->cls >= 0 ? gd_numel(g, io->cls) : 0, cond, null,
                  log_prob_grad, ctx};
    gd_denoiser d = {&u, unet_eval, log_prob_grad ? unet_log_prob_grad : NULL};
    return gd_sample(sc, sched, &d, guide, x, u.n, rng, err);
}

gd_status gd_unet_sample(gd_graph *g, const gd_unet_io *io, const gd_sampler_config *sc,
                         const gd_noise_schedule *sched, const float *cond, const float *null,
                         const gd_guidance *guide, float *x, gd_rng *rng, gd_error *err) {
    return gd_unet_sample_guided(g, io, sc, sched, cond, null, guide, NULL, NULL, x, rng, err);
}
