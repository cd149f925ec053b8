"""BAKU's image encoder: ResNet-18 stem + layer1 + layer2 with GroupNorm, FiLM after every block,
then a spatial softmax over learned keypoints and a linear projection. No torchvision needed."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class EncoderConfig:
    widths: tuple[int, ...] = (64, 128)  # layer1, layer2 channels (ResNet-18: 64, 128)
    blocks_per_layer: int = 2
    groups: int = 16  # GroupNorm groups
    keypoints: int = 256
    out_dim: int = 512
    cond_dim: int = 512  # FiLM conditioning (language) width


def _norm(c: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, c), c)


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs + skip), GroupNorm instead of BatchNorm."""

    def __init__(self, c_in: int, c_out: int, stride: int, groups: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.n1 = _norm(c_out, groups)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.n2 = _norm(c_out, groups)
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), _norm(c_out, groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.n1(self.conv1(x)))
        return F.relu(self.n2(self.conv2(h)) + self.skip(x))


class FiLM(nn.Module):
    """h <- (1 + gamma) h + beta with (gamma, beta) = Linear(cond); zero-initialised, so it starts as identity."""

    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(cond)[..., None, None].chunk(2, dim=1)
        return (1 + gamma) * h + beta


class SpatialSoftmax(nn.Module):
    """Expected (x, y) image coordinates of `keypoints` learned heat maps: (B, C, H, W) -> (B, 2K)."""

    def __init__(self, channels: int, keypoints: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, keypoints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        attn = self.conv(x).flatten(2).softmax(-1)  # (B, K, HW)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, device=x.device), torch.linspace(-1, 1, w, device=x.device),
                                indexing="ij")
        grid = torch.stack([xs.flatten(), ys.flatten()], -1).to(attn.dtype)  # (HW, 2)
        return (attn @ grid).flatten(1)


class FiLMResNetEncoder(nn.Module):
    """Float images in [0, 1], (B, 3, H, W), plus a condition vector -> (B, out_dim)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        c0 = cfg.widths[0]
        self.stem = nn.Sequential(nn.Conv2d(3, c0, 7, 2, 3, bias=False), _norm(c0, cfg.groups), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        self.blocks, self.films = nn.ModuleList(), nn.ModuleList()
        c_in = c0
        for i, c in enumerate(cfg.widths):
            for j in range(cfg.blocks_per_layer):
                stride = 2 if i > 0 and j == 0 else 1
                self.blocks.append(BasicBlock(c_in, c, stride, cfg.groups))
                self.films.append(FiLM(cfg.cond_dim, c))
                c_in = c
        self.pool = SpatialSoftmax(c_in, cfg.keypoints)
        self.proj = nn.Linear(2 * cfg.keypoints, cfg.out_dim)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.stem((images - self.mean) / self.std)
        for block, film in zip(self.blocks, self.films):
            h = film(block(h), cond)
        return self.proj(self.pool(h))
