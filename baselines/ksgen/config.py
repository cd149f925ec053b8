"""KS-Gen's sizes and training budgets, one preset per harness profile."""
from __future__ import annotations

from dataclasses import dataclass, field

from baselines.ksgen.data import KeyStepConfig
from baselines.ksgen.model import GeneratorConfig
from hilam.models.language import LanguageConfig
from hilam.profiles import copy_preset
from hilam.train import TrainConfig


@dataclass
class JudgeConfig:
    """A frame classifier trained on real key-step frames of the training demos: (task, key-step number).
    Its accuracy on generated frames, and the cosine of its features, stand in for the pretrained feature
    similarity KS-Gen reports (no pretrained vision model can be downloaded here)."""

    widths: tuple[int, ...] = (16, 32, 64, 64)
    groups: int = 8
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1000, batch_size=32, lr=1e-3))


@dataclass
class KSGenConfig:
    data: KeyStepConfig = field(default_factory=KeyStepConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1500, batch_size=16, lr=3e-4))
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    augment_shift: int = 4  # px of random translation applied alike to a training sample's three images


PRESETS: dict[str, KSGenConfig] = {
    # 2-core CPU: 64 px, 8x8 tokens per image, 1.2M parameters; generator + judge train in ~10 min on a free core
    "cpu": KSGenConfig(),
    "paper": KSGenConfig(data=KeyStepConfig(image_size=128), generator=GeneratorConfig(
        image_size=128, widths=(64, 128, 256, 256, 256), groups=16, layers=8, heads=8),
        train=TrainConfig(steps=50_000, batch_size=64, lr=2e-4), augment_shift=8),
    "smoke": KSGenConfig(data=KeyStepConfig(image_size=32, test_per_task=1), generator=GeneratorConfig(
        image_size=32, widths=(8, 16), groups=4, layers=1, heads=2),
        train=TrainConfig(steps=30, batch_size=4, lr=1e-3, log_every=10, ckpt_every=15),
        judge=JudgeConfig(widths=(8, 16), groups=4, train=TrainConfig(steps=20, batch_size=8, lr=1e-3,
                                                                      log_every=10, ckpt_every=20)),
        augment_shift=1),
}


def preset(scale: str, **overrides) -> KSGenConfig:
    """A copy of the preset for a profile scale (paper, cpu, smoke), with top-level fields overridden."""
    return copy_preset(PRESETS, scale, "no KS-Gen preset for scale", **overrides)
