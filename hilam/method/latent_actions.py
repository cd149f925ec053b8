"""Latent actions from action-free video (UniSkill-style IDM/FDM, continuous latent, no VQ).

IDM(I_t, I_{t+k}) -> z (latent_dim): patch tokens of both frames plus a [LATENT] token go through a
bidirectional space-time transformer (joint attention over the 2 x P patch tokens); z is read at
[LATENT]. FDM(I_t, z) -> I_{t+k}: patch tokens of I_t, with z added to every token and as a token
of its own, predict the per-patch change, so z has to carry what moved. k ~ U[gap_min, gap_max] env
steps at training time; the IDM is frozen afterwards and labels sequences at `infer_gap`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hilam.data.video import Clip
from hilam.method.config import LatentActionConfig
from hilam.models.transformer import Patches, encoder_stack
from hilam.policy_io import images_to_tensor


class IDM(nn.Module):
    """Inverse dynamics: (I_t, I_{t+k}) -> continuous latent action z."""

    def __init__(self, cfg: LatentActionConfig):
        super().__init__()
        self.patches = Patches(cfg.image_size, cfg.patch, cfg.width)
        self.frame = nn.Parameter(torch.randn(1, 2, 1, cfg.width) * 0.02)  # which of the two frames
        self.latent_token = nn.Parameter(torch.randn(1, 1, cfg.width) * 0.02)
        self.blocks = encoder_stack(cfg.width, cfg.heads, cfg.idm_layers)
        self.out = nn.Sequential(nn.LayerNorm(cfg.width), nn.Linear(cfg.width, cfg.latent_dim))

    def forward(self, first: torch.Tensor, later: torch.Tensor) -> torch.Tensor:
        tok = torch.stack([self.patches(first), self.patches(later)], 1) + self.frame  # (B, 2, P, W)
        tok = torch.cat([self.latent_token.expand(len(tok), -1, -1), tok.flatten(1, 2)], 1)
        return self.out(self.blocks(tok)[:, 0])


class FDM(nn.Module):
    """Forward dynamics: (I_t, z) -> predicted I_{t+k} (as I_t plus a predicted per-patch change)."""

    def __init__(self, cfg: LatentActionConfig):
        super().__init__()
        self.cfg = cfg
        self.patches = Patches(cfg.image_size, cfg.patch, cfg.width)
        self.z_in = nn.Linear(cfg.latent_dim, cfg.width)
        self.blocks = encoder_stack(cfg.width, cfg.heads, cfg.fdm_layers)
        self.out = nn.Sequential(nn.LayerNorm(cfg.width), nn.Linear(cfg.width, 3 * cfg.patch ** 2))

    def forward(self, first: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        zt = self.z_in(z)[:, None]
        tok = self.blocks(torch.cat([zt, self.patches(first) + zt], 1))[:, 1:]
        b, p, n = first.shape[0], self.cfg.patch, self.cfg.image_size // self.cfg.patch
        delta = self.out(tok).view(b, n, n, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, 3, n * p, n * p)
        return first + delta


class FrameStore:
    """Clips concatenated into one uint8 array, with each frame's clip end, for gathering frame pairs."""

    def __init__(self, clips: list[Clip]):
        if not clips:
            raise ValueError("the action-free video corpus is empty")
        self.frames = np.concatenate([c.frames for c in clips])
        self.lengths = np.asarray([len(c.frames) for c in clips])
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.last = np.repeat(self.starts + self.lengths - 1, self.lengths)

    def __len__(self) -> int:
        return len(self.frames)

    def later(self, idx: np.ndarray, gap: np.ndarray | int) -> np.ndarray:
        """Index of the frame `gap` frames after each of `idx`, clamped to its clip's last frame."""
        return np.minimum(np.asarray(idx) + gap, self.last[idx])


class LatentActionObjective(nn.Module):
    """IDM + FDM trained together by reconstructing I_{t+k} (MSE); batches are frame pairs of the corpus."""

    def __init__(self, cfg: LatentActionConfig, store: FrameStore, stride: int):
        super().__init__()
        self.cfg, self.store, self.stride = cfg, store, stride
        self.idm, self.fdm = IDM(cfg), FDM(cfg)

    def pair_batch(self, idx: np.ndarray) -> dict:
        """Frame pairs at a gap drawn from U[gap_min, gap_max] control steps (seeded by the indices: exact resume)."""
        rng = np.random.default_rng(np.asarray(idx, dtype=np.int64))
        gap = np.maximum(1, np.round(rng.integers(self.cfg.gap_min, self.cfg.gap_max + 1, len(idx)) / self.stride))
        return {"first": self.store.frames[idx], "later": self.store.frames[self.store.later(idx, gap.astype(int))]}

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.idm.latent_token.device
        first, later = images_to_tensor(batch["first"], dev), images_to_tensor(batch["later"], dev)
        return F.mse_loss(self.fdm(first, self.idm(first, later)), later)


class PairSource:
    """The trainer's batch source for the latent action model: index -> a frame pair."""

    def __init__(self, objective: LatentActionObjective):
        self.objective = objective

    def __len__(self) -> int:
        return len(self.objective.store)

    def batch(self, idx: np.ndarray) -> dict:
        return self.objective.pair_batch(idx)


@torch.no_grad()
def label_clip(idm: IDM, frames: np.ndarray, gap_frames: int, batch: int = 256) -> np.ndarray:
    """Latent action of every frame of a clip: z_t = IDM(I_t, I_{min(t + gap, T - 1)}), (T, latent_dim)."""
    dev = idm.latent_token.device
    later = np.minimum(np.arange(len(frames)) + gap_frames, len(frames) - 1)
    out = [idm(images_to_tensor(frames[i:i + batch], dev), images_to_tensor(frames[later[i:i + batch]], dev))
           for i in range(0, len(frames), batch)]
    return torch.cat(out).float().cpu().numpy()
