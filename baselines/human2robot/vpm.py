"""Human2Robot's video prediction model (VPM), scaled down and kept in pixel space.

- Denoiser: a 2D UNet applied to every predicted frame (frames folded into the batch) with temporal
  attention across the frames at every level (the "spatial-temporal UNet").
- Reference net: a time-free copy of the UNet's down path run on the current (clean) frame; at the
  levels in `attn_levels` its feature maps join the keys/values of the denoiser's spatial
  self-attention (AnimateAnyone's ReferenceNet sharing).
- Behaviour extractor: a small 3D-conv net over the demonstration clip whose zero-initialised output
  is added to the denoiser's features right after its input conv, frame by frame.
`forward(..., features=True)` also returns the up-block outputs: the intermediate features of one
denoising step that the action decoder reads.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from baselines.human2robot.config import VPMConfig


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps, (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=-1)


def group_norm(c: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, c), c)


class ResBlock(nn.Module):
    """DDPM residual block: GN-SiLU-conv, add the (optional) timestep embedding, GN-SiLU-conv, skip."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int):
        super().__init__()
        self.n1, self.c1 = group_norm(c_in, groups), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.t = nn.Linear(time_dim, c_out) if time_dim else None
        self.n2, self.c2 = group_norm(c_out, groups), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.c1(F.silu(self.n1(x)))
        if self.t is not None and temb is not None:
            h = h + self.t(F.silu(temb))[..., None, None]
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head attention of (N, Lq, C) queries over (N, Lk, C) keys/values."""
    n, lq, c = q.shape

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.view(n, x.shape[1], heads, c // heads).transpose(1, 2)

    return F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(n, lq, c)


class ReferenceAttention(nn.Module):
    """Spatial self-attention of each frame whose keys/values also hold the reference frame's features."""

    def __init__(self, c: int, heads: int):
        super().__init__()
        self.norm, self.heads = nn.LayerNorm(c), heads
        self.q, self.kv, self.out = nn.Linear(c, c), nn.Linear(c, 2 * c), nn.Linear(c, c)

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """x (B*F, C, H, W); ref (B, C, H, W), shared by the F frames of its sample."""
        bf, c, h, w = x.shape
        tok = self.norm(x.flatten(2).transpose(1, 2))  # (BF, HW, C)
        r = self.norm(ref.flatten(2).transpose(1, 2)).repeat_interleave(bf // ref.shape[0], dim=0)
        k, v = self.kv(torch.cat([tok, r], dim=1)).chunk(2, dim=-1)
        y = self.out(attention(self.q(tok), k, v, self.heads))
        return x + y.transpose(1, 2).view(bf, c, h, w)


class TemporalAttention(nn.Module):
    """Attention across the predicted frames at every pixel (AnimateDiff's motion module); zero-initialised
    output, so it starts as the identity."""

    def __init__(self, c: int, heads: int, frames: int):
        super().__init__()
        self.norm, self.heads = nn.LayerNorm(c), heads
        self.pos = nn.Parameter(torch.zeros(1, frames, c))
        self.qkv, self.out = nn.Linear(c, 3 * c), nn.Linear(c, c)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bf, c, h, w = x.shape
        b = bf // frames
        tok = x.view(b, frames, c, h * w).permute(0, 3, 1, 2).reshape(b * h * w, frames, c)
        q, k, v = self.qkv(self.norm(tok) + self.pos[:, :frames]).chunk(3, dim=-1)
        y = self.out(attention(q, k, v, self.heads))
        return x + y.view(b, h * w, frames, c).permute(0, 2, 3, 1).reshape(bf, c, h, w)


class BehaviourExtractor(nn.Module):
    """Demonstration clip (B, F, 3, H, W) -> per-frame features (B*F, C0, H, W) from a small 3D-conv net, with a
    zero-initialised last conv so the denoiser starts out unconditioned on the demonstration."""

    def __init__(self, widths: tuple[int, ...], out_channels: int, groups: int):
        super().__init__()
        layers, c = [], 3
        for w in widths:
            layers += [nn.Conv3d(c, w, 3, padding=1), group_norm(w, groups), nn.SiLU()]
            c = w
        self.net = nn.Sequential(*layers)
        self.out = nn.Conv3d(c, out_channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        y = self.out(self.net(clip.transpose(1, 2)))  # (B, C0, F, H, W)
        return y.transpose(1, 2).flatten(0, 1)


class ReferenceNet(nn.Module):
    """The current frame (B, 3, H, W) -> its feature map at every UNet level (the denoiser's down path, no timestep)."""

    def __init__(self, cfg: VPMConfig):
        super().__init__()
        self.conv_in = nn.Conv2d(3, cfg.widths[0], 3, padding=1)
        self.blocks, self.downs = nn.ModuleList(), nn.ModuleList()
        c = cfg.widths[0]
        for i, w in enumerate(cfg.widths):
            self.blocks.append(ResBlock(c, w, 0, cfg.groups))
            self.downs.append(nn.Conv2d(w, w, 3, stride=2, padding=1) if i < len(cfg.widths) - 1 else nn.Identity())
            c = w

    def forward(self, frame: torch.Tensor) -> list[torch.Tensor]:
        h, out = self.conv_in(frame), []
        for block, down in zip(self.blocks, self.downs):
            h = block(h)
            out.append(h)
            h = down(h)
        return out


class Level(nn.Module):
    """One UNet stage at one resolution: residual block, reference attention (if enabled), temporal attention."""

    def __init__(self, c_in: int, c_out: int, cfg: VPMConfig, ref_attention: bool):
        super().__init__()
        self.res = ResBlock(c_in, c_out, cfg.time_dim, cfg.groups)
        self.ref = ReferenceAttention(c_out, cfg.heads) if ref_attention else None
        self.temporal = TemporalAttention(c_out, cfg.heads, cfg.horizon)

    def forward(self, h: torch.Tensor, temb: torch.Tensor, ref: torch.Tensor, frames: int) -> torch.Tensor:
        h = self.res(h, temb)
        if self.ref is not None:
            h = self.ref(h, ref)
        return self.temporal(h, frames)


class VideoPredictionModel(nn.Module):
    """Predicts the noise in `horizon` noisy future frames given the current frame and a demonstration clip."""

    def __init__(self, cfg: VPMConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        td = cfg.time_dim
        self.time = nn.Sequential(nn.Linear(td, td), nn.SiLU(), nn.Linear(td, td))
        self.reference = ReferenceNet(cfg)
        self.behaviour = BehaviourExtractor(cfg.behaviour_widths, w[0], cfg.groups)
        self.conv_in = nn.Conv2d(3, w[0], 3, padding=1)
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        c = w[0]
        for i, wi in enumerate(w):
            self.down.append(Level(c, wi, cfg, i in cfg.attn_levels))
            self.downsample.append(nn.Conv2d(wi, wi, 3, stride=2, padding=1) if i < len(w) - 1 else nn.Identity())
            c = wi
        self.mid = Level(c, c, cfg, len(w) - 1 in cfg.attn_levels)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(w))):
            self.up.append(Level(c + w[i], w[i], cfg, i in cfg.attn_levels))
            self.upsample.append(nn.Conv2d(w[i], w[i - 1], 3, padding=1) if i > 0 else nn.Identity())
            c = w[i - 1] if i > 0 else w[i]  # channels after upsampling into the next (finer) level
        self.out = nn.Sequential(group_norm(w[0], cfg.groups), nn.SiLU(), nn.Conv2d(w[0], 3, 3, padding=1))

    def up_channels(self) -> list[int]:
        """Channels of the up-block features, coarsest level first."""
        return list(reversed(self.cfg.widths))

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, frame: torch.Tensor, demo: torch.Tensor | None,
                features: bool = False):
        """noisy (B, F, 3, H, W), t (B,), frame (B, 3, H, W), demo (B, F, 3, H, W) or None -> noise (B, F, 3, H, W)
        [and the up-block features, coarsest first, each (B, F, C, h, w)]."""
        b, f = noisy.shape[:2]
        temb = self.time(timestep_embedding(t, self.cfg.time_dim)).repeat_interleave(f, dim=0)
        refs = self.reference(frame)
        h = self.conv_in(noisy.flatten(0, 1))
        if demo is not None:
            h = h + self.behaviour(demo)
        skips = []
        for i, (level, down) in enumerate(zip(self.down, self.downsample)):
            h = level(h, temb, refs[i], f)
            skips.append(h)
            h = down(h)
        h = self.mid(h, temb, refs[-1], f)
        feats = []
        for j, (level, up) in enumerate(zip(self.up, self.upsample)):
            i = len(self.cfg.widths) - 1 - j
            h = level(torch.cat([h, skips[i]], dim=1), temb, refs[i], f)
            feats.append(h.view(b, f, *h.shape[1:]))
            if i > 0:
                h = up(F.interpolate(h, scale_factor=2, mode="nearest"))
        eps = self.out(h).view(b, f, 3, *h.shape[-2:])
        return (eps, feats) if features else eps
