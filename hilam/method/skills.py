"""Latent skills: a two-stage H-Net over latent-action sequences (HiLAM section 3, H-Net section 4).

Trained on the frozen IDM's latent-action sequences of the action-free corpus with
L = L1(next latent) + lambda_rec * ||FDM(I_{t+1}, predicted z_{t+1}) - I_{t+1+k}||^2 + lambda_ratio * sum_s L_ratio^s
(with `SkillConfig.target = "next_window"`, z_{t+g} and I_{t+g} in place of z_{t+1} and I_{t+1}, g the labelling gap).
Afterwards every frame carries the vector of the chunk that holds it: level 2 (stage-2 chunks) are the
latent skills z^h, level 1 the stage-1 chunks, level 0 the latent action itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hilam.method.config import SkillConfig
from hilam.method.hnet import HNet, level_boundaries, level_vectors
from hilam.method.latent_actions import FDM, FrameStore
from hilam.policy_io import images_to_tensor


class SkillModel(nn.Module):
    """Standardised latent actions (B, T, Dz) -> prediction of the next latent at every step, and routing info."""

    def __init__(self, cfg: SkillConfig, latent_dim: int):
        super().__init__()
        self.cfg = cfg
        self.inp = nn.Linear(latent_dim, cfg.hnet.width)
        self.hnet = HNet(cfg.hnet)
        self.out = nn.Linear(cfg.hnet.width, latent_dim)

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[dict]]:
        y, info = self.hnet(self.inp(z), mask)
        return self.out(y), info


@dataclass
class LatentSequences:
    """Per-clip latent-action sequences, aligned frame for frame with a FrameStore, and their statistics."""

    latents: list[np.ndarray]  # (T_c, Dz) raw IDM outputs
    mean: np.ndarray
    std: np.ndarray
    gap_frames: int  # the frame gap the IDM labelled with (needed to pick the FDM's target frame)

    @classmethod
    def from_latents(cls, latents: list[np.ndarray], gap_frames: int) -> "LatentSequences":
        cat = np.concatenate(latents)
        return cls(latents, cat.mean(0), np.maximum(cat.std(0), 1e-3), gap_frames)

    def standardised(self, i: int) -> np.ndarray:
        return ((self.latents[i] - self.mean) / self.std).astype(np.float32)


class SkillObjective(nn.Module):
    """The skill model's training loss; batches are random crops of whole clips (index -> clip, crop start)."""

    def __init__(self, model: SkillModel, fdm: FDM, seqs: LatentSequences, store: FrameStore):
        super().__init__()
        self.model, self.seqs, self.store = model, seqs, store
        self.offset = model.cfg.target_offset(seqs.gap_frames)
        self.fdm = fdm.requires_grad_(False).eval()
        self.register_buffer("z_mean", torch.as_tensor(seqs.mean, dtype=torch.float32))
        self.register_buffer("z_std", torch.as_tensor(seqs.std, dtype=torch.float32))

    def train(self, mode: bool = True):
        super().train(mode)
        self.fdm.eval()  # frozen, always
        return self

    def crop_batch(self, idx: np.ndarray) -> dict:
        rng = np.random.default_rng(np.asarray(idx, dtype=np.int64))
        crop, n_clips = self.model.cfg.crop, len(self.seqs.latents)
        clips = np.asarray(idx) % n_clips
        z = np.zeros((len(idx), crop, self.seqs.mean.shape[0]), np.float32)
        mask = np.zeros((len(idx), crop), bool)
        frame = np.zeros((len(idx), crop), np.int64)  # FrameStore index of each latent step
        for r, c in enumerate(clips):
            seq = self.seqs.standardised(c)
            start = int(rng.integers(0, max(1, len(seq) - crop + 1)))
            n = min(crop, len(seq) - start)
            z[r, :n], mask[r, :n] = seq[start:start + n], True
            frame[r, :n] = self.store.starts[c] + start + np.arange(n)
        # positions whose prediction (of the latent `offset` steps on) is decoded by the frozen FDM
        valid = mask[:, self.offset:].sum(1)
        rec_t = np.stack([rng.integers(0, max(1, v), self.model.cfg.rec_samples) for v in valid])
        src = frame[np.arange(len(idx))[:, None], np.minimum(rec_t + self.offset, crop - 1)]
        return {"z": z, "mask": mask, "rec_t": rec_t, "rec_first": self.store.frames[src],
                "rec_later": self.store.frames[self.store.later(src, self.seqs.gap_frames)]}

    def losses(self, batch: dict) -> dict[str, torch.Tensor]:
        dev = self.z_mean.device
        z, mask = torch.as_tensor(batch["z"], device=dev), torch.as_tensor(batch["mask"], device=dev)
        pred, info = self.model(z, mask)
        o = self.offset
        pair = (mask[:, o:] & mask[:, :-o]).float()[..., None]
        latent = (F.l1_loss(pred[:, :-o], z[:, o:], reduction="none") * pair).sum() / (pair.sum() * z.shape[-1])
        rec_t = torch.as_tensor(batch["rec_t"], device=dev)
        z_hat = pred.gather(1, rec_t[..., None].expand(-1, -1, z.shape[-1])).flatten(0, 1) * self.z_std + self.z_mean
        first = images_to_tensor(batch["rec_first"].reshape(-1, *batch["rec_first"].shape[2:]), dev)
        later = images_to_tensor(batch["rec_later"].reshape(-1, *batch["rec_later"].shape[2:]), dev)
        rec = F.mse_loss(self.fdm(first, z_hat), later)
        ratio = sum(s["ratio_loss"] for s in info)
        return {"latent": latent, "rec": rec, "ratio": ratio,
                "total": latent + self.model.cfg.rec_weight * rec + self.model.cfg.hnet.ratio_weight * ratio}

    def forward(self, batch: dict) -> torch.Tensor:
        return self.losses(batch)["total"]


class CropSource:
    def __init__(self, objective: SkillObjective, samples: int):
        self.objective, self.samples = objective, samples

    def __len__(self) -> int:
        return self.samples

    def batch(self, idx: np.ndarray) -> dict:
        return self.objective.crop_batch(idx)


@dataclass
class Segmentation:
    """One sequence's skills: per-step vectors at levels 1 and 2, and the boundaries of each level."""

    vectors: dict[int, np.ndarray]  # level -> (T, width)
    boundaries: dict[int, np.ndarray]  # level -> (T,) bool, True where a chunk starts


@torch.no_grad()
def segment(model: SkillModel, z_std: np.ndarray) -> Segmentation:
    """Run the trained skill model over one whole standardised sequence (T, Dz)."""
    dev = next(model.parameters()).device
    z = torch.as_tensor(z_std, device=dev)[None]
    _, info = model(z, torch.ones(z.shape[:2], dtype=torch.bool, device=dev))
    levels = range(1, model.cfg.hnet.stages + 1)
    return Segmentation({lv: level_vectors(info, lv)[0].float().cpu().numpy() for lv in levels},
                        {lv: level_boundaries(info, lv)[0].cpu().numpy() for lv in levels})
