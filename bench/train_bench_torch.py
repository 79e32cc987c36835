#!/usr/bin/env python3
"""train_bench_torch.py - the PyTorch + diffusers side of bench/train_bench.sh.

    python train_bench_torch.py train|sample --config CONFIG.json [--batch 64] [--steps S]
        [--warmup W] [--threads T] [--sample-steps 50]

train: the step of diffusers' train_unconditional example, eager: noise, DDPMScheduler
add_noise, UNet2DModel forward, MSE, backward, clip_grad_norm_(1.0), AdamW, EMAModel step
(with the trainer's settings: lr 1e-4, betas 0.9/0.999, weight decay 0, EMA power 0.75, max
decay 0.999). sample: DDIMScheduler, 50 steps, no guidance, under torch.no_grad(). Prints the
same lines as `gmmdiff bench train|sample`.
"""
import argparse
import resource
import time

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from diffusers.training_utils import EMAModel

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["train", "sample"])
ap.add_argument("--config", required=True)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--steps", type=int, default=None)
ap.add_argument("--warmup", type=int, default=None)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--sample-steps", type=int, default=50)
a = ap.parse_args()
sample = a.mode == "sample"
steps = a.steps if a.steps is not None else (2 if sample else 10)
warmup = a.warmup if a.warmup is not None else (1 if sample else 2)


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


torch.set_num_threads(a.threads)
torch.manual_seed(7)
rss0 = rss_mib()
model = UNet2DModel.from_config(UNet2DModel.load_config(a.config))
cfg = model.config
shape = (a.batch, cfg.in_channels, cfg.sample_size, cfg.sample_size)
data = torch.rand(a.batch * 4, *shape[1:]) * 2 - 1
print(f"# torch {torch.__version__} diffusers eager {'DDIM sampling' if sample else 'training step'},"
      f" batch {a.batch}, {cfg.sample_size}x{cfg.sample_size}, threads {torch.get_num_threads()}")
times = []
if sample:
    model.eval()
    sched = DDIMScheduler(num_train_timesteps=1000)
    for r in range(-warmup, steps):
        t0 = time.perf_counter()
        with torch.no_grad():
            x = torch.randn(shape)
            sched.set_timesteps(a.sample_steps)
            for t in sched.timesteps:
                eps = model(x, t).sample
                x = sched.step(eps, t, x).prev_sample
        ms = (time.perf_counter() - t0) * 1e3
        if r >= 0:
            times.append(ms)
        print(f"{'warmup' if r < 0 else 'step'} {r} ms={ms:.2f}")
else:
    sched = DDPMScheduler(num_train_timesteps=1000)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.0)
    ema = EMAModel(model.parameters(), decay=0.999, use_ema_warmup=True, power=0.75)
    for r in range(-warmup, steps):
        t0 = time.perf_counter()
        idx = torch.randint(0, data.shape[0], (a.batch,))
        x0 = data[idx]
        noise = torch.randn(shape)
        ts = torch.randint(0, 1000, (a.batch,))
        xt = sched.add_noise(x0, noise, ts)
        out = model(xt, ts).sample
        loss = F.mse_loss(out, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.step(model.parameters())
        ms = (time.perf_counter() - t0) * 1e3
        if r >= 0:
            times.append(ms)
        print(f"{'warmup' if r < 0 else 'step'} {r} ms={ms:.2f} loss={loss.item():.5f}")
times.sort()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"MEM peak_rss_mib={peak:.1f} base_rss_mib={rss0:.1f}")
print(f"MEDIAN ms={times[len(times) // 2]:.3f}")
