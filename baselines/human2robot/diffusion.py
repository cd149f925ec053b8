"""DDPM noising (cosine schedule, epsilon prediction): the VPM's training target and the one-step feature input."""
from __future__ import annotations

import math

import torch
from torch import nn


def cosine_alpha_bar(steps: int, offset: float) -> torch.Tensor:
    """alpha_bar(t) for t = 0..steps-1 (Nichol & Dhariwal's cosine schedule, any T; clipped away from 0)."""
    s = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((s + offset) / (1 + offset) * math.pi / 2) ** 2
    alpha_bar = f[1:] / f[0]
    return alpha_bar.clamp(min=1e-5, max=1.0).float()


class DDPM(nn.Module):
    """q(x_t | x_0) = N(sqrt(a_t) x_0, (1 - a_t) I); the schedule is a buffer so it moves with the model."""

    def __init__(self, steps: int, offset: float):
        super().__init__()
        self.steps = steps
        self.register_buffer("alpha_bar", cosine_alpha_bar(steps, offset))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.alpha_bar[t].view(-1, *([1] * (x0.dim() - 1)))
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def sample_t(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.randint(0, self.steps, (n,), device=device)
