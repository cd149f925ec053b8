"""Named profiles: the harness's settings at one scale. `paper` = published sizes (GPU), `cpu` = the default for
2-core machines (and its variants cpu_long, cpu_aug, cpu_cosine), `smoke` = minutes, for tests. A method's own
settings are its presets keyed by the profile's `scale` (paper, cpu, smoke), never by its name, so every profile of
a scale runs every method. Every result records the profile and the sizes it ran."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from hilam.envs.render_mode import FAST, LIBERO
from hilam.models.baku import BakuConfig
from hilam.models.film_resnet import EncoderConfig
from hilam.models.gpt import GPTConfig
from hilam.models.heads import HeadConfig
from hilam.models.language import LanguageConfig
from hilam.train import TrainConfig

SCALES = ("paper", "cpu", "smoke")  # what methods key their own presets by


@dataclass
class Profile:
    """The harness's settings of a run: policy inputs, evaluation protocol, training budgets, the BAKU blocks every
    BAKU-style policy is built from, the instruction encoder and the render mode."""

    name: str
    scale: str  # paper | cpu | smoke: which of its presets every method uses (`Method.preset`)
    image_size: int  # policy input size; demos are stored at 128 and area-downsampled at load
    eval_episodes_per_task: int
    eval_max_steps: int = 0  # 0 = the suite's protocol value (OpenVLA / LeRobot LIBERO evaluation, hilam.envs.suites); recorded in every cell
    train: TrainConfig = field(default_factory=TrainConfig)
    # state-based policies (baku_state): a step costs a small fraction of an image step, so they train for many more
    # passes over the demos (cpu: ~20 over libero_10's 100%, where the images' budget gives ~4)
    state_train: TrainConfig = field(default_factory=TrainConfig)
    baku: BakuConfig = field(default_factory=BakuConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    # how every env of a cell draws (demos' render pass, video corpus, evaluation): "libero" (LIBERO's rendering, for
    # anything compared with official data) or "fast" (same physics, ~6x cheaper frames on a CPU; hilam.envs.render_mode)
    render_mode: str = LIBERO


_CPU = Profile("cpu", "cpu", image_size=64, eval_episodes_per_task=10, render_mode=FAST,
               train=TrainConfig(steps=15_000, batch_size=32, lr=3e-4),
               # fitted closely (libero_10, DART demos: 21% against 2% for 20k constant steps at 3e-4 with the trunk's
               # dropout, now the cpu_state20k profile; docs/results.md "Imitable demos")
               state_train=TrainConfig(steps=30_000, batch_size=128, lr=1e-3, schedule="cosine", warmup_steps=500),
               baku=BakuConfig(image_size=64, repr_dim=256,
                               encoder=EncoderConfig(widths=(32, 64), groups=8, keypoints=64),
                               gpt=GPTConfig(n_layer=4, n_head=4, n_embd=128),
                               head=HeadConfig(hidden=128)))

PROFILES: dict[str, Profile] = {
    # BAKU's LIBERO configuration (Haldar et al. 2024, code siddhanthaldar/BAKU): 128 px, ResNet-18 GN+FiLM, GPT 8x256, chunk 10
    "paper": Profile("paper", "paper", image_size=128, eval_episodes_per_task=50, render_mode=LIBERO,
                     train=TrainConfig(steps=100_000, batch_size=64),
                     state_train=TrainConfig(steps=100_000, batch_size=64)),
    # 2-core CPU: 64 px, half-width encoder, 4-layer trunk; sized so one cell trains and evaluates in < 2 h
    "cpu": _CPU,
    # the cpu models with 2x the policy training steps (constant lr, so its first 15k steps are the cpu run's):
    # tests whether the fixed budget (~8 passes over all libero_object demos, ~4 over libero_10's) holds cells back;
    # 2x, not more, so that one cell still trains and evaluates within a 3-hour session on a slow 2-core host
    "cpu_long": replace(_CPU, name="cpu_long", train=replace(_CPU.train, steps=30_000)),
    # the cpu models trained on randomly shifted images (+-4 px at 64 px, DrQ's ratio); BAKU itself trains without:
    # tests whether overfitting the few demos (training loss 2-3x below held-out) is what the small models lose to
    "cpu_aug": replace(_CPU, name="cpu_aug", baku=replace(_CPU.baku, shift_pad=4)),
    # the cpu run with the same 15k steps but a cosine learning-rate decay (500 warm-up steps) instead of BAKU's
    # constant rate: tests whether the budget is spent better annealed than doubled (cpu_long's 2x steps)
    "cpu_cosine": replace(_CPU, name="cpu_cosine", train=replace(_CPU.train, schedule="cosine", warmup_steps=500)),
    # the cpu profile's first state budget (20k constant steps at 3e-4), kept for the state cells made with it (they
    # also ran the trunk's dropout, so they carry `--set baku.gpt.dropout=0.1`)
    "cpu_state20k": replace(_CPU, name="cpu_state20k", state_train=TrainConfig(steps=20_000, batch_size=128, lr=3e-4)),
    # tests: tiny everything
    # (episodes cut at 40 steps: an untrained policy would spend the suite's full 280-520 rendered steps failing)
    "smoke": Profile("smoke", "smoke", image_size=32, eval_episodes_per_task=1, eval_max_steps=40, render_mode=FAST,
                     train=TrainConfig(steps=30, batch_size=8, lr=1e-3, log_every=10, ckpt_every=15),
                     state_train=TrainConfig(steps=30, batch_size=8, lr=1e-3, log_every=10, ckpt_every=15),
                     baku=BakuConfig(image_size=32, repr_dim=32,
                                     encoder=EncoderConfig(widths=(8, 16), groups=4, keypoints=8),
                                     gpt=GPTConfig(n_layer=1, n_head=2, n_embd=32),
                                     head=HeadConfig(hidden=32))),
}


def copy_preset(presets: dict, name: str, what: str, **overrides) -> Any:
    """A deep copy of `presets[name]` with top-level fields overridden; an unknown name is refused with the
    known ones (`what` starts the message). Profiles and every method's own presets go through here."""
    if name not in presets:
        raise ValueError(f"{what} {name!r}; known: {', '.join(presets)}")
    return replace(copy.deepcopy(presets[name]), **overrides)


def get_profile(name: str, **overrides) -> Profile:
    """A copy of a named profile, with top-level fields overridden."""
    return copy_preset(PROFILES, name, "unknown profile", **overrides)
