"""Train HMA's tokenizer and dynamics model on a suite's rendered demos and measure the world model on the
held-out demos: PSNR and SSIM of generated frames along a horizon, controllability (true actions against the
actions of another held-out window) and generation speed."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from baselines.hma.config import HMAConfig
from baselines.hma.dynamics import WorldModel
from baselines.hma.tokenizer import ImageTokenizer, TokenizerObjective, tokenize
from hilam.data.dataset import resize_images
from hilam.policy_io import tensor_to_images
from hilam.train import brief, train


@dataclass
class Episode:
    """One demo at the world model's frame rate: frames (L, H, W, 3), per-gap actions (L - 1, stride * dim)."""

    frames: np.ndarray
    actions: np.ndarray
    task: int
    test: bool
    codes: np.ndarray | None = None  # (L, N), once the tokenizer is trained


def episodes_from_demos(demos: list[tuple[np.ndarray, np.ndarray, int]], cfg: HMAConfig) -> list[Episode]:
    """(frames at control rate, actions, task id) per demo -> Episodes; the last `test_per_task` of each task
    are held out."""
    s, out = cfg.dynamics.frame_stride, []
    seen: dict[int, int] = {}
    for frames, actions, task in demos:
        seen[task] = seen.get(task, 0) + 1
        n = (len(actions) - 1) // s  # whole gaps whose end frame was recorded
        out.append(Episode(resize_images(frames[: n * s + 1: s], cfg.tokenizer.image_size),
                           actions[: n * s].reshape(n, -1).astype(np.float32), task, False))
    for task, count in seen.items():
        mine = [e for e in out if e.task == task]
        for e in mine[count - cfg.test_per_task:]:
            e.test = True
    return out


class WindowObjective(torch.nn.Module):
    """Masked token prediction on windows of `frames` consecutive frames of the training episodes."""

    def __init__(self, model: WorldModel, episodes: list[Episode], space: str):
        super().__init__()
        self.model, self.episodes, self.space = model, episodes, space
        t = model.cfg.frames
        self.starts = [(i, j) for i, e in enumerate(episodes) for j in range(len(e.codes) - t + 1)]

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, idx: np.ndarray) -> dict:
        t = self.model.cfg.frames
        picks = [self.starts[i] for i in idx]
        return {"codes": np.stack([self.episodes[e].codes[j:j + t] for e, j in picks]),
                "actions": np.stack([self.episodes[e].actions[j:j + t - 1] for e, j in picks])}

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.model.start.device
        return self.model.masked_loss(torch.as_tensor(batch["codes"], device=dev),
                                      torch.as_tensor(batch["actions"], device=dev), self.space)


def fit(cfg: HMAConfig, episodes: list[Episode], out_dir: Path, space: str = "libero_osc", seed: int = 0
        ) -> tuple[ImageTokenizer, WorldModel, dict]:
    """Train (or resume / load) the tokenizer on training frames, tokenize every episode, train the dynamics."""
    torch.manual_seed(seed)
    train_eps = [e for e in episodes if not e.test]
    if not train_eps:
        raise ValueError("HMA: no training episodes (every demo is held out; lower test_per_task)")
    tok = ImageTokenizer(cfg.tokenizer)
    t_obj = TokenizerObjective(tok, np.concatenate([e.frames for e in train_eps]))
    s_tok = train(t_obj, t_obj, replace(cfg.tokenizer_train, seed=seed), out_dir / "tokenizer")
    tok.eval()
    for e in episodes:
        e.codes = tokenize(tok, e.frames)
    model = WorldModel(cfg.dynamics, cfg.tokenizer.codebook, tok.grid ** 2)
    model.stems[space].set_stats(np.concatenate([e.actions for e in train_eps]))
    w_obj = WindowObjective(model, train_eps, space)
    s_dyn = train(w_obj, w_obj, replace(cfg.dynamics_train, seed=seed), out_dir / "dynamics")
    model.eval()
    summary = {"tokenizer": brief(s_tok), "dynamics": brief(s_dyn)}
    return tok, model, summary


def frame_scores(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """Mean PSNR and SSIM of uint8 frame stacks (H, W, 3 each)."""
    return (float(np.mean([peak_signal_noise_ratio(t, p, data_range=255) for p, t in zip(pred, true)])),
            float(np.mean([structural_similarity(t, p, channel_axis=-1, data_range=255) for p, t in zip(pred, true)])))


def mean_scores(preds: list[np.ndarray], truths: list[np.ndarray]) -> dict[str, float]:
    """PSNR and SSIM averaged over windows of generated and true frames."""
    psnr, ssim = np.mean([frame_scores(p, t) for p, t in zip(preds, truths)], 0)
    return {"psnr": float(psnr), "ssim": float(ssim)}


def evaluate(cfg: HMAConfig, tok: ImageTokenizer, model: WorldModel, episodes: list[Episode],
             space: str = "libero_osc") -> tuple[dict, list[tuple[np.ndarray, np.ndarray]]]:
    """World-model metrics on every `horizon`-frame window of the held-out episodes, generated from the window's
    first frame: with the true actions, and with the actions of the next window (controllability dPSNR).
    Also returns (generated, true) frames of the first few windows, for figures."""
    H = cfg.horizon
    windows = [(e, j) for e in episodes if e.test for j in range(0, len(e.codes) - H, H)]
    if not windows:
        raise ValueError(f"HMA: no held-out window of {H + 1} frames; shorten the horizon")
    first = torch.as_tensor(np.stack([e.codes[j] for e, j in windows]))
    true_act = torch.as_tensor(np.stack([e.actions[j:j + H] for e, j in windows]))
    other_act = true_act.roll(1, 0) if len(windows) > 1 else true_act.flip(1)
    truth = [e.frames[j + 1:j + H + 1] for e, j in windows]
    out = {"windows": len(windows), "horizon_frames": H, "frame_stride_steps": cfg.dynamics.frame_stride,
           "control_source": "actions of another held-out window" if len(windows) > 1 else "time-reversed actions"}
    t0 = time.perf_counter()
    gen = model.rollout(first, true_act, space)
    seconds = time.perf_counter() - t0
    frames = [tensor_to_images(tok.decode(c)) for c in gen]
    other = [tensor_to_images(tok.decode(c)) for c in model.rollout(first, other_act, space)]
    out["true_actions"], out["other_actions"] = mean_scores(frames, truth), mean_scores(other, truth)
    out["delta_psnr_controllability"] = out["true_actions"]["psnr"] - out["other_actions"]["psnr"]
    per_step = [frame_scores(np.stack([f[h] for f in frames]), np.stack([t[h] for t in truth])) for h in range(H)]
    out["per_step"] = {"psnr": [p for p, _ in per_step], "ssim": [s for _, s in per_step]}
    recon = [tensor_to_images(tok.decode(torch.as_tensor(e.codes[j + 1:j + H + 1]))) for e, j in windows]
    out["tokenizer_reconstruction"] = mean_scores(recon, truth)
    out["copy_first_frame"] = mean_scores([np.repeat(e.frames[j][None], H, 0) for e, j in windows], truth)
    out["generated_frames_per_s_batched"] = len(windows) * H / seconds
    t0 = time.perf_counter()
    model.rollout(first[:1], true_act[:1], space)
    out["generated_frames_per_s_single"] = H / (time.perf_counter() - t0)
    return out, list(zip(frames[:4], truth[:4]))
