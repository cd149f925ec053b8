"""Train the key-step generator and its judge on the training demos' key steps; score generated key steps of
the held-out demos beside two references: copying the first frame, and retrieving the key-step images of
the training demo of the same task whose first frame is nearest."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from baselines.ksgen.config import KSGenConfig
from baselines.ksgen.data import KeyStepSet
from baselines.ksgen.judge import FrameJudge, JudgeObjective, random_shift
from baselines.ksgen.model import KeyStepGenerator, reconstruction_loss
from hilam.policy_io import images_to_tensor, tensor_to_images
from hilam.train import brief, train


class GeneratorObjective(torch.nn.Module):
    """Teacher-forced training: (first frame, true previous key step, instruction, step number) -> key step."""

    def __init__(self, model: KeyStepGenerator, data: KeyStepSet, lang: torch.Tensor, shift: int):
        super().__init__()
        self.model, self.data, self.lang, self.shift = model, data, lang, shift
        self.first, self.prev, self.target = data.pairs(test=False)

    def __len__(self) -> int:
        return len(self.target)

    def batch(self, idx: np.ndarray) -> dict:
        d = self.data
        images = np.stack([d.images[self.first[idx]], d.images[self.prev[idx]], d.images[self.target[idx]]], 1)
        return {"images": random_shift(images, self.shift, idx), "task": d.task[self.target[idx]],
                "step": d.order[self.target[idx]]}

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.model.pos.device
        first, prev, target = (images_to_tensor(batch["images"][:, i], dev) for i in range(3))
        pred = self.model(first, prev, self.lang.to(dev)[batch["task"]], torch.as_tensor(batch["step"], device=dev))
        return reconstruction_loss(pred, target)


def judge_labels(data: KeyStepSet) -> dict[tuple[int, int], int]:
    """Class index of every (task, key-step number) seen in the training demos."""
    pairs = sorted({(int(t), int(o)) for t, o, test in zip(data.task, data.order, data.test) if not test})
    return {p: i for i, p in enumerate(pairs)}


def fit(cfg: KSGenConfig, data: KeyStepSet, lang: torch.Tensor, out_dir: Path, seed: int = 0
        ) -> tuple[KeyStepGenerator, FrameJudge, dict]:
    """Train (or resume / load) the generator and the judge; returns both and their training summaries.
    Each objective is also its own batch source (it holds the data it draws from)."""
    torch.manual_seed(seed)
    gen = KeyStepGenerator(cfg.generator, lang.shape[1])
    objective = GeneratorObjective(gen, data, lang, cfg.augment_shift)
    s_gen = train(objective, objective, replace(cfg.train, seed=seed), out_dir / "generator")
    labels = judge_labels(data)
    rows = np.flatnonzero(~data.test)
    judge = FrameJudge(cfg.judge.widths, cfg.judge.groups, len(labels))
    y = np.asarray([labels[(int(data.task[r]), int(data.order[r]))] for r in rows])
    j_obj = JudgeObjective(judge, data.images[rows], y, cfg.augment_shift)
    s_judge = train(j_obj, j_obj, replace(cfg.judge.train, seed=seed), out_dir / "judge")
    gen.eval(), judge.eval()
    summary = {"generator": brief(s_gen), "judge": brief(s_judge)}
    return gen, judge, summary


def image_scores(pred: np.ndarray, true: np.ndarray, judge: FrameJudge, label: int) -> dict[str, float]:
    """PSNR and SSIM (uint8 images), the judge's feature cosine and whether it names the true (task, step)."""
    with torch.no_grad():
        (fp, lp), (ft, _) = judge(images_to_tensor(pred[None])), judge(images_to_tensor(true[None]))
    return {"psnr": float(peak_signal_noise_ratio(true, pred, data_range=255)),
            "ssim": float(structural_similarity(true, pred, channel_axis=-1, data_range=255)),
            "feature_cosine": float(torch.nn.functional.cosine_similarity(fp, ft).item()),
            "judge_correct": float(lp.argmax(1).item() == label)}


def held_out(data: KeyStepSet) -> list[np.ndarray]:
    """Rows of every held-out demo that has a key step."""
    return [rows for rows in data.demos() if data.test[rows[0]] and len(rows) > 1]


def predictions(gen: KeyStepGenerator, data: KeyStepSet, lang: torch.Tensor) -> dict[str, list[np.ndarray]]:
    """Per held-out demo, each method's key-step images (K, H, W, 3): the generator's rollout, the first frame
    copied, and the key steps of the same task's training demo with the nearest first frame."""
    train_firsts = {d[0]: d for d in data.demos() if not data.test[d[0]] and len(d) > 1}
    out = {"generator": [], "copy_first_frame": [], "nearest_train_demo": []}
    for rows in held_out(data):
        first, k = data.images[rows[0]], len(rows) - 1
        rolled = gen.rollout(images_to_tensor(first[None]), lang[data.task[rows[:1]]], k)
        out["generator"].append(np.concatenate([tensor_to_images(x) for x in rolled]))
        out["copy_first_frame"].append(np.repeat(first[None], k, 0))
        same = [r for r in train_firsts if data.task[r] == data.task[rows[0]]]
        near = train_firsts[min(same, key=lambda r: np.abs(data.images[r].astype(int) - first).sum())]
        out["nearest_train_demo"].append(np.stack([data.images[near[min(i, len(near) - 1)]] for i in range(1, k + 1)]))
    return out


def evaluate(gen: KeyStepGenerator, judge: FrameJudge, data: KeyStepSet, lang: torch.Tensor,
             task_names: dict[int, str]) -> tuple[dict, dict[str, list[np.ndarray]]]:
    """Mean scores per method over every held-out key step, overall, per key-step number and per task."""
    labels = judge_labels(data)
    tests = held_out(data)
    preds = predictions(gen, data, lang)
    out = {}
    for method, images in preds.items():
        scores = []  # (task, step number, scores)
        for rows, pred in zip(tests, images):
            for k, r in enumerate(rows[1:], 1):
                label = labels.get((int(data.task[r]), k), -1)
                scores.append((int(data.task[r]), k, image_scores(pred[k - 1], data.images[r], judge, label)))
        mean = lambda sel: {m: float(np.mean([s[m] for _, _, s in sel])) for m in sel[0][2]} if sel else {}  # noqa: E731
        out[method] = {"overall": mean(scores), "key_steps": len(scores),
                       "per_step": {k: mean([s for s in scores if s[1] == k]) for k in sorted({s[1] for s in scores})},
                       "per_task": {task_names[t]: mean([s for s in scores if s[0] == t])
                                    for t in sorted({s[0] for s in scores})}}
    truth = [r for rows in tests for r in rows[1:]]  # how well the judge knows real held-out key steps
    with torch.no_grad():
        named = judge(images_to_tensor(data.images[truth]))[1].argmax(1).numpy() if truth else np.zeros(0)
    out["judge_on_true_frames"] = {"accuracy": float(np.mean([n == labels.get((int(data.task[r]), int(data.order[r])), -1)
                                                              for n, r in zip(named, truth)])) if truth else None,
                                   "frames": len(truth), "classes": len(labels)}
    return out, preds
