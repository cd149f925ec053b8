"""Plain conv stages for the small image encoders and decoders (KS-Gen's generator and judge, HMA's tokenizer)."""
from __future__ import annotations

from torch import nn


def conv_stack(widths: tuple[int, ...], groups: int, up: bool) -> nn.Sequential:
    """Stride-2 conv (or transposed conv) stages between consecutive widths, GroupNorm + SiLU after each:
    each stage halves (or doubles) the image."""
    conv = nn.ConvTranspose2d if up else nn.Conv2d
    layers = []
    for c_in, c_out in zip(widths[:-1], widths[1:]):
        layers += [conv(c_in, c_out, 4, 2, 1), nn.GroupNorm(groups, c_out), nn.SiLU()]
    return nn.Sequential(*layers)


def image_encoder(widths: tuple[int, ...], groups: int) -> nn.Sequential:
    """(B, 3, H, W) in [-1, 1] -> (B, widths[-1], H / 2^(n-1), W / 2^(n-1))."""
    return nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1), nn.SiLU(), conv_stack(widths, groups, up=False))


def image_decoder(widths: tuple[int, ...], groups: int) -> nn.Sequential:
    """The mirror of `image_encoder`: (B, widths[-1], h, w) -> (B, 3, h * 2^(n-1), w * 2^(n-1)), unbounded."""
    return nn.Sequential(conv_stack(widths[::-1], groups, up=True), nn.Conv2d(widths[0], 3, 3, 1, 1))
