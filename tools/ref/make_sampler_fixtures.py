#!/usr/bin/env python3
"""make_sampler_fixtures.py - step sequences of diffusers' DDPMScheduler, DDIMScheduler and
DPMSolverMultistepScheduler given fixed model outputs, for every beta schedule and prediction
type (and DDIM's eta and timestep spacings).

    /opt/gdref/bin/python tools/ref/make_sampler_fixtures.py tests/fixtures/samplers.safetensors

For run NAME the file holds NAME.timesteps [S], NAME.model_out [S, n] (the outputs the "model"
returns at each step), NAME.noise [S, n] (the noise each step draws, injected into diffusers in
place of its own generator), NAME.samples [S + 1, n] (the initial sample then every step's
result), plus schedule.<beta_schedule>.alphas_cumprod [1000].
"""
import sys

import numpy as np
import safetensors.torch  # noqa: F401
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
import diffusers.schedulers.scheduling_ddim as ddim_mod
import diffusers.schedulers.scheduling_ddpm as ddpm_mod
from safetensors.torch import save_file

SCHEDULES = {"linear": dict(beta_schedule="linear", beta_start=1e-4, beta_end=0.02),
             "scaled_linear": dict(beta_schedule="scaled_linear", beta_start=0.00085,
                                   beta_end=0.012),
             "squaredcos_cap_v2": dict(beta_schedule="squaredcos_cap_v2")}
PREDICTIONS = ["epsilon", "v_prediction", "sample"]
SHAPE = (2, 1, 4, 4)
STEPS = 10

noise_queue = []


def injected_randn(shape, generator=None, device=None, dtype=None, layout=None):
    return noise_queue.pop(0).reshape(shape)


ddpm_mod.randn_tensor = injected_randn
ddim_mod.randn_tensor = injected_randn


def run(out, name, sched, step_kwargs):
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    sched.set_timesteps(STEPS)
    ts = sched.timesteps
    x = torch.randn(SHAPE, generator=g)
    outs = torch.randn((len(ts),) + SHAPE, generator=g)
    noises = torch.randn((len(ts),) + SHAPE, generator=g)
    noise_queue.clear()
    noise_queue.extend(list(noises))
    samples = [x.clone()]
    for i, t in enumerate(ts):
        x = sched.step(outs[i], t, x, generator=g, **step_kwargs).prev_sample
        samples.append(x.clone())
    n = int(np.prod(SHAPE))
    out[f"{name}.timesteps"] = ts.float()
    out[f"{name}.model_out"] = outs.reshape(len(ts), n)
    out[f"{name}.noise"] = noises.reshape(len(ts), n)
    out[f"{name}.samples"] = torch.stack(samples).reshape(len(ts) + 1, n)


def main(path):
    out = {}
    for sname, skw in SCHEDULES.items():
        out[f"schedule.{sname}.alphas_cumprod"] = DDPMScheduler(**skw).alphas_cumprod.float()
        for pred in PREDICTIONS:
            run(out, f"ddpm.{sname}.{pred}", DDPMScheduler(prediction_type=pred, **skw), {})
            run(out, f"ddim.{sname}.{pred}", DDIMScheduler(prediction_type=pred, **skw), {})
            run(out, f"dpmpp2m.{sname}.{pred}",
                DPMSolverMultistepScheduler(prediction_type=pred, **skw), {})
    lin = SCHEDULES["linear"]
    run(out, "ddim_eta.linear.epsilon", DDIMScheduler(**lin), {"eta": 0.7})
    run(out, "ddim_trailing.linear.epsilon", DDIMScheduler(timestep_spacing="trailing", **lin), {})
    run(out, "ddim_linspace.linear.epsilon", DDIMScheduler(timestep_spacing="linspace", **lin), {})
    run(out, "ddim_noclip.linear.epsilon", DDIMScheduler(clip_sample=False, **lin), {})
    run(out, "ddpm_noclip.linear.epsilon", DDPMScheduler(clip_sample=False, **lin), {})
    save_file({k: v.contiguous() for k, v in out.items()}, path)
    print(f"wrote {path}: {len(out)} tensors")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/samplers.safetensors")
