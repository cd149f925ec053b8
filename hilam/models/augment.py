"""Random-shift image augmentation (DrQ, Kostrikov et al. 2020): pad by replicating the border, then crop
back at a random offset per sample. BAKU's code has no working augmentation, so it is off unless a profile
sets `BakuConfig.shift_pad`."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(x: torch.Tensor, pad: int) -> torch.Tensor:
    """(B, C, H, W) -> the same shape, each sample shifted by an integer offset in [-pad, pad] on both axes."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate").permute(0, 2, 3, 1)  # (B, H+2p, W+2p, C)
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx
    return padded[torch.arange(b, device=x.device).view(b, 1, 1), rows, cols].permute(0, 3, 1, 2)
