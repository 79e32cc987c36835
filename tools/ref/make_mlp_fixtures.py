#!/usr/bin/env python3
"""make_mlp_fixtures.py - the MLP denoiser of include/gmmdiff/mlp.h in torch.nn, with fixed
random weights, a fixture batch, the output and every gradient of L = sum(out ** 2).

    /usr/bin/python3 tools/ref/make_mlp_fixtures.py tests/fixtures/mlp

For each config NAME writes NAME/config.json and NAME/model.safetensors (the model directory
gmmdiff loads) and NAME/io.safetensors (x, t, class, out, loss, grad.x, grad.class for the
identity condition, and grad.<parameter> for every parameter). Needs only torch and numpy
(Debian's python3-torch, python3-numpy); safetensors are written by hand, F32. Versions used:
README.md beside this file.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def save_safetensors(path, tensors):
    """Minimal safetensors writer (F32 only), the same layout as the safetensors package."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def timestep_embedding(t, dim, flip_sin_to_cos, shift, max_period=10000):
    """diffusers.models.embeddings.get_timestep_embedding (scale 1)."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32)
    exponent = exponent / (half - shift)
    emb = torch.exp(exponent)
    emb = t[:, None].float() * emb[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


class TimestepEmbedding(torch.nn.Module):
    def __init__(self, e):
        super().__init__()
        self.linear_1 = torch.nn.Linear(e, e)
        self.linear_2 = torch.nn.Linear(e, e)

    def forward(self, s):
        return self.linear_2(F.silu(self.linear_1(s)))


class Block(torch.nn.Module):
    """a = linear_a(silu(h)) + time_emb_proj(e); h + linear_b(silu(a))"""

    def __init__(self, h, e):
        super().__init__()
        self.linear_a = torch.nn.Linear(h, h)
        self.time_emb_proj = torch.nn.Linear(e, h)
        self.linear_b = torch.nn.Linear(h, h)

    def forward(self, h, e):
        a = self.linear_a(F.silu(h)) + self.time_emb_proj(e)
        return h + self.linear_b(F.silu(a))


class GmmdiffMLP(torch.nn.Module):
    """The architecture of include/gmmdiff/mlp.h, declared in the same parameter order."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        e, h = cfg["temb"], cfg["hidden"]
        self.time_embedding = TimestepEmbedding(e)
        if cfg.get("num_class_embeds"):
            self.class_embedding = torch.nn.Embedding(cfg["num_class_embeds"], e)
        self.linear_in = torch.nn.Linear(cfg["dim"], h)
        self.blocks = torch.nn.ModuleList([Block(h, e) for _ in range(cfg["n_layers"])])
        self.linear_out = torch.nn.Linear(h, cfg["dim"])

    def forward(self, x, t, class_labels=None):
        c = self.cfg
        s = timestep_embedding(t, c["temb"], c["flip_sin_to_cos"], c["freq_shift"])
        emb = self.time_embedding(s)
        if c.get("num_class_embeds"):
            emb = emb + self.class_embedding(class_labels)
        elif c.get("class_embed_type") == "identity":
            emb = emb + class_labels
        e = F.silu(emb)
        h = self.linear_in(x)
        for b in self.blocks:
            h = b(h, e)
        return self.linear_out(F.silu(h))


CONFIGS = {
    # class table, [cos, sin] embedding
    "class": dict(dim=3, hidden=16, n_layers=2, temb=8, flip_sin_to_cos=True, freq_shift=0,
                  class_embed_type=None, num_class_embeds=5, cond_dim=None),
    # identity condition added to the time embedding, [sin, cos] with freq_shift 1
    "identity": dict(dim=2, hidden=12, n_layers=3, temb=10, flip_sin_to_cos=False,
                     freq_shift=1, class_embed_type="identity", num_class_embeds=None,
                     cond_dim=10),
}


def make(name, cfg, dst):
    torch.manual_seed(sum(map(ord, name)))
    model = GmmdiffMLP(cfg)
    with torch.no_grad():  # perturb everything so biases are not just their small init
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    out_dir = os.path.join(dst, name)
    os.makedirs(out_dir, exist_ok=True)
    conf = dict(cfg, _class_name="GmmdiffMLP")
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(conf, f, indent=2, sort_keys=True)
        f.write("\n")
    save_safetensors(os.path.join(out_dir, "model.safetensors"),
                     dict(model.named_parameters()))
    n = 4
    x = torch.randn(n, cfg["dim"], requires_grad=True)
    t = torch.tensor([3.0, 517.0, 999.0, 42.0])
    io = {"x": x, "t": t}
    cls = None
    if cfg.get("num_class_embeds"):
        cls = torch.tensor([1, 4, 0, 2])
        io["class"] = cls.float()
    elif cfg.get("class_embed_type") == "identity":
        cls = torch.randn(n, cfg["cond_dim"], requires_grad=True)
        io["class"] = cls
    out = model(x, t, cls)
    loss = (out ** 2).sum()
    loss.backward()
    io["out"] = out
    io["loss"] = loss.reshape(1)
    io["grad.x"] = x.grad
    if cfg.get("class_embed_type") == "identity":
        io["grad.class"] = cls.grad
    for k, p in model.named_parameters():
        io["grad." + k] = p.grad
    save_safetensors(os.path.join(out_dir, "io.safetensors"), io)
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, "
          f"loss {loss.item():.6f}")


if __name__ == "__main__":
    dst = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/mlp"
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    for name, cfg in CONFIGS.items():
        make(name, cfg, dst)
