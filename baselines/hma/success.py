"""The success judge for policies run inside the world model: a frame classifier over (which task's goal is
reached, or none), trained on real demo frames only (KS-Gen's FrameJudge with tasks + 1 classes)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from baselines.hma.config import HMAConfig, JudgeConfig
from baselines.hma.run import Demo
from baselines.ksgen.judge import FrameJudge, JudgeObjective
from hilam.data.dataset import resize_images
from hilam.policy_io import images_to_tensor
from hilam.train import brief, train


def success_examples(demos: list[Demo], cfg: JudgeConfig, image_size: int, tasks: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First-view frames, labels and the demo's task: a demo's last `success_steps` frames are its task's class,
    every `negative_every`-th frame before the margin is class `tasks` (not done)."""
    images, labels, task = [], [], []
    for d in demos:
        end = len(d.views)
        done = np.arange(max(0, end - cfg.success_steps), end)
        not_yet = np.arange(0, max(0, end - cfg.success_steps - cfg.margin_steps), cfg.negative_every)
        images.append(resize_images(d.views[np.concatenate([done, not_yet]), 0], image_size))
        labels.append(np.r_[np.full(len(done), d.task), np.full(len(not_yet), tasks)])
        task.append(np.full(len(done) + len(not_yet), d.task))
    return np.concatenate(images), np.concatenate(labels).astype(np.int64), np.concatenate(task)


class SuccessJudge:
    """P(task's goal reached | first-view frame), thresholded into episode success."""

    def __init__(self, net: FrameJudge, threshold: float):
        self.net, self.threshold = net.eval(), threshold

    @torch.no_grad()
    def prob(self, images: np.ndarray, task: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) uint8 frames and (B,) task ids -> (B,) probability that the frame shows its task done."""
        _, logits = self.net(images_to_tensor(images, self.net.classify.weight.device))
        return logits.softmax(-1)[torch.arange(len(task)), torch.as_tensor(task)].cpu().numpy()

    def __call__(self, images: np.ndarray, task: np.ndarray) -> np.ndarray:
        return self.prob(images, task) > self.threshold


def fit_judge(cfg: HMAConfig, demos: list[Demo], tasks: int, out_dir: Path, seed: int = 0,
              reconstruct: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[SuccessJudge, dict]:
    """Train (or resume / load) the judge on the training demos' real frames, and with `cfg.judge.reconstructed`
    on their `reconstruct`ions (through the world model's tokenizer) too."""
    j = cfg.judge
    images, labels, _ = success_examples(demos, j, cfg.tokenizer.image_size, tasks)
    if j.reconstructed:
        if reconstruct is None:
            raise ValueError("judge.reconstructed needs the tokenizer's reconstruct function")
        images, labels = np.concatenate([images, reconstruct(images)]), np.concatenate([labels, labels])
    done, not_yet = np.flatnonzero(labels < tasks), np.flatnonzero(labels == tasks)
    repeats = max(1, round(len(not_yet) / max(len(done), 1)))  # a few per demo: repeated to balance the earlier frames
    idx = np.r_[not_yet, np.tile(done, repeats)]
    torch.manual_seed(seed)
    net = FrameJudge(j.widths, j.groups, tasks + 1)
    objective = JudgeObjective(net, images[idx], labels[idx], j.shift)
    summary = train(objective, objective, replace(j.train, seed=seed), out_dir)
    return SuccessJudge(net, j.threshold), {"training": brief(summary), "examples": len(labels),
                                                  "success_examples": int((labels < tasks).sum())}


def judge_accuracy(judge: SuccessJudge, demos: list[Demo], cfg: HMAConfig, tasks: int,
                   transform: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, float]:
    """On (held-out) demos: how often success frames are judged done and earlier frames not done, and the
    balanced accuracy of the two; `transform` maps the frames first (e.g. through the tokenizer)."""
    images, labels, task = success_examples(demos, cfg.judge, cfg.tokenizer.image_size, tasks)
    said = judge(transform(images) if transform else images, task)
    done = labels < tasks
    tpr, tnr = float(said[done].mean()), float(1 - said[~done].mean())
    return {"success_frames_judged_done": tpr, "earlier_frames_judged_not_done": tnr, "balanced": (tpr + tnr) / 2}
