"""Human2Robot's own sizes and switches, one preset per profile scale (paper / cpu / smoke), and its variants
(ablations) as named override sets of `human2robot`."""
from __future__ import annotations

from dataclasses import dataclass, field

from hilam.models.film_resnet import EncoderConfig
from hilam.models.gpt import GPTConfig
from hilam.models.heads import HeadConfig
from hilam.profiles import copy_preset
from hilam.train import TrainConfig


@dataclass
class VPMConfig:
    """The video prediction model: a pixel-space video UNet with reference attention, temporal attention and a
    behaviour extractor, trained as a DDPM (epsilon prediction, cosine schedule)."""

    frame_size: int = 32  # px of every frame the VPM sees (current, predicted, demonstration)
    horizon: int = 4  # predicted future frames (and paired demonstration frames)
    stride: int = 5  # control steps between predicted frames
    widths: tuple[int, ...] = (16, 32, 64)  # UNet channels per resolution level (each level halves the size)
    attn_levels: tuple[int, ...] = (2,)  # levels with reference (spatial) attention; temporal attention is everywhere
    heads: int = 4
    groups: int = 8  # GroupNorm groups
    time_dim: int = 64  # timestep embedding width
    behaviour_widths: tuple[int, ...] = (8,)  # 3D-conv channels of the behaviour extractor
    diffusion_steps: int = 100  # DDPM T
    cosine_offset: float = 0.008  # s of the cosine schedule (Nichol & Dhariwal)
    feature_timestep: int = -1  # the one denoising step whose features the decoder reads; -1 = T - 1 (pure noise)


@dataclass
class DecoderConfig:
    """The action decoder: pooled VPM features (or, without VPM, encoded frames) -> GPT trunk -> action chunk."""

    pool: int = 2  # each up-block feature map is average-pooled to pool x pool tokens per frame
    cache_features: bool = True  # compute the frozen VPM's features once per sample (one noise draw) before training
    cache_batch: int = 64  # samples per VPM call while filling the cache
    gpt: GPTConfig = field(default_factory=lambda: GPTConfig(n_layer=3, n_head=4, n_embd=128, block_size=64))
    head: HeadConfig = field(default_factory=lambda: HeadConfig(hidden=128, chunk=10))
    encoder: EncoderConfig = field(  # the no-VPM ablation's frame encoder (BAKU's FiLM-ResNet, FiLM unused)
        default_factory=lambda: EncoderConfig(widths=(32, 64), groups=8, keypoints=32))


@dataclass
class Human2RobotConfig:
    vpm: VPMConfig = field(default_factory=VPMConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    vpm_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000, batch_size=16, lr=3e-4))
    decoder_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=6000, batch_size=32, lr=3e-4))
    robot_camera: str = "agentview_rgb"  # the robot video the VPM predicts
    demo_camera: str = "eye_in_hand_rgb"  # the stand-in "human" video: this camera of another demo of the task
    features: str = "vpm"  # "vpm" (Human2Robot) or "video" (ablation: the decoder reads the demonstration directly)
    pretrain_vpm: bool = True  # False (ablation): the VPM stays at its random initialisation, frozen
    retrieval_scope: str = "all"  # "all" training episodes (paper: no language) or "task" (same instruction only)
    embed_size: int = 16  # first frames are area-downsampled to this size for the k=1 nearest-neighbour search
    ensemble_k: float = 0.01  # temporal ensembling weight exp(-k i), as BAKU


PRESETS: dict[str, Human2RobotConfig] = {
    # published-like scale for a GPU (the paper's VPM is a latent video diffusion UNet at 256 px; ours stays in
    # pixel space, so 64 px and a 3-level UNet are the largest that are still cheap without a VAE)
    "paper": Human2RobotConfig(
        vpm=VPMConfig(frame_size=64, horizon=8, stride=4, widths=(64, 128, 256), attn_levels=(1, 2), heads=8,
                      groups=16, time_dim=256, behaviour_widths=(32, 64), diffusion_steps=1000),
        decoder=DecoderConfig(pool=4, cache_features=False,  # 3 levels x 8 frames x 4x4 tokens + proprio + ACTION
                              gpt=GPTConfig(n_layer=8, n_head=4, n_embd=256, block_size=3 * 8 * 16 + 2),
                              head=HeadConfig(hidden=256, chunk=10),
                              encoder=EncoderConfig(widths=(64, 128), groups=16, keypoints=128)),
        vpm_train=TrainConfig(steps=100_000, batch_size=32, lr=1e-4),
        decoder_train=TrainConfig(steps=100_000, batch_size=64, lr=1e-4)),
    # 2-core CPU: 32 px frames, a 0.6M-parameter denoiser with reference attention at 8x8 only (at 16x16 it doubles
    # the step time), decoder features cached; one cell trains and evaluates well under 2 h
    "cpu": Human2RobotConfig(),
    # tests: seconds
    "smoke": Human2RobotConfig(
        vpm=VPMConfig(frame_size=16, horizon=2, stride=4, widths=(8, 16), attn_levels=(1,), heads=2, groups=4,
                      time_dim=16, behaviour_widths=(8,), diffusion_steps=20),
        decoder=DecoderConfig(pool=1, gpt=GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=16),
                              head=HeadConfig(hidden=32, chunk=10),
                              encoder=EncoderConfig(widths=(8, 16), groups=4, keypoints=8)),
        vpm_train=TrainConfig(steps=20, batch_size=4, lr=1e-3, log_every=10, ckpt_every=10),
        decoder_train=TrainConfig(steps=30, batch_size=8, lr=1e-3, log_every=10, ckpt_every=15),
        embed_size=8),
}


def preset(scale: str, **overrides) -> Human2RobotConfig:
    """A copy of the preset for a profile scale, with top-level fields overridden."""
    return copy_preset(PRESETS, scale, "no Human2Robot preset for scale", **overrides)


# Human2Robot's variants: each is `human2robot` with these settings
VARIANTS: dict[str, dict] = {
    # ablation: no VPM; the decoder reads the current frame and the human clip through a trainable encoder
    "human2robot_novpm": {"human2robot.features": "video"},
    # ablation: the VPM is never trained (random initialisation, frozen); only the decoder learns
    "human2robot_nopretrain": {"human2robot.pretrain_vpm": False},
    # not in the paper: retrieval searches only the training episodes of the episode's own instruction, for suites
    # whose tasks share one scene (libero_goal), where first-frame retrieval cannot tell tasks apart
    "human2robot_taskknn": {"human2robot.retrieval_scope": "task"},
}
