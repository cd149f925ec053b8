"""Bidirectional transformer blocks over image patches (torch's own layers), shared by HiLAM's IDM/FDM,
Being-H0's trunk inputs and KS-Gen's generator."""
from __future__ import annotations

import torch
from torch import nn

MLP_RATIO = 4  # feed-forward width per model width, as in ViT


def encoder_stack(width: int, heads: int, layers: int) -> nn.TransformerEncoder:
    """A pre-norm bidirectional transformer (torch's own layers)."""
    layer = nn.TransformerEncoderLayer(width, heads, MLP_RATIO * width, dropout=0.0, batch_first=True,
                                       norm_first=True, activation="gelu")
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class Patches(nn.Module):
    """(B, 3, H, W) in [0, 1] -> (B, P, width) patch tokens with learned positions."""

    POS_INIT_STD = 0.02  # learned positions start near zero

    def __init__(self, image_size: int, patch: int, width: int):
        super().__init__()
        self.proj = nn.Conv2d(3, width, patch, patch)
        self.pos = nn.Parameter(torch.randn(1, (image_size // patch) ** 2, width) * self.POS_INIT_STD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x * 2 - 1).flatten(2).transpose(1, 2) + self.pos
