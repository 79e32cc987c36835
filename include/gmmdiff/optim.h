/* optim.h - AdamW, EMA and gradient clipping over flat parameter buffers (PyTorch semantics). */
#ifndef GMMDIFF_OPTIM_H
#define GMMDIFF_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gd_adamw_config {
    float lr, beta1, beta2, eps, weight_decay;
} gd_adamw_config;

/* the defaults of torch.optim.AdamW: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2 */
gd_adamw_config gd_adamw_defaults(void);

/* One AdamW step at 1-based step number `step`, as torch.optim.AdamW (decoupled decay):
 *   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
 * p, g, m, v: [n] */
void gd_adamw_step(float *p, const float *g, float *m, float *v, size_t n, int64_t step,
                   const gd_adamw_config *c);

/* ema -= (1 - decay) * (ema - p)   (diffusers' EMAModel.step); ema, p: [n] */
void gd_ema_update(float *ema, const float *p, size_t n, float decay);

/* diffusers' EMAModel.get_decay for `optimization_step` (the count of optimizer steps taken):
 * 0 until update_after_step, then 1 - (1 + s/inv_gamma)^-power with warmup, else (1+s)/(10+s),
 * clamped to [min_decay, max_decay]. */
float gd_ema_decay(int64_t optimization_step, float max_decay, float min_decay,
                   int64_t update_after_step, int use_warmup, float inv_gamma, float power);

/* Scales g so its global L2 norm is at most max_norm (torch.nn.utils.clip_grad_norm_:
 * coefficient max_norm / (norm + 1e-6) when below 1). Returns the norm before clipping. */
float gd_clip_grad_norm(float *g, size_t n, float max_norm);

#ifdef __cplusplus
}
#endif
#endif
