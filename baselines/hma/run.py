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
    """One demo at the world model's frame rate: frames (L, V, H, W, 3) of V camera views, per-gap actions
    (L - 1, stride * dim), proprio (L, P)."""

    frames: np.ndarray
    actions: np.ndarray
    states: np.ndarray
    task: int
    test: bool
    codes: np.ndarray | None = None  # (L, V * N), once the tokenizer is trained


@dataclass
class Demo:
    """A demo at control rate: views (T, V, H, W, 3), actions (T, A), proprio (T, P), its task id."""

    views: np.ndarray
    actions: np.ndarray
    states: np.ndarray
    task: int


def episodes_from_demos(demos: list[Demo], cfg: HMAConfig) -> list[Episode]:
    """Demos at control rate -> Episodes at the world model's; the last `test_per_task` of each task are held
    out."""
    s, out = cfg.dynamics.frame_stride, []
    seen: dict[int, int] = {}
    for d in demos:
        seen[d.task] = seen.get(d.task, 0) + 1
        n = (len(d.actions) - 1) // s  # whole gaps whose end frame was recorded
        views = d.views[: n * s + 1: s]
        frames = resize_images(views.reshape(-1, *views.shape[2:]), cfg.tokenizer.image_size)
        out.append(Episode(frames.reshape(len(views), views.shape[1], *frames.shape[1:]),
                           d.actions[: n * s].reshape(n, -1).astype(np.float32),
                           d.states[: n * s + 1: s].astype(np.float32), d.task, False))
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
        picks = [(self.episodes[e], j) for e, j in (self.starts[i] for i in idx)]
        return {"codes": np.stack([e.codes[j:j + t] for e, j in picks]),
                "actions": np.stack([e.actions[j:j + t - 1] for e, j in picks]),
                "states": np.stack([e.states[j:j + t] for e, j in picks])}

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.model.start.device
        return self.model.masked_loss(*(torch.as_tensor(batch[k], device=dev) for k in ("codes", "actions")),
                                      self.space, torch.as_tensor(batch["states"], device=dev))


def frame_codes(tok: ImageTokenizer, frames: np.ndarray) -> np.ndarray:
    """(L, V, H, W, 3) views -> (L, V * N) codes: a frame's views side by side in token order."""
    return tokenize(tok, frames.reshape(-1, *frames.shape[2:])).reshape(len(frames), -1)


def frame_views(tok: ImageTokenizer, codes: torch.Tensor, views: int) -> np.ndarray:
    """The inverse of `frame_codes`: (B, V * N) codes -> (B, V, H, W, 3) uint8 views."""
    images = tensor_to_images(tok.decode(codes.reshape(len(codes) * views, -1)))
    return images.reshape(len(codes), views, *images.shape[1:])


def fit(cfg: HMAConfig, episodes: list[Episode], out_dir: Path, space: str = "libero_osc", seed: int = 0
        ) -> tuple[ImageTokenizer, WorldModel, dict]:
    """Train (or resume / load) the tokenizer on training frames, tokenize every episode, train the dynamics."""
    torch.manual_seed(seed)
    train_eps = [e for e in episodes if not e.test]
    if not train_eps:
        raise ValueError("HMA: no training episodes (every demo is held out; lower test_per_task)")
    tok = ImageTokenizer(cfg.tokenizer)
    t_obj = TokenizerObjective(tok, np.concatenate([e.frames.reshape(-1, *e.frames.shape[2:]) for e in train_eps]))
    s_tok = train(t_obj, t_obj, replace(cfg.tokenizer_train, seed=seed), out_dir / "tokenizer")
    tok.eval()
    for e in episodes:
        e.codes = frame_codes(tok, e.frames)
    model = WorldModel(cfg.dynamics, cfg.tokenizer.codebook, episodes[0].codes.shape[1])
    model.stems[space].set_stats(np.concatenate([e.actions for e in train_eps]))
    model.state_heads[space].set_stats(np.concatenate([e.states for e in train_eps]))
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
    Image scores are of the first camera view (`per_view` has each view's). Also returns (generated, true)
    first-view frames of the first few windows, for figures."""
    H, V = cfg.horizon, len(cfg.cameras)
    windows = [(e, j) for e in episodes if e.test for j in range(0, len(e.codes) - H, H)]
    if not windows:
        raise ValueError(f"HMA: no held-out window of {H + 1} frames; shorten the horizon")
    first = torch.as_tensor(np.stack([e.codes[j] for e, j in windows]))
    true_act = torch.as_tensor(np.stack([e.actions[j:j + H] for e, j in windows]))
    other_act = true_act.roll(1, 0) if len(windows) > 1 else true_act.flip(1)
    truth = [e.frames[j + 1:j + H + 1] for e, j in windows]  # (H, V, h, w, 3) each
    out = {"windows": len(windows), "horizon_frames": H, "frame_stride_steps": cfg.dynamics.frame_stride,
           "control_source": "actions of another held-out window" if len(windows) > 1 else "time-reversed actions"}
    t0 = time.perf_counter()
    gen = model.rollout(first, true_act, space)
    seconds = time.perf_counter() - t0
    frames = [frame_views(tok, c, V) for c in gen]
    other = [frame_views(tok, c, V) for c in model.rollout(first, other_act, space)]
    recon = [frame_views(tok, torch.as_tensor(e.codes[j + 1:j + H + 1]), V) for e, j in windows]
    copy = [np.repeat(e.frames[j][None], H, 0) for e, j in windows]
    view = lambda stacks, v: [x[:, v] for x in stacks]
    out["per_view"] = {cam: {"true_actions": mean_scores(view(frames, v), view(truth, v)),
                             "other_actions": mean_scores(view(other, v), view(truth, v))}
                       for v, cam in enumerate(cfg.cameras)}
    frames, other, recon, copy, truth = (view(x, 0) for x in (frames, other, recon, copy, truth))
    out["true_actions"], out["other_actions"] = mean_scores(frames, truth), mean_scores(other, truth)
    out["delta_psnr_controllability"] = out["true_actions"]["psnr"] - out["other_actions"]["psnr"]
    per_step = [frame_scores(np.stack([f[h] for f in frames]), np.stack([t[h] for t in truth])) for h in range(H)]
    out["per_step"] = {"psnr": [p for p, _ in per_step], "ssim": [s for _, s in per_step]}
    out["tokenizer_reconstruction"] = mean_scores(recon, truth)
    out["copy_first_frame"] = mean_scores(copy, truth)
    out["state_readout_mae"] = state_readout_error(model, [e for e in episodes if e.test], space)
    out["generated_frames_per_s_batched"] = len(windows) * H / seconds
    t0 = time.perf_counter()
    model.rollout(first[:1], true_act[:1], space)
    out["generated_frames_per_s_single"] = H / (time.perf_counter() - t0)
    return out, list(zip(frames[:4], truth[:4]))


@torch.no_grad()
def state_readout_error(model: WorldModel, episodes: list[Episode], space: str) -> list[float]:
    """Mean absolute error per proprio dimension of the readout on true frames (windows of `frames` frames)."""
    t, errors = model.cfg.frames, []
    for e in episodes:
        for j in range(0, len(e.codes) - t + 1, t):
            read = model.read_states(torch.as_tensor(e.codes[None, j:j + t]),
                                     torch.as_tensor(e.actions[None, j:j + t - 1]), space)[0]
            errors.append((read - torch.as_tensor(e.states[j:j + t])).abs())
    return torch.cat(errors).mean(0).tolist()
