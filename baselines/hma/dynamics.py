"""HMA's dynamics model at small scale: a spatial-temporal transformer over frames of image tokens.

Each frame is its grid of codebook indices plus one action token: the action that led into the frame, through
the stem of its action space (normalise, MLP), also added to every token of the frame. Spatial attention mixes
the tokens of one frame; temporal attention is causal over frames. Training masks a cosine-scheduled fraction
of each predicted frame's tokens and predicts them (MaskGIT); generation unmasks a new frame in a few steps,
most confident tokens first.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.hma.config import DynamicsConfig


class ActionStem(nn.Module):
    """One action space: standardise with its training statistics, then an MLP to the model width."""

    def __init__(self, dim: int, width: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.mlp = nn.Sequential(nn.Linear(dim, width), nn.GELU(), nn.Linear(width, width))

    def set_stats(self, actions: np.ndarray) -> None:
        self.mean.copy_(torch.as_tensor(actions.mean(0)))
        self.std.copy_(torch.as_tensor(np.maximum(actions.std(0), 1e-3)))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.mlp((a - self.mean) / self.std)


class Attention(nn.Module):
    def __init__(self, width: int, heads: int, causal: bool):
        super().__init__()
        self.ln, self.qkv, self.proj = nn.LayerNorm(width), nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.heads, self.causal = heads, causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return x + self.proj(y.transpose(1, 2).reshape(b, t, c))


class STBlock(nn.Module):
    """Spatial attention within each frame, causal temporal attention per token position, then an MLP."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.spatial, self.temporal = Attention(width, heads, causal=False), Attention(width, heads, causal=True)
        self.mlp = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, s, c = x.shape
        x = self.spatial(x.reshape(b * t, s, c)).view(b, t, s, c)
        x = self.temporal(x.transpose(1, 2).reshape(b * s, t, c)).view(b, s, t, c).transpose(1, 2)
        return x + self.mlp(x)


def mask_ratio(u: torch.Tensor) -> torch.Tensor:
    """MaskGIT's cosine schedule: the fraction of tokens masked at progress u in [0, 1] (1 at u = 0)."""
    return torch.cos(u * math.pi / 2)


class WorldModel(nn.Module):
    def __init__(self, cfg: DynamicsConfig, codebook: int, tokens: int):
        super().__init__()
        self.cfg, self.codebook, self.tokens = cfg, codebook, tokens
        d = cfg.width
        self.embed = nn.Embedding(codebook + 1, d)  # the last index is MASK
        self.space_pos = nn.Parameter(torch.zeros(1, 1, tokens + 1, d))
        self.time_pos = nn.Parameter(torch.zeros(1, cfg.frames, 1, d))
        self.start = nn.Parameter(torch.zeros(d))  # the "action" into the first frame
        self.stems = nn.ModuleDict({name: ActionStem(dim * cfg.frame_stride, d) for name, dim in cfg.action_spaces.items()})
        self.blocks = nn.ModuleList(STBlock(d, cfg.heads) for _ in range(cfg.layers))
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, codebook))
        nn.init.normal_(self.space_pos, std=0.02)
        nn.init.normal_(self.time_pos, std=0.02)

    @property
    def mask_id(self) -> int:
        return self.codebook

    def forward(self, codes: torch.Tensor, actions: torch.Tensor, space: str) -> torch.Tensor:
        """codes (B, T, N) with MASK where unknown, actions (B, T - 1, stem dim) between consecutive frames
        -> logits (B, T, N, codebook)."""
        b, t, n = codes.shape
        act = torch.cat([self.start.expand(b, 1, -1), self.stems[space](actions)], 1)[:, :, None]  # (B, T, 1, d)
        x = torch.cat([self.embed(codes), torch.zeros_like(act)], 2) + act + self.space_pos + self.time_pos[:, :t]
        for blk in self.blocks:
            x = blk(x)
        return self.head(x[:, :, :n])

    def masked_loss(self, codes: torch.Tensor, actions: torch.Tensor, space: str) -> torch.Tensor:
        """Cross-entropy on a cosine-scheduled random subset of each predicted frame's tokens (frame 0 is given)."""
        b, t, n = codes.shape
        ratio = mask_ratio(torch.rand(b, t - 1, 1, device=codes.device)).clamp(min=self.cfg.min_mask)
        rank = torch.rand(b, t - 1, n, device=codes.device).argsort(-1).argsort(-1)  # a random order per frame
        mask = torch.cat([torch.zeros(b, 1, n, dtype=torch.bool, device=codes.device), rank < (ratio * n).ceil()], 1)
        logits = self(codes.masked_fill(mask, self.mask_id), actions, space)
        return F.cross_entropy(logits[mask], codes[mask])

    @torch.no_grad()
    def next_frame(self, context: torch.Tensor, actions: torch.Tensor, space: str) -> torch.Tensor:
        """context codes (B, c, N) and the c actions after each context frame -> codes of frame c + 1 (B, N),
        unmasked in `decode_steps` greedy MaskGIT steps; the window keeps the last `frames - 1` context frames."""
        keep = self.cfg.frames - 1
        context, actions = context[:, -keep:], actions[:, -keep:]
        b, n = len(context), self.tokens
        new = torch.full((b, 1, n), self.mask_id, dtype=torch.long, device=context.device)
        for s in range(self.cfg.decode_steps):
            logits = self(torch.cat([context, new], 1), actions, space)[:, -1]
            prob, guess = logits.softmax(-1).max(-1)
            masked = new[:, 0] == self.mask_id
            prob = prob.masked_fill(~masked, -1.0)  # only still-masked tokens compete
            remain = max(0, math.floor(n * math.cos(math.pi / 2 * (s + 1) / self.cfg.decode_steps)))  # 0 at the last step
            reveal = int(masked[0].sum()) - remain
            top = prob.topk(reveal, -1).indices
            new[:, 0].scatter_(1, top, guess.gather(1, top))
        return new[:, 0]

    @torch.no_grad()
    def rollout(self, first: torch.Tensor, actions: torch.Tensor, space: str) -> torch.Tensor:
        """first-frame codes (B, N) and actions (B, H, stem dim) -> codes of the H generated frames (B, H, N)."""
        frames = first[:, None]
        for h in range(actions.shape[1]):
            frames = torch.cat([frames, self.next_frame(frames, actions[:, : h + 1], space)[:, None]], 1)
        return frames[:, 1:]
