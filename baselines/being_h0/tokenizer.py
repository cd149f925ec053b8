"""Part-level motion tokenizer: end-effector trajectory windows (T steps x [position 3, 6D rotation 6,
gripper 2]) -> discrete motion tokens and back. Each part (wrist = position + rotation, finger = gripper)
has its own 1D conv encoder (temporal downsampling alpha), grouped residual VQ and decoder; trained with
reconstruction + velocity + commitment losses. By default the wrist is tokenised relative to the window's
first pose (what the arm does from where it is); fingers stay absolute. `part_level=False` gives the flat
ablation: one tokenizer over the whole vector."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.being_h0.config import TokenizerConfig
from baselines.being_h0.geometry import matrix_to_rot6d, rot6d_to_matrix, rotation_angle_deg
from baselines.being_h0.vq import GroupedResidualVQ
from hilam.models.quantize import code_usage

# the per-step motion vector: metres, 6D rotation (first two matrix columns), finger joint positions (metres)
POSITION, ROTATION, GRIPPER = slice(0, 3), slice(3, 9), slice(9, 11)
MOTION_DIM = 11
PART_LEVEL = {"wrist": slice(0, 9), "finger": slice(9, 11)}
FLAT = {"whole": slice(0, MOTION_DIM)}


class ResBlock1d(nn.Module):
    """x + conv(relu(conv(relu(x)))) over time, same length."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation),
                                 nn.ReLU(), nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class MotionTokenizer(nn.Module):
    """One part: (B, T, in_dim) -> codes (B, T / alpha, groups, layers) -> (B, T, in_dim)."""

    def __init__(self, in_dim: int, cfg: TokenizerConfig):
        super().__init__()
        stages = int(math.log2(cfg.downsample))
        if 2 ** stages != cfg.downsample or cfg.window % cfg.downsample:
            raise ValueError(f"downsample {cfg.downsample} must be a power of 2 dividing window {cfg.window}")
        h, latent = cfg.hidden, cfg.groups * cfg.code_dim
        enc = [nn.Conv1d(in_dim, h, 3, padding=1)]
        for _ in range(stages):  # each stage halves the time axis
            enc += [nn.ReLU(), nn.Conv1d(h, h, 4, stride=2, padding=1), ResBlock1d(h, dilation=1)]
        self.encoder = nn.Sequential(*enc, nn.ReLU(), nn.Conv1d(h, latent, 1))
        dec = [nn.Conv1d(latent, h, 3, padding=1)]
        for _ in range(stages):
            dec += [ResBlock1d(h), nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv1d(h, h, 3, padding=1)]
        self.decoder = nn.Sequential(*dec, nn.ReLU(), nn.Conv1d(h, in_dim, 3, padding=1))
        self.vq = GroupedResidualVQ(cfg.code_dim, cfg.groups, cfg.codebook_size, cfg.residual_layers,
                                    cfg.ema_decay, cfg.dead_code_usage)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised (B, T, in_dim) -> (reconstruction, codes (B, T/alpha, G, R), commitment loss)."""
        z = self.encoder(x.transpose(1, 2)).transpose(1, 2)  # (B, T/alpha, G*D)
        b, t, c = z.shape
        zq, codes, commit = self.vq(z.reshape(b * t, c))
        return self.decode_latent(zq.reshape(b, t, c)), codes.reshape(b, t, *codes.shape[1:]), commit

    def decode_latent(self, zq: torch.Tensor) -> torch.Tensor:
        return self.decoder(zq.transpose(1, 2)).transpose(1, 2)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T/alpha, G, R) -> (B, T, in_dim)."""
        b, t = codes.shape[:2]
        return self.decode_latent(self.vq.lookup(codes.reshape(b * t, *codes.shape[2:])).reshape(b, t, -1))


