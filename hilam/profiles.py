"""Named profiles: one config tree per scale. `paper` = published sizes (GPU), `cpu` = the default for
2-core machines, `smoke` = minutes, for tests. Every result records the profile and the sizes it ran."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from hilam.models.baku import BakuConfig
from hilam.models.film_resnet import EncoderConfig
from hilam.models.gpt import GPTConfig
from hilam.models.heads import HeadConfig
from hilam.models.language import LanguageConfig
from hilam.train import TrainConfig


@dataclass
class Profile:
    name: str
    image_size: int  # policy input size; demos are stored at 128 and area-downsampled at load
    eval_episodes_per_task: int
    train: TrainConfig = field(default_factory=TrainConfig)
    baku: BakuConfig = field(default_factory=BakuConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)


PROFILES: dict[str, Profile] = {
    # BAKU's LIBERO configuration (REFERENCE.md section 2): 128 px, ResNet-18 GN+FiLM, GPT 8x256, chunk 10
    "paper": Profile("paper", image_size=128, eval_episodes_per_task=50,
                     train=TrainConfig(steps=100_000, batch_size=64)),
    # 2-core CPU: 64 px, half-width encoder, 4-layer trunk; sized so one cell trains and evaluates in < 2 h
    "cpu": Profile("cpu", image_size=64, eval_episodes_per_task=10,
                   train=TrainConfig(steps=15_000, batch_size=32, lr=3e-4),
                   baku=BakuConfig(image_size=64, repr_dim=256,
                                   encoder=EncoderConfig(widths=(32, 64), groups=8, keypoints=64),
                                   gpt=GPTConfig(n_layer=4, n_head=4, n_embd=128),
                                   head=HeadConfig(hidden=128))),
    # tests: tiny everything
    "smoke": Profile("smoke", image_size=32, eval_episodes_per_task=1,
                     train=TrainConfig(steps=30, batch_size=8, lr=1e-3, log_every=10, ckpt_every=15),
                     baku=BakuConfig(image_size=32, repr_dim=32,
                                     encoder=EncoderConfig(widths=(8, 16), groups=4, keypoints=8),
                                     gpt=GPTConfig(n_layer=1, n_head=2, n_embd=32),
                                     head=HeadConfig(hidden=32))),
}


def get_profile(name: str, **overrides) -> Profile:
    """A copy of a named profile, with top-level fields overridden."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    return replace(copy.deepcopy(PROFILES[name]), **overrides)
