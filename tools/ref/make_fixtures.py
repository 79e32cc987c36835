#!/usr/bin/env python3
"""make_fixtures.py - writes the PyTorch reference fixtures that `make check` compares against.

    /usr/bin/python3 tools/ref/make_fixtures.py tests/fixtures

Writes
  ops.safetensors        inputs, outputs, output gradients and input gradients of every op
  train_small.safetensors  a conv -> group norm -> SiLU -> attention -> conv network: initial
                         weights, the batch, the loss of each of 50 AdamW steps, final weights

The attention block and the timestep embedding follow diffusers' definitions (Attention with
AttnProcessor as UNet2DModel builds it; get_timestep_embedding) written out in torch, so this
script needs only torch and numpy. Versions used: see README.md beside this file.
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
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


class Attention(torch.nn.Module):
    """diffusers' Attention as UNet2DModel's mid block makes it (heads = C / head_dim,
    group norm, q/k/v/out projections with bias, residual connection, rescale 1)."""

    def __init__(self, c, heads, groups, eps):
        super().__init__()
        self.heads = heads
        self.scale = (c // heads) ** -0.5
        self.group_norm = torch.nn.GroupNorm(groups, c, eps=eps, affine=True)
        self.to_q = torch.nn.Linear(c, c)
        self.to_k = torch.nn.Linear(c, c)
        self.to_v = torch.nn.Linear(c, c)
        self.to_out = torch.nn.ModuleList([torch.nn.Linear(c, c), torch.nn.Dropout(0.0)])

    def head_to_batch_dim(self, x):
        b, s, d = x.shape
        h = self.heads
        return x.reshape(b, s, h, d // h).permute(0, 2, 1, 3).reshape(b * h, s, d // h)

    def batch_to_head_dim(self, x):
        bh, s, d = x.shape
        h = self.heads
        return x.reshape(bh // h, h, s, d).permute(0, 2, 1, 3).reshape(bh // h, s, d * h)

    def params(self):
        return [self.group_norm.weight, self.group_norm.bias, self.to_q.weight, self.to_q.bias,
                self.to_k.weight, self.to_k.bias, self.to_v.weight, self.to_v.bias,
                self.to_out[0].weight, self.to_out[0].bias]

    def forward(self, x):
        return attention_forward(self, x, self.params())


def record(out, name, fn, inputs):
    """Runs fn on leaf copies of inputs, backward with a random dout; stores everything."""
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    y = fn(*leaves)
    dout = torch.randn_like(y)
    y.backward(dout)
    for i, (x, leaf) in enumerate(zip(inputs, leaves)):
        out[f"{name}.in{i}"] = x
        out[f"{name}.grad{i}"] = leaf.grad if leaf.grad is not None else torch.zeros_like(x)
    out[f"{name}.out"] = y.detach()
    out[f"{name}.dout"] = dout


def op_fixtures():
    r = torch.randn
    out = {}
    record(out, "linear", lambda x, w, b: F.linear(x, w, b), [r(5, 7), r(4, 7), r(4)])
    for name, (n, ic, h, w, oc, k, s, p) in {
        "conv_k3s1p1": (2, 3, 7, 6, 4, 3, 1, 1),
        "conv_k3s2p1": (2, 3, 7, 6, 4, 3, 2, 1),
        "conv_k1s1p0": (2, 5, 4, 3, 3, 1, 1, 0),
        "conv_k3s2p0": (1, 2, 8, 9, 3, 3, 2, 0),
        "conv_unet": (4, 32, 14, 14, 64, 3, 1, 1),
    }.items():
        record(out, name, lambda x, wt, b, s=s, p=p: F.conv2d(x, wt, b, stride=s, padding=p),
               [r(n, ic, h, w), r(oc, ic, k, k) * 0.2, r(oc)])
    record(out, "group_norm", lambda x, g, b: F.group_norm(x, 3, g, b, eps=1e-5),
           [r(2, 6, 4, 5) * 2 + 1, 1 + 0.3 * r(6), r(6)])
    record(out, "silu", F.silu, [r(3, 4, 5) * 3])
    record(out, "add", lambda a, b: a + b, [r(2, 3, 4), r(2, 3, 4)])
    record(out, "add_channel", lambda x, e: x + e[:, :, None, None], [r(2, 3, 4, 5), r(2, 3)])
    record(out, "upsample2x", lambda x: F.interpolate(x, scale_factor=2.0, mode="nearest"),
           [r(2, 3, 4, 5)])
    idx = torch.tensor([2, 0, 2, 3, 1])
    out["embedding.idx"] = idx.float()
    record(out, "embedding", lambda tab: F.embedding(idx, tab), [r(4, 3)])
    record(out, "concat", lambda a, b: torch.cat([a, b], dim=1), [r(2, 2, 3, 4), r(2, 3, 3, 4)])

    att = Attention(16, heads=2, groups=4, eps=1e-5)
    with torch.no_grad():
        att.group_norm.weight.copy_(1 + 0.3 * r(16))
        att.group_norm.bias.copy_(0.3 * r(16))
    params = att.params()

    record(out, "attention", lambda x, *ps: attention_forward(att, x, ps), [r(2, 16, 5, 6)] + [p.detach().clone() for p in params])

    t = torch.tensor([0.0, 1.0, 17.0, 250.0, 999.0])
    record(out, "temb_d32_flip1_shift0", lambda t: timestep_embedding(t, 32, True, 0), [t])
    record(out, "temb_d15_flip0_shift1", lambda t: timestep_embedding(t, 15, False, 1), [t])
    record(out, "mse", lambda a, b: F.mse_loss(a, b), [r(3, 7), r(3, 7)])
    record(out, "bce", lambda x, y: F.binary_cross_entropy_with_logits(x, y),
           [r(3, 7) * 4, torch.rand(3, 7)])
    return out


def attention_forward(att, x, ps):
    """diffusers' AttnProcessor on Attention att, its parameters taken from ps (so autograd
    can reach given leaves)."""
    gw, gb, wq, bq, wk, bk, wv, bv, wo, bo = ps
    residual = x
    b, c, hh, ww = x.shape
    hs = x.view(b, c, hh * ww).transpose(1, 2)
    hs = F.group_norm(hs.transpose(1, 2), att.group_norm.num_groups, gw, gb,
                      att.group_norm.eps).transpose(1, 2)
    q = att.head_to_batch_dim(F.linear(hs, wq, bq))
    k = att.head_to_batch_dim(F.linear(hs, wk, bk))
    v = att.head_to_batch_dim(F.linear(hs, wv, bv))
    scores = torch.baddbmm(torch.empty(q.shape[0], q.shape[1], k.shape[1]), q,
                           k.transpose(-1, -2), beta=0, alpha=att.scale)
    hs = att.batch_to_head_dim(torch.bmm(scores.softmax(dim=-1), v))
    hs = F.linear(hs, wo, bo)
    hs = hs.transpose(-1, -2).reshape(b, c, hh, ww)
    return hs + residual


class SmallNet(torch.nn.Module):
    """conv -> group norm -> SiLU -> attention -> conv, the engine's composed test network."""

    def __init__(self):
        super().__init__()
        self.conv_in = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.norm = torch.nn.GroupNorm(4, 16, eps=1e-5)
        self.attn = Attention(16, heads=2, groups=4, eps=1e-5)
        self.conv_out = torch.nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, x):
        h = F.silu(self.norm(self.conv_in(x)))
        return self.conv_out(self.attn(h))


def train_fixture():
    net = SmallNet()
    x, y = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    out = {"x": x, "y": y}
    for k, v in net.state_dict().items():
        out["init." + k] = v.clone()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.01)
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = F.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out["losses"] = torch.tensor(losses)
    for k, v in net.state_dict().items():
        out["final." + k] = v.clone()
    return out


if __name__ == "__main__":
    dst = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    save_safetensors(f"{dst}/ops.safetensors", op_fixtures())
    save_safetensors(f"{dst}/train_small.safetensors", train_fixture())
    print(f"wrote {dst}/ops.safetensors and {dst}/train_small.safetensors "
          f"(torch {torch.__version__}, numpy {np.__version__})")
