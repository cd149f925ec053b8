"""Being-H0's own sizes, one preset per profile scale (`paper`, `cpu`, `smoke`), recorded by describe(), and its
variants (ablations) as named override sets of `being_h0`.

What the Being-H0 paper (arXiv 2507.15597) fixes is kept (downsampling 4, 2 groups x residual layers, wrist and finger
tokenizers, <MOT> ... </MOT>, one proprio token, 16 action queries, L1); every other size is *open*
(the public paper/code do not fix them at this scale) and chosen here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hilam.data.video import VideoCorpusConfig, corpus_preset
from hilam.models.gpt import GPTConfig
from hilam.models.language import LanguageConfig
from hilam.profiles import copy_preset
from hilam.train import TrainConfig


@dataclass
class TokenizerConfig:
    """One part's motion tokenizer: 1D conv encoder/decoder around a grouped residual VQ."""

    window: int = 16  # control steps (20 Hz) per tokenised trajectory chunk; a multiple of `downsample`
    downsample: int = 4  # Being-H0's temporal downsampling alpha
    hidden: int = 64  # conv channels
    code_dim: int = 16  # width of one group's codes
    groups: int = 2  # channel groups, each with its own residual VQ
    residual_layers: int = 2  # residual quantisers per group
    codebook_size: int = 128  # codes per quantiser
    ema_decay: float = 0.99  # codebooks are EMA cluster centres (no gradient)
    dead_code_usage: float = 0.03  # a code used less than this (EMA count per batch) is restarted from the data
    commitment: float = 0.25  # weight of ||z_e - sg(z_q)||^2
    velocity: float = 0.5  # weight of the velocity (first difference) reconstruction term
    relative_wrist: bool = True  # wrist pose relative to the window's first step (that pose is observed when acting)


@dataclass
class ModelConfig:
    """The causal transformer shared by pretraining and post-training."""

    patch: int = 16  # image patch size; patch tokens per camera = (profile.image_size / patch)^2
    instruction_tokens: int = 2  # the instruction embedding is projected to this many tokens
    gpt: GPTConfig = field(default_factory=lambda: GPTConfig(n_layer=4, n_head=4, n_embd=128, dropout=0.1))
    head_hidden: int = 128  # hidden width of the action MLP read out at each query token
    head_layers: int = 2


@dataclass
class BeingH0Config:
    chunk: int = 16  # action queries = action chunk (Being-H0: 16), temporally ensembled at evaluation
    part_level: bool = True  # wrist and finger parts get separate tokenizers; False = one tokenizer over both
    pretrain: bool = True  # next-motion-token pretraining on the LIBERO-90 corpus before post-training
    cameras: tuple[str, ...] = ("agentview_rgb", "eye_in_hand_rgb")  # post-training inputs; pretraining sees the
    # corpus' agentview only, and agentview must come first (the prefix both phases share)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    tokenizer_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=3000, batch_size=128, lr=1e-3))
    pretrain_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=4000, batch_size=32, lr=3e-4))
    posttrain_train: TrainConfig | None = None  # None = the profile's `train` (the budget flat BAKU gets)
    trajectory_stride: int = 1  # corpus windows start every this many control steps (tokenizer data)
    language: LanguageConfig | None = None  # None = the profile's instruction encoder (recorded)
    # the LIBERO-90 corpus whose trajectories it pretrains on (the scale's, shared with HiLAM's; placed by the cell)
    video: VideoCorpusConfig = field(default_factory=VideoCorpusConfig)


PRESETS: dict[str, BeingH0Config] = {
    # published-like: 128 px frames (profile.image_size), a 12-layer 768-wide trunk, 2 groups x 4 residual layers of
    # 512 codes; Being-H0 itself is an InternVL3 VLM (1B-14B) at 448 px, far beyond this harness
    "paper": BeingH0Config(
        tokenizer=TokenizerConfig(hidden=256, code_dim=64, residual_layers=4, codebook_size=512),
        model=ModelConfig(patch=16, instruction_tokens=4,
                          gpt=GPTConfig(n_layer=12, n_head=12, n_embd=768, dropout=0.1), head_hidden=768),
        tokenizer_train=TrainConfig(steps=50_000, batch_size=256, lr=2e-4),
        pretrain_train=TrainConfig(steps=100_000, batch_size=64, lr=1e-4),
        video=corpus_preset("paper")),
    # 2-core CPU: 64 px frames in 16 patches per camera, 4x128 trunk, 2 groups x 2 residual layers of 128 codes
    # (32 motion tokens per 16-step window)
    "cpu": BeingH0Config(video=corpus_preset("cpu")),
    # tests: seconds
    "smoke": BeingH0Config(
        chunk=16,
        tokenizer=TokenizerConfig(window=8, hidden=16, code_dim=4, codebook_size=16),
        model=ModelConfig(patch=16, instruction_tokens=1, gpt=GPTConfig(n_layer=1, n_head=2, n_embd=32, dropout=0.0),
                          head_hidden=32),
        tokenizer_train=TrainConfig(steps=20, batch_size=16, lr=1e-3, log_every=10, ckpt_every=10),
        pretrain_train=TrainConfig(steps=20, batch_size=8, lr=1e-3, log_every=10, ckpt_every=10),
        trajectory_stride=2,
        video=corpus_preset("smoke")),
}


def preset(scale: str, **overrides) -> BeingH0Config:
    """A copy of the preset for a profile scale, with top-level fields overridden."""
    return copy_preset(PRESETS, scale, "no Being-H0 preset for scale", **overrides)


# Being-H0's variants: each is `being_h0` with these settings
VARIANTS: dict[str, dict] = {
    # ablation: no motion tokenizer, no motion pretraining; the same transformer post-trained from scratch
    "being_h0_nopretrain": {"being_h0.pretrain": False},
    # ablation: one flat VQ over the whole motion vector (no wrist/finger parts, one group, one layer)
    "being_h0_flatvq": {"being_h0.part_level": False, "being_h0.tokenizer.groups": 1,
                        "being_h0.tokenizer.residual_layers": 1},
}
