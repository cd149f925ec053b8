"""KS-Gen's key-step image generator at small scale: from the first frame, the instruction and the previous
key-step image, predict the frame at the next key step. A conv encoder turns both images into a grid of
tokens; a transformer mixes them with an instruction token and a step token; a conv decoder paints the
change on top of the previous key-step image. Later steps are generated from the model's own earlier ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hilam.models.conv import image_decoder, image_encoder
from hilam.models.transformer import encoder_stack


@dataclass
class GeneratorConfig:
    image_size: int = 64
    widths: tuple[int, ...] = (16, 32, 64, 128)  # conv channels; each stage after the first halves: 64 px -> 8x8
    groups: int = 8
    layers: int = 4  # transformer layers over [instruction, step, first-frame tokens, previous-image tokens]
    heads: int = 4
    max_steps: int = 8  # key steps a task may have


class KeyStepGenerator(nn.Module):
    def __init__(self, cfg: GeneratorConfig, lang_dim: int):
        super().__init__()
        self.cfg = cfg
        w, d = cfg.widths, cfg.widths[-1]
        self.encode = image_encoder(w, cfg.groups)
        self.grid = cfg.image_size // 2 ** (len(w) - 1)
        n = self.grid ** 2
        self.lang = nn.Linear(lang_dim, d)
        self.step = nn.Embedding(cfg.max_steps + 1, d)
        self.pos = nn.Parameter(torch.zeros(1, 2 + 2 * n, d))  # also tells first-frame from previous-image tokens
        self.mix = encoder_stack(d, cfg.heads, cfg.layers)
        self.decode = image_decoder(w, cfg.groups)
        nn.init.zeros_(self.decode[-1].weight)  # starts as "nothing changes since the previous key step"
        nn.init.zeros_(self.decode[-1].bias)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, grid*grid, d)."""
        return self.encode(images * 2 - 1).flatten(2).transpose(1, 2)

    def forward(self, first: torch.Tensor, previous: torch.Tensor, lang: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1], instruction embeddings (B, lang_dim), key-step numbers (B,) starting at 1
        -> the predicted key-step image (B, 3, H, W), unclamped."""
        x = torch.cat([self.lang(lang)[:, None], self.step(step)[:, None], self.tokens(first), self.tokens(previous)], 1)
        x = self.mix(x + self.pos)
        n = self.grid ** 2
        grid = x[:, 2 + n:].transpose(1, 2).reshape(len(x), -1, self.grid, self.grid)
        return previous + self.decode(grid)

    @torch.no_grad()
    def rollout(self, first: torch.Tensor, lang: torch.Tensor, steps: int) -> list[torch.Tensor]:
        """Every key-step image of a demo in turn, each generated from the previous generated one."""
        out, previous = [], first
        for k in range(1, steps + 1):
            previous = self(first, previous, lang, torch.full((len(first),), k, device=first.device)).clamp(0, 1)
            out.append(previous)
        return out


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1: sharper than MSE for the small moved objects that make a key step."""
    return F.l1_loss(pred, target)
