"""HMA's sizes and training budgets, one preset per harness profile."""
from __future__ import annotations

from dataclasses import dataclass, field

from hilam.profiles import copy_preset
from hilam.train import TrainConfig


@dataclass
class TokenizerConfig:
    """A conv VQ autoencoder: an image becomes a (grid x grid) map of codebook indices."""

    image_size: int = 64
    widths: tuple[int, ...] = (16, 32, 64, 128)  # each stage after the first halves the image: 64 px -> 8x8
    groups: int = 8
    code_dim: int = 32
    codebook: int = 512
    decay: float = 0.99
    dead_fraction: float = 0.03  # codes used less than this fraction of the mean are restarted
    commit_weight: float = 0.25


@dataclass
class DynamicsConfig:
    """The spatial-temporal transformer: spatial attention within a frame, causal attention over frames."""

    width: int = 128
    layers: int = 4
    heads: int = 4
    frames: int = 4  # frames per training window (the first is always given); generation keeps frames - 1
    action_spaces: dict[str, int] = field(default_factory=lambda: {"libero_osc": 7})  # name -> per-step dim
    frame_stride: int = 4  # control steps between world-model frames; the stem sees their actions concatenated
    decode_steps: int = 8  # MaskGIT iterations to generate one frame
    min_mask: float = 0.05  # at least this fraction of a predicted frame's tokens is masked in training


@dataclass
class HMAConfig:
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    tokenizer_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000, batch_size=32, lr=3e-4))
    dynamics_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2500, batch_size=16, lr=3e-4))
    camera: str = "agentview_rgb"
    test_per_task: int = 1  # the last demos of each task are held out for the metrics
    horizon: int = 10  # frames generated per held-out window for PSNR / SSIM / controllability


PRESETS: dict[str, HMAConfig] = {
    # 2-core CPU: 64 px, 8x8 tokens, a 1.2M-parameter dynamics model; tokenizer + dynamics train in ~25 min
    "cpu": HMAConfig(),
    "paper": HMAConfig(tokenizer=TokenizerConfig(image_size=128, widths=(64, 128, 256, 256, 256), groups=16,
                                                 code_dim=64, codebook=1024),
                       dynamics=DynamicsConfig(width=512, layers=16, heads=8, frames=16, frame_stride=2),
                       tokenizer_train=TrainConfig(steps=100_000, batch_size=64, lr=2e-4),
                       dynamics_train=TrainConfig(steps=100_000, batch_size=32, lr=2e-4)),
    "smoke": HMAConfig(tokenizer=TokenizerConfig(image_size=16, widths=(8, 16, 16), groups=4, code_dim=8, codebook=16),
                       dynamics=DynamicsConfig(width=32, layers=1, heads=2, frames=3, frame_stride=2, decode_steps=2),
                       tokenizer_train=TrainConfig(steps=20, batch_size=8, lr=1e-3, log_every=10, ckpt_every=20),
                       dynamics_train=TrainConfig(steps=20, batch_size=4, lr=1e-3, log_every=10, ckpt_every=20),
                       horizon=2),
}


def preset(profile_name: str, **overrides) -> HMAConfig:
    return copy_preset(PRESETS, profile_name, "no HMA preset for profile", **overrides)