class PartMotionTokenizer(nn.Module):
    """Raw motion windows (B, T, MOTION_DIM) <-> motion token ids in one vocabulary (every quantiser of every
    part owns `codebook_size` ids). Token order per latent step: part, group, residual layer (coarse first)."""

    def __init__(self, cfg: TokenizerConfig, part_level: bool = True):
        super().__init__()
        self.cfg = cfg
        self.parts = PART_LEVEL if part_level else FLAT
        self.tokenizers = nn.ModuleDict({p: MotionTokenizer(s.stop - s.start, cfg) for p, s in self.parts.items()})
        self.register_buffer("mean", torch.zeros(MOTION_DIM))
        self.register_buffer("std", torch.ones(MOTION_DIM))

    # ------------------------------------------------------------------ sizes
    @property
    def quantisers_per_step(self) -> int:
        return len(self.parts) * self.cfg.groups * self.cfg.residual_layers

    @property
    def vocab_size(self) -> int:
        return self.quantisers_per_step * self.cfg.codebook_size

    @property
    def tokens_per_window(self) -> int:
        return self.cfg.window // self.cfg.downsample * self.quantisers_per_step

    # ------------------------------------------------------------------ normalisation
    def relative(self, motion: torch.Tensor) -> torch.Tensor:
        """With `relative_wrist`: position minus the first step's, rotation R_0^T R_t (in the start frame);
        fingers stay absolute."""
        if not self.cfg.relative_wrist:
            return motion
        r0 = rot6d_to_matrix(motion[:, :1, ROTATION])
        rel = matrix_to_rot6d(r0.transpose(-1, -2) @ rot6d_to_matrix(motion[..., ROTATION]))
        pos = motion[..., POSITION] - motion[:, :1, POSITION]
        return torch.cat([pos, rel.to(motion.dtype), motion[..., GRIPPER.start:]], -1)

    def absolute(self, x: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
        """Inverse of `relative` given each window's first wrist pose `origin` (B, 9): position, 6D rotation."""
        pos = x[..., POSITION] + origin[:, None, POSITION]
        rot = matrix_to_rot6d(rot6d_to_matrix(origin[:, None, ROTATION]) @ rot6d_to_matrix(x[..., ROTATION]))
        return torch.cat([pos, rot.to(x.dtype), x[..., GRIPPER.start:]], -1)

    def set_stats(self, motion: np.ndarray, floor: float = 1e-3) -> None:
        """Standardise with the corpus' per-dimension statistics (kept in checkpoints as buffers)."""
        flat = self.relative(torch.as_tensor(np.asarray(motion), dtype=torch.float32)).reshape(-1, MOTION_DIM).numpy()
        self.mean.copy_(torch.as_tensor(flat.mean(0), dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.maximum(flat.std(0), floor), dtype=torch.float32))

    def normalise(self, motion) -> torch.Tensor:
        """Raw windows (B, T, MOTION_DIM) -> standardised (relative) windows."""
        x = self.relative(torch.as_tensor(motion, dtype=torch.float32, device=self.mean.device))
        return (x - self.mean) / self.std

    def denormalise(self, x: torch.Tensor, origin: torch.Tensor | None = None) -> torch.Tensor:
        """Standardised windows -> raw; `origin` (B, 9) is the first wrist pose relative windows were taken from."""
        y = x * self.std + self.mean
        if not self.cfg.relative_wrist:
            return y
        if origin is None:
            raise ValueError("relative-wrist tokens need the window's first wrist pose (position, 6D rotation)")
        return self.absolute(y, torch.as_tensor(origin, dtype=y.dtype, device=y.device))

    # ------------------------------------------------------------------ training
    def reconstruct(self, motion) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw windows -> (normalised reconstruction, codes (B, T/alpha, parts, G, R), commitment loss)."""
        x = self.normalise(motion)
        outs = [self.tokenizers[p](x[..., s]) for p, s in self.parts.items()]  # parts are contiguous, in order
        commit = sum(o[2] for o in outs) / len(outs)
        return torch.cat([o[0] for o in outs], -1), torch.stack([o[1] for o in outs], 2), commit

    def losses(self, motion) -> dict[str, torch.Tensor]:
        x = self.normalise(motion)
        recon, _, commit = self.reconstruct(motion)
        vel = F.mse_loss(recon.diff(dim=1), x.diff(dim=1))
        return {"reconstruction": F.mse_loss(recon, x), "velocity": vel, "commitment": commit}

    def forward(self, batch: dict) -> torch.Tensor:
        """Training loss on a batch {"motion": (B, T, MOTION_DIM)}: reconstruction + velocity + commitment."""
        ls = self.losses(batch["motion"])
        return ls["reconstruction"] + self.cfg.velocity * ls["velocity"] + self.cfg.commitment * ls["commitment"]

    # ------------------------------------------------------------------ tokens
    def codes_to_tokens(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T', parts, G, R) codes -> (B, T' * parts * G * R) ids, each quantiser offset into its own range."""
        b = codes.shape[0]
        offsets = torch.arange(self.quantisers_per_step, device=codes.device) * self.cfg.codebook_size
        return (codes.reshape(b, -1, self.quantisers_per_step) + offsets).reshape(b, -1)

    def tokens_to_codes(self, tokens: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        codes = tokens.reshape(tokens.shape[0], -1, self.quantisers_per_step) % c.codebook_size
        return codes.reshape(tokens.shape[0], -1, len(self.parts), c.groups, c.residual_layers)

    @torch.no_grad()
    def tokenize(self, motion) -> torch.Tensor:
        """Raw windows (B, T, MOTION_DIM) -> (B, tokens_per_window) motion token ids."""
        return self.codes_to_tokens(self.reconstruct(motion)[1])

    @torch.no_grad()
    def detokenize(self, tokens: torch.Tensor, origin: torch.Tensor | None = None) -> torch.Tensor:
        """(B, tokens_per_window) ids (+ first wrist poses (B, 9) if relative) -> raw windows (B, T, MOTION_DIM)."""
        codes = self.tokens_to_codes(tokens)
        parts = [self.tokenizers[p].decode_codes(codes[:, :, i]) for i, p in enumerate(self.parts)]
        return self.denormalise(torch.cat(parts, -1), origin)


@torch.no_grad()
def reconstruction_error(tok: PartMotionTokenizer, motion: np.ndarray, batch: int = 512) -> dict[str, float]:
    """Round-trip error through the tokens (raw -> ids -> raw, given the first wrist pose when the wrist is
    relative), in physical units: wrist position in mm (Euclidean), rotation in degrees (geodesic angle),
    finger joints in mm; plus codebook use."""
    was_training = tok.training
    tok.eval()
    pos, rot, grip, codes = [], [], [], []
    for i in range(0, len(motion), batch):
        x = torch.as_tensor(motion[i:i + batch], dtype=torch.float32, device=tok.mean.device)
        ids = tok.tokenize(x)
        y = tok.detokenize(ids, x[:, 0, :ROTATION.stop])
        pos.append(torch.linalg.norm(y[..., POSITION] - x[..., POSITION], dim=-1).flatten() * 1000)
        rot.append(rotation_angle_deg(y[..., ROTATION], x[..., ROTATION]).flatten())
        grip.append((y[..., GRIPPER] - x[..., GRIPPER]).abs().flatten() * 1000)
        codes.append(tok.tokens_to_codes(ids))
    tok.train(was_training)
    pos, rot, grip = torch.cat(pos), torch.cat(rot), torch.cat(grip)
    return {"position_mm_mean": float(pos.mean()), "position_mm_p95": float(pos.quantile(0.95)),
            "rotation_deg_mean": float(rot.mean()), "rotation_deg_p95": float(rot.quantile(0.95)),
            "gripper_mm_mean": float(grip.mean()), "windows": len(motion),
            **code_usage(torch.cat(codes).flatten(0, 1), tok.cfg.codebook_size)}
