"""HiLAM's own settings: the dataclasses of its stages and policies, one preset per profile scale, and its
variants (ablations) as named override sets of `hilam`.

The sizes of the BAKU blocks its two policies are built from, the fine-tuning budget and the image size are the
profile's (`hilam.profiles.Profile`); everything here is HiLAM's alone. Stage keys hash these dataclasses' fields
(`hilam.confighash`), so a field added later is marked `metadata={"hash": "unless_default"}`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hilam.data.video import VideoCorpusConfig, corpus_preset
from hilam.models.language import LanguageConfig
from hilam.profiles import copy_preset
from hilam.train import TrainConfig


@dataclass
class HNetConfig:
    """The H-Net skill model's sizes (`hilam.method.hnet`)."""

    width: int = 128
    heads: int = 4
    encoder_layers: int = 1  # per stage, before routing
    decoder_layers: int = 1  # per stage, after dechunking
    main_layers: int = 2  # innermost network, over the last stage's chunks
    target_ratios: tuple[float, ...] = (3.0, 3.0)  # N per stage; H-Net's two-stage model uses 3 and 3
    ratio_weight: float = 0.03  # H-Net's weight on the ratio loss

    @property
    def stages(self) -> int:
        return len(self.target_ratios)


@dataclass
class LatentActionConfig:
    """The IDM/FDM's sizes and frame gaps (`hilam.method.latent_actions`)."""

    image_size: int = 64
    patch: int = 8
    width: int = 96  # defaults are the cpu scale's; `paper` overrides
    heads: int = 4
    idm_layers: int = 3
    fdm_layers: int = 3
    latent_dim: int = 64  # UniSkill: 64-d continuous
    gap_min: int = 10  # frame gap k in control steps (UniSkill: U[10, 30])
    gap_max: int = 30
    infer_gap: int = 20  # k used to label sequences with the frozen IDM (an open choice: the range's middle)


# named IDM/FDM variants, as overrides of a scale's LatentActionConfig (benchmarks/corpus_size, hilam_widelam)
LAM_VARIANTS: dict[str, dict] = {
    "profile": {},
    "px128": {"image_size": 128, "patch": 16},  # the corpus is rendered at 128 px: twice the input resolution
    "wide": {"width": 192, "heads": 6, "idm_layers": 6, "fdm_layers": 6},  # 5.5M parameters, 7x the cpu's 0.75M
}

TARGETS = ("next", "next_window")  # what the skill model predicts at step t (SkillConfig.target)


@dataclass
class SkillConfig:
    """The skill model: an H-Net over standardised latent-action sequences and its loss (`hilam.method.skills`)."""

    hnet: HNetConfig = field(default_factory=HNetConfig)
    crop: int = 192  # training sequences are random crops of this many latent steps
    rec_weight: float = 0.1  # lambda_rec (open in the paper)
    rec_samples: int = 2  # positions per sequence decoded by the frozen FDM per step
    # what the H-Net predicts at step t: "next" = z_{t+1} (the paper's next-latent loss) or "next_window" =
    # z_{t+g}, g = the IDM's labelling gap in frames, the first latent whose window shares no frame with z_t's
    # (z_{t+1} shares all but one, so copying z_t nearly solves "next"; results/diagnosis/video177/latent_quality.json).
    # Added after the first stages were trained: keyed only when it is not the default
    target: str = field(default="next", metadata={"hash": "unless_default"})

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"unknown skill-model target {self.target!r}; known: {', '.join(TARGETS)}")

    def target_offset(self, gap_frames: int) -> int:
        """How many steps ahead the prediction at step t lies (1, or the labelling gap)."""
        return 1 if self.target == "next" else gap_frames


@dataclass
class SharedStagesConfig:
    """The stages trained once on the action-free corpus and shared by every HiLAM cell (`hilam.method.stages`)."""

    video: VideoCorpusConfig = field(default_factory=VideoCorpusConfig)
    lam: LatentActionConfig = field(default_factory=LatentActionConfig)
    lam_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=3000, batch_size=32, lr=3e-4))
    skills: SkillConfig = field(default_factory=SkillConfig)
    skills_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000, batch_size=8, lr=3e-4))
    root: str = "runs/shared"

    @property
    def gap_frames(self) -> int:
        """The IDM's labelling gap in corpus frames (infer_gap control steps at the corpus stride)."""
        return max(1, round(self.lam.infer_gap / self.video.stride))

    def place(self, runs: str, video: str) -> None:
        """Put the stages under `<runs>/shared` and the corpus (with its state cache) under `video`; every
        command that finds trained stages must place them the same way, or their config hashes differ."""
        self.root, self.video.root, self.video.states_root = str(Path(runs) / "shared"), video, video


