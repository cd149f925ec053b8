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
    state_dims: dict[str, int] = field(default_factory=lambda: {"libero_osc": 9})  # proprio read out per space
    state_weight: float = 1.0  # weight of the proprio readout's loss beside the masked-token loss
    frame_stride: int = 4  # control steps between world-model frames; the stem sees their actions concatenated
    decode_steps: int = 8  # MaskGIT iterations to generate one frame
    min_mask: float = 0.05  # at least this fraction of a predicted frame's tokens is masked in training


@dataclass
class JudgeConfig:
    """The success classifier, trained on real frames only: which task's goal a frame shows reached, or none.
    Scripted demos end at success, so a demo's last frames are its task's success frames."""

    widths: tuple[int, ...] = (16, 32, 64, 64)
    groups: int = 8
    shift: int = 4  # random-shift augmentation (px)
    success_steps: int = 4  # a demo's last control steps count as success frames
    margin_steps: int = 24  # frames this few steps before them are neither (the object is nearly in place)
    negative_every: int = 4  # every n-th earlier frame is a "not yet" example
    threshold: float = 0.5  # an episode succeeds once its task's probability passes this
    reconstructed: bool = True  # also train on the tokenizer's reconstructions of the same real frames, the
    # look of world-model frames (a judge of real frames alone misses half the success frames there)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1500, batch_size=64, lr=1e-3))


@dataclass
class HMAConfig:
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    tokenizer_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000, batch_size=32, lr=3e-4))
    dynamics_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2500, batch_size=16, lr=3e-4))
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    cameras: tuple[str, ...] = ("agentview_rgb", "eye_in_hand_rgb")  # the views of a frame; metrics use the first
    test_per_task: int = 1  # the last demos of each task are held out for the metrics
    horizon: int = 10  # frames generated per held-out window for PSNR / SSIM / controllability


PRESETS: dict[str, HMAConfig] = {
    # 2-core CPU: 64 px, 8x8 tokens a view, a 1.2M-parameter dynamics model; tokenizer + dynamics train in ~35 min
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
                       judge=JudgeConfig(widths=(8, 16), groups=4, shift=1, success_steps=2, margin_steps=2,
                                         negative_every=2,
                                         train=TrainConfig(steps=20, batch_size=8, lr=1e-3, log_every=10, ckpt_every=20)),
                       horizon=2),
}


def preset(scale: str, **overrides) -> HMAConfig:
    """A copy of the preset for a profile scale (paper, cpu, smoke), with top-level fields overridden."""
    return copy_preset(PRESETS, scale, "no HMA preset for scale", **overrides)
