"""A frame classifier over (task, key-step number), trained on real key-step frames only. It judges generated
key-step images: does the image show the right stage of the right task, and how close are its features to
the true frame's."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hilam.models.conv import image_encoder
from hilam.policy_io import images_to_tensor


class FrameJudge(nn.Module):
    def __init__(self, widths: tuple[int, ...], groups: int, classes: int):
        super().__init__()
        self.features = nn.Sequential(image_encoder(widths, groups), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classify = nn.Linear(widths[-1], classes)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) in [0, 1] -> (features (B, d), logits (B, classes))."""
        f = self.features(images * 2 - 1)
        return f, self.classify(f)


class JudgeObjective(nn.Module):
    """Cross-entropy on labelled real frames, with the same random shift augmentation as the generator."""

    def __init__(self, judge: FrameJudge, images: np.ndarray, labels: np.ndarray, shift: int):
        super().__init__()
        self.judge, self.images, self.labels, self.shift = judge, images, labels, shift

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, idx: np.ndarray) -> dict:
        return {"images": random_shift(self.images[idx], self.shift, idx), "labels": self.labels[idx]}

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.judge.classify.weight.device
        _, logits = self.judge(images_to_tensor(batch["images"], dev))
        return F.cross_entropy(logits, torch.as_tensor(batch["labels"], device=dev))


def random_shift(images: np.ndarray, pad: int, idx: np.ndarray) -> np.ndarray:
    """Translate each sample (its leading axes share one shift) by up to `pad` px, edges replicated; seeded by
    the sample indices so a resumed run sees the same batches."""
    if pad == 0:
        return images
    rng = np.random.default_rng(np.asarray(idx, dtype=np.int64))
    h, w = images.shape[-3:-1]
    width = [(0, 0)] * (images.ndim - 3) + [(pad, pad), (pad, pad), (0, 0)]
    padded = np.pad(images, width, mode="edge")
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(rng.integers(0, 2 * pad + 1, (len(images), 2))):
        out[i] = padded[i, ..., dy:dy + h, dx:dx + w, :]
    return out
