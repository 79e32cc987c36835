#!/usr/bin/env python3
"""check_live.py - re-checks gmmdiff against a live diffusers install, beyond the fixtures.

    /opt/gdref/bin/python tools/ref/check_live.py build/gmmdiff

For every model directory under tests/fixtures/unet, and for a model that `gmmdiff init` writes
now, runs `gmmdiff forward` on a random batch and diffusers' UNet2DModel on the same batch, and
prints the normwise relative error (fails above 1e-4). A gmmdiff-written model is loaded by
diffusers with no missing or unexpected tensors.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import safetensors.torch  # noqa: F401  (diffusers needs it imported)
import torch
from diffusers import UNet2DModel

gmmdiff = sys.argv[1] if len(sys.argv) > 1 else "build/gmmdiff"
tmp = tempfile.mkdtemp()
dirs = sorted(d for d in glob.glob("tests/fixtures/unet/*") if os.path.isdir(d))
subprocess.run([gmmdiff, "init", "--config", "tests/fixtures/unet/lpb2/config.json", "--seed",
                "3", "--out", f"{tmp}/fresh"], check=True, stdout=subprocess.DEVNULL)
dirs.append(f"{tmp}/fresh")
worst = 0.0
for d in dirs:
    model, info = UNet2DModel.from_pretrained(d, output_loading_info=True)
    if any(info.values()):
        sys.exit(f"{d}: diffusers reports {info}")
    cfg = json.load(open(f"{d}/config.json"))
    rng = np.random.RandomState(0)
    x = rng.randn(3, cfg["in_channels"], cfg["sample_size"], cfg["sample_size"]).astype("f4")
    np.save(f"{tmp}/x.npy", x)
    args, labels = [], None
    if cfg.get("num_class_embeds"):
        args, labels = ["--class", "2"], torch.tensor([2, 2, 2])
    elif cfg.get("class_embed_type") == "timestep":
        args, labels = ["--class", "40"], torch.tensor([40.0, 40.0, 40.0])
    elif cfg.get("class_embed_type") == "identity":
        c = rng.randn(3, 4 * cfg["block_out_channels"][0]).astype("f4")
        np.save(f"{tmp}/c.npy", c)
        args, labels = ["--cond", f"{tmp}/c.npy"], torch.from_numpy(c)
    subprocess.run([gmmdiff, "forward", "--model", d, "--in", f"{tmp}/x.npy", "--t", "321",
                    "--out", f"{tmp}/y.npy"] + args, check=True)
    with torch.no_grad():
        ref = model(torch.from_numpy(x), 321, class_labels=labels).sample.numpy()
    err = float(np.abs(np.load(f"{tmp}/y.npy") - ref).max() / np.abs(ref).max())
    worst = max(worst, err)
    print(f"{d}: gmmdiff forward vs diffusers, relative error {err:.2e}")
print(f"worst {worst:.2e} ({'ok' if worst <= 1e-4 else 'FAIL'})")
sys.exit(0 if worst <= 1e-4 else 1)
