"""H-Net dynamic chunking (Hwang, Wang, Gu 2025) in pure PyTorch: routing, chunk, EMA dechunk,
straight-through upsampling, ratio loss, nested stages.

A stage is encoder -> router -> chunk -> inner network -> dechunk -> decoder, and the inner network
of stage s is stage s+1 (the innermost is the "main" network). Every network is causal (a nanoGPT
block stack without positions), so right-padded variable-length batches give the same results as
single sequences, and the output at t may predict what comes after t.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hilam.method.config import HNetConfig
from hilam.models.gpt import Block, GPTConfig


class CausalStack(nn.Module):
    def __init__(self, cfg: HNetConfig, layers: int):
        super().__init__()
        block = GPTConfig(n_layer=layers, n_head=cfg.heads, n_embd=cfg.width, dropout=0.0)
        self.blocks = nn.Sequential(*(Block(block) for _ in range(layers)))
        self.norm = nn.LayerNorm(cfg.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.blocks(x))


class Router(nn.Module):
    """p_t = (1 - cos(W_q h_{t-1}, W_k h_t)) / 2 with p_1 = 1; boundaries b_t = [p_t >= 0.5]."""

    def __init__(self, width: int):
        super().__init__()
        self.q, self.k = nn.Linear(width, width, bias=False), nn.Linear(width, width, bias=False)
        for lin in (self.q, self.k):
            nn.init.eye_(lin.weight)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos = F.cosine_similarity(self.q(h[:, :-1]), self.k(h[:, 1:]), dim=-1)
        p = torch.cat([torch.ones_like(h[:, :1, 0]), (1 - cos) / 2], 1).clamp(0, 1) * mask
        return p, (p >= 0.5) & mask


def chunk(h: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the boundary vectors, in order, right-padded: (B, M, D), their mask, and their positions."""
    counts = b.sum(1)
    order = torch.argsort((~b).to(torch.int8), dim=1, stable=True)[:, : int(counts.max())]
    kept = h.gather(1, order[..., None].expand(-1, -1, h.shape[-1]))
    return kept, torch.arange(order.shape[1], device=h.device) < counts[:, None], order


def ste(c: torch.Tensor) -> torch.Tensor:
    """Forward value 1, gradient of c."""
    return c + (1 - c).detach()


def chunk_index(b: torch.Tensor) -> torch.Tensor:
    """For every position, the index of the chunk it belongs to (the number of boundaries up to it, minus 1)."""
    return (b.long().cumsum(1) - 1).clamp(min=0)


def gather_steps(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    return x.gather(1, idx[..., None].expand(-1, -1, x.shape[-1]))


def dechunk(z: torch.Tensor, p: torch.Tensor, b: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """EMA-smooth the chunk outputs z (B, M, D) with their boundary probabilities, repeat each over its span,
    and scale by STE(c_t), c_t = p_t at boundaries and 1 - p_t inside a chunk (value 1, gradient to the router)."""
    P = p.gather(1, order).clamp(1e-4, 1 - 1e-4)[..., None]
    smooth, prev = [], torch.zeros_like(z[:, 0])
    for j in range(z.shape[1]):  # a plain scan: chunk sequences are tens to hundreds long
        prev = P[:, j] * z[:, j] + (1 - P[:, j]) * prev
        smooth.append(prev)
    up = gather_steps(torch.stack(smooth, 1), chunk_index(b))
    return up * ste(torch.where(b, p, 1 - p))[..., None]


def ratio_loss(p: torch.Tensor, b: torch.Tensor, mask: torch.Tensor, n: float) -> torch.Tensor:
    """N/(N-1) ((N-1) F G + (1-F)(1-G)), F = fraction of boundaries, G = mean probability; minimal at F = G = 1/N."""
    valid = mask.float().sum().clamp(min=1)
    f, g = (b.float() * mask).sum() / valid, (p * mask).sum() / valid
    return n / (n - 1) * ((n - 1) * f * g + (1 - f) * (1 - g))


class Main(nn.Module):
    def __init__(self, cfg: HNetConfig):
        super().__init__()
        self.net = CausalStack(cfg, cfg.main_layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[dict]]:
        return self.net(x), []


class Stage(nn.Module):
    """One level of dynamic chunking around an inner network."""

    def __init__(self, cfg: HNetConfig, inner: nn.Module, target_ratio: float):
        super().__init__()
        self.encoder, self.decoder = CausalStack(cfg, cfg.encoder_layers), CausalStack(cfg, cfg.decoder_layers)
        self.router, self.inner, self.target_ratio = Router(cfg.width), inner, target_ratio
        self.residual = nn.Linear(cfg.width, cfg.width)
        nn.init.zeros_(self.residual.weight)
        nn.init.zeros_(self.residual.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[dict]]:
        h = self.encoder(x)
        p, b = self.router(h, mask)
        kept, kept_mask, order = chunk(h, b)
        z, inner = self.inner(kept, kept_mask)
        y = self.decoder(dechunk(z, p, b, order) + self.residual(h))
        info = {"p": p, "b": b, "mask": mask, "order": order, "chunks": z, "chunk_mask": kept_mask,
                "ratio_loss": ratio_loss(p, b, mask, self.target_ratio)}
        return y, [info, *inner]


class HNet(nn.Module):
    """(B, T, width) with a validity mask -> (B, T, width) outputs and per-stage routing info (outermost first)."""

    def __init__(self, cfg: HNetConfig):
        super().__init__()
        net: nn.Module = Main(cfg)
        for n in reversed(cfg.target_ratios):
            net = Stage(cfg, net, n)
        self.net = net

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[dict]]:
        return self.net(x, mask)


def level_vectors(info: list[dict], level: int) -> torch.Tensor:
    """Each input position's chunk vector at `level` (1 = stage-1 chunks, 2 = stage-2 chunks = the skills):
    z-bar_t = z_{k_t}, the inner network's output for the chunk that holds t. (B, T, width)."""
    v = info[level - 1]["chunks"]
    for s in reversed(range(level)):
        v = gather_steps(v, chunk_index(info[s]["b"]))
    return v


def level_boundaries(info: list[dict], level: int) -> torch.Tensor:
    """(B, T) bool: positions where a chunk of `level` starts, in input coordinates."""
    b = info[level - 1]["b"]
    for s in reversed(range(level - 1)):  # lift chunk-sequence positions back to the level below
        lifted = torch.zeros_like(info[s]["b"])
        b = lifted.scatter(1, info[s]["order"], b & info[s]["chunk_mask"])
    return b
