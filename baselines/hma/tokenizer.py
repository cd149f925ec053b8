"""HMA's image tokenizer at small scale: a conv VQ autoencoder. Each frame becomes a grid of codebook indices
that the dynamics model predicts; decoding maps indices back to pixels."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.hma.config import TokenizerConfig
from hilam.models.conv import image_decoder, image_encoder
from hilam.models.quantize import EMAQuantizer
from hilam.policy_io import images_to_tensor, tensor_to_images


class ImageTokenizer(nn.Module):
    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = nn.Sequential(image_encoder(cfg.widths, cfg.groups), nn.Conv2d(cfg.widths[-1], cfg.code_dim, 1))
        self.quantizer = EMAQuantizer(cfg.code_dim, cfg.codebook, cfg.decay, cfg.dead_fraction)
        self.decoder = nn.Sequential(nn.Conv2d(cfg.code_dim, cfg.widths[-1], 1), image_decoder(cfg.widths, cfg.groups))
        self.grid = cfg.image_size // 2 ** (len(cfg.widths) - 1)

    def _latent(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B * grid * grid, code_dim)."""
        return self.encoder(images * 2 - 1).permute(0, 2, 3, 1).reshape(-1, self.cfg.code_dim)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction (B, 3, H, W) through the straight-through quantiser, and the commitment loss."""
        z = self._latent(images)
        q, _ = self.quantizer(z)
        commit = F.mse_loss(z, q.detach())
        q = z + (q - z).detach()
        return self._pixels(q, len(images)), commit

    def _pixels(self, q: torch.Tensor, batch: int) -> torch.Tensor:
        grid = q.view(batch, self.grid, self.grid, -1).permute(0, 3, 1, 2)
        return (self.decoder(grid) + 1) / 2

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> codes (B, grid * grid)."""
        return self.quantizer.assign(self._latent(images)).view(len(images), -1)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, grid * grid) -> images (B, 3, H, W) clamped to [0, 1]."""
        return self._pixels(self.quantizer.codebook[codes.reshape(-1)], len(codes)).clamp(0, 1)


class TokenizerObjective(nn.Module):
    """Reconstruction (MSE) + commitment on single frames; the objective is also its batch source."""

    def __init__(self, tokenizer: ImageTokenizer, frames: np.ndarray):
        super().__init__()
        self.tokenizer, self.frames = tokenizer, frames

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, idx: np.ndarray) -> dict:
        return {"images": self.frames[idx]}

    def forward(self, batch: dict) -> torch.Tensor:
        x = images_to_tensor(batch["images"], self.tokenizer.quantizer.codebook.device)
        recon, commit = self.tokenizer(x)
        return F.mse_loss(recon, x) + self.tokenizer.cfg.commit_weight * commit


@torch.no_grad()
def tokenize(tokenizer: ImageTokenizer, frames: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, grid * grid) int64 codes."""
    dev = tokenizer.quantizer.codebook.device
    return torch.cat([tokenizer.encode(images_to_tensor(frames[i:i + batch], dev))
                      for i in range(0, len(frames), batch)]).cpu().numpy()


@torch.no_grad()
def reconstruct(tokenizer: ImageTokenizer, frames: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, H, W, 3) uint8 -> the same frames through the tokenizer (encoded, then decoded), uint8: how the world
    model's frames look."""
    dev = tokenizer.quantizer.codebook.device
    codes = (tokenizer.encode(images_to_tensor(frames[i:i + batch], dev)) for i in range(0, len(frames), batch))
    return np.concatenate([tensor_to_images(tokenizer.decode(c)) for c in codes])