@dataclass
class HilamConfig:
    """HiLAM's choices beyond the BAKU blocks its two policies are made of (sizes come from `Profile.baku`)."""

    skill_level: int = 2  # what conditions pi^l: 2 = stage-2 chunks (HiLAM), 1 = stage-1 chunks, 0 = latent actions
    pretrain: bool = True  # pretrain pi^h and pi^l on action-free video with the pseudo-labels
    target_video: bool = True  # the target demos' frames (never their actions) join the pretraining video
    # what conditions pi^l while it is fine-tuned: "labelled" (the H-Net's skill of each step, the paper's reading)
    # or "predicted" (frozen pi^h's skill for the step's frame, what pi^l is fed at evaluation)
    finetune_skill: str = "labelled"
    # pi^l also reads the instruction embedding, concatenated to z^h (the paper's pi^l(a | o, z^h) does not)
    low_language: bool = False
    pretrain_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=6000, batch_size=32, lr=3e-4))
    shared: SharedStagesConfig = field(default_factory=SharedStagesConfig)
    language: LanguageConfig | None = None  # the policies' instruction encoder; None = the profile's (recorded)


PRESETS: dict[str, HilamConfig] = {
    # the paper's: T5 instructions, 100k steps per phase, a corpus of 50 rollouts per LIBERO-90 task
    "paper": HilamConfig(
        pretrain_train=TrainConfig(steps=100_000, batch_size=64),
        language=LanguageConfig(encoder="t5"),
        shared=SharedStagesConfig(
            video=corpus_preset("paper"),
            lam=LatentActionConfig(image_size=128, patch=16, width=256, heads=8, idm_layers=8, fdm_layers=8),
            lam_train=TrainConfig(steps=100_000, batch_size=64, lr=1e-4),
            skills=SkillConfig(hnet=HNetConfig(width=256, heads=8, encoder_layers=2, decoder_layers=2,
                                               main_layers=4), crop=512),
            skills_train=TrainConfig(steps=20_000, batch_size=32, lr=1e-4))),
    # 2-core CPU: the dataclasses' defaults
    "cpu": HilamConfig(shared=SharedStagesConfig(video=corpus_preset("cpu"))),
    # tests: tiny everything
    "smoke": HilamConfig(
        pretrain_train=TrainConfig(steps=20, batch_size=8, lr=1e-3, log_every=10, ckpt_every=10),
        shared=SharedStagesConfig(
            video=corpus_preset("smoke"),
            lam=LatentActionConfig(image_size=32, patch=8, width=32, heads=2, idm_layers=1, fdm_layers=1,
                                   latent_dim=8),
            lam_train=TrainConfig(steps=20, batch_size=8, lr=1e-3, log_every=10, ckpt_every=10),
            skills=SkillConfig(hnet=HNetConfig(width=16, heads=2, main_layers=1), crop=32, rec_samples=2),
            skills_train=TrainConfig(steps=20, batch_size=4, lr=1e-3, log_every=10, ckpt_every=10))),
}


def preset(scale: str) -> HilamConfig:
    """A copy of HiLAM's preset for a profile scale (paper, cpu, smoke)."""
    return copy_preset(PRESETS, scale, "no HiLAM preset for scale")


# HiLAM's variants: each is `hilam` with these settings (`hilam bench --methods <name>`, or `--set` them yourself)
VARIANTS: dict[str, dict] = {
    # ablation: pi^l conditioned on stage-1 chunks
    "hilam_stage1": {"hilam.skill_level": 1},
    # ablation: flat BAKU conditioned on z-bar^0, the latent action itself (pi^h predicts it)
    "hilam_latent": {"hilam.skill_level": 0},
    # ablation: no pretraining on video; pi^h learns skills from the target demos' frames only, pi^l from scratch
    "hilam_nopretrain": {"hilam.pretrain": False},
    # ablation: pi^l fine-tuned on frozen pi^h's predicted skills, the ones it gets at evaluation, not the labels
    "hilam_predskill": {"hilam.finetune_skill": "predicted"},
    # HiLAM on the `wide` IDM/FDM (7x the parameters), whose latents carry more of the action (corpus_size probe)
    "hilam_widelam": {f"hilam.shared.lam.{k}": v for k, v in LAM_VARIANTS["wide"].items()},
    # pi^l also reads the instruction beside z^h, so the task does not reach it only through pi^h
    "hilam_lang": {"hilam.low_language": True},
    # the H-Net predicts the latent one IDM window ahead (z_{t+g}), which copying z_t cannot solve, in place of the
    # next latent, which it nearly does (benchmarks/latent_quality.py)
    "hilam_ahead": {"hilam.shared.skills.target": "next_window"},
}
