#!/usr/bin/env python3
"""make_unet_fixtures.py - UNet2DModel checkpoints made and saved by diffusers, with a fixture
input, diffusers' output on it and the parameter gradients of sum(out * dout).

    /opt/gdref/bin/python tools/ref/make_unet_fixtures.py tests/fixtures/unet

For each config NAME writes NAME/config.json and NAME/diffusion_pytorch_model.safetensors
(diffusers' save_pretrained) and NAME/io.safetensors (x, t, class labels, out, dout, and
grad.<parameter> for every parameter).

    /opt/gdref/bin/python tools/ref/make_unet_fixtures.py --gd-saved tests/fixtures/unet/gd_saved

loads a model directory written by `gmmdiff init` with UNet2DModel.from_pretrained (failing on
any missing or unexpected tensor) and writes its output on a fixture input to DIR/io.safetensors.
The virtual environment and its versions: README.md.
"""
import os
import sys

import torch
from diffusers import UNet2DModel
from safetensors.torch import save_file

CONFIGS = {
    # no attention anywhere (add_attention=False drops the mid block's too), no class input
    "plain": dict(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                  layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                  up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4,
                  add_attention=False),
    # attention in the lower block and the mid block, class embedding table
    "attn_class": dict(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(8, 16),
                       layers_per_block=1, down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=4,
                       attention_head_dim=4, num_class_embeds=5),
    # three levels, two layers per block, the other embedding conventions, timestep class embed
    "lpb2": dict(sample_size=8, in_channels=2, out_channels=2, block_out_channels=(8, 16, 16),
                 layers_per_block=2,
                 down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                 up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
                 norm_num_groups=4, attention_head_dim=8, flip_sin_to_cos=False, freq_shift=1,
                 class_embed_type="timestep"),
    # identity class embedding: the condition vector is added to the time embedding as is
    "identity": dict(sample_size=4, in_channels=1, out_channels=1, block_out_channels=(8, 8),
                     layers_per_block=1, down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                     up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=2,
                     attention_head_dim=4, class_embed_type="identity"),
}


def make(name, cfg, dst):
    torch.manual_seed(sum(map(ord, name)))
    model = UNet2DModel(**cfg)
    with torch.no_grad():  # perturb everything so norms, biases and zero inits are exercised
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    out_dir = os.path.join(dst, name)
    model.save_pretrained(out_dir, safe_serialization=True)
    n, s = 2, cfg["sample_size"]
    x = torch.randn(n, cfg["in_channels"], s, s)
    t = torch.tensor([3.0, 517.0])
    io = {"x": x, "t": t}
    kwargs = {}
    if cfg.get("num_class_embeds"):
        cls = torch.tensor([1, 4])
        kwargs["class_labels"] = cls
        io["class"] = cls.float()
    elif cfg.get("class_embed_type") == "timestep":
        cls = torch.tensor([7.0, 250.0])
        kwargs["class_labels"] = cls
        io["class"] = cls
    elif cfg.get("class_embed_type") == "identity":
        cls = torch.randn(n, cfg["block_out_channels"][0] * 4)
        kwargs["class_labels"] = cls
        io["class"] = cls
    out = model(x, t, **kwargs).sample
    dout = torch.randn_like(out)
    out.backward(dout)
    io["out"] = out.detach()
    io["dout"] = dout
    for k, p in model.named_parameters():
        io["grad." + k] = p.grad.detach().clone()
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(out_dir, "io.safetensors"))
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters")


def diffusers_io(model, cfg, seed):
    """A fixture input for model (batch 2) and diffusers' output on it."""
    g = torch.Generator().manual_seed(seed)
    n, s = 2, cfg["sample_size"]
    x = torch.randn(n, cfg["in_channels"], s, s, generator=g)
    t = torch.tensor([3.0, 517.0])
    io, kwargs = {"x": x, "t": t}, {}
    if cfg.get("num_class_embeds"):
        kwargs["class_labels"] = torch.tensor([1, cfg["num_class_embeds"] - 1])
        io["class"] = kwargs["class_labels"].float()
    elif cfg.get("class_embed_type") == "timestep":
        io["class"] = kwargs["class_labels"] = torch.tensor([7.0, 250.0])
    elif cfg.get("class_embed_type") == "identity":
        io["class"] = kwargs["class_labels"] = torch.randn(
            n, cfg["block_out_channels"][0] * 4, generator=g)
    with torch.no_grad():
        io["out"] = model(x, t, **kwargs).sample
    return io


def check_gd_saved(path):
    model, info = UNet2DModel.from_pretrained(path, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise SystemExit(f"{path}: diffusers reports {bad}")
    io = diffusers_io(model, dict(model.config), 1)
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(path, "io.safetensors"))
    print(f"{path}: loaded by diffusers with no missing or unexpected tensors; wrote io.safetensors")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--gd-saved":
        check_gd_saved(sys.argv[2])
        sys.exit(0)
    dst = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/unet"
    for name, cfg in CONFIGS.items():
        make(name, cfg, dst)
