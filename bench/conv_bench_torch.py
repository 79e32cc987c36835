#!/usr/bin/env python3
"""conv_bench_torch.py - the PyTorch side of bench/conv_bench.sh: conv2d forward+backward at
the shapes of a file of 'count in_ch out_ch hw kernel stride' lines, median of --reps.
Prints the same line format as `gmmdiff bench conv`."""
import argparse
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--shapes", default="bench/unet28_convs.txt")
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
print(f"# torch {torch.__version__} conv2d fwd+bwd, batch {a.batch}, threads "
      f"{torch.get_num_threads()}, median of {a.reps}")
total = 0.0
for line in open(a.shapes):
    if line.startswith("#") or not line.strip():
        continue
    count, ic, oc, hw, k, s = map(int, line.split())
    x = torch.randn(a.batch, ic, hw, hw, requires_grad=True)
    w = (0.1 * torch.randn(oc, ic, k, k)).requires_grad_(True)
    b = (0.1 * torch.randn(oc)).requires_grad_(True)
    oh = (hw + 2 * (k // 2) - k) // s + 1
    dy = torch.randn(a.batch, oc, oh, oh)
    times = []
    for r in range(-1, a.reps):
        x.grad = w.grad = b.grad = None
        t0 = time.perf_counter()
        y = F.conv2d(x, w, b, stride=s, padding=k // 2)
        y.backward(dy)
        if r >= 0:
            times.append((time.perf_counter() - t0) * 1e3)
    med = sorted(times)[len(times) // 2]
    total += count * med
    print(f"conv ic={ic} oc={oc} hw={hw} k={k} s={s} count={count} ms={med:.3f}")
print(f"TOTAL ms={total:.3f}")
