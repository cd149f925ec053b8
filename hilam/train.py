"""One trainer for every method, on `accelerate`: the same code runs on one CPU, one or several GPUs
or nodes (`accelerate launch -m hilam.cli ...`). Batches are drawn by index from a seeded stream
(step s always sees the same samples), and checkpoints hold model, optimiser and RNG states, so a
resumed run continues the exact loss curve of an uninterrupted one.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from hilam.provenance import git_commit


class BatchSource(Protocol):
    def __len__(self) -> int: ...

    def batch(self, idx: np.ndarray) -> dict: ...


@dataclass
class TrainConfig:
    steps: int = 20_000
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 50
    ckpt_every: int = 1000
    # also checkpoint when this many minutes have passed since the last save (checked every log_every steps), so
    # a killed run loses at most that much on a slow machine; bookkeeping only, left out of stage keys
    ckpt_minutes: float = field(default=10.0, metadata={"hash": False})
    mixed_precision: str = "auto"  # "auto": bf16 on a GPU that supports it, else "no"
    # learning rate over the steps: "constant" (BAKU's) or "cosine" (linear warm-up, then cosine decay to 0 at
    # `steps`); added after the first stages were trained, so keys carry them only when they are not the default
    schedule: str = field(default="constant", metadata={"hash": "unless_default"})
    warmup_steps: int = field(default=0, metadata={"hash": "unless_default"})

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown lr schedule {self.schedule!r}; known: {', '.join(SCHEDULES)}")

    def lr_at(self, step: int) -> float:
        """The learning rate of (0-based) step `step`: a pure function of the step, so resume stays exact."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.schedule == "cosine":
            done = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(done, 1.0)))
        return self.lr


SCHEDULES = ("constant", "cosine")


LOSSES = "losses.npy"  # per-step training losses up to a checkpoint's step, saved beside its weights


def batch_indices(seed: int, step: int, n: int, batch_size: int) -> np.ndarray:
    """The sample indices of a training step: a pure function of (seed, step), so resume is exact."""
    return np.random.default_rng([seed, step]).integers(0, n, batch_size)


def _mixed_precision(setting: str) -> str:
    if setting != "auto":
        return setting
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def _minutes_up(accelerator, since: float, minutes: float) -> bool:
    """Whether `minutes` have passed since `since`, by rank 0's clock, so that every rank saves at the same step."""
    from accelerate.utils import broadcast

    flag = torch.tensor([float(minutes > 0 and time.perf_counter() - since >= 60 * minutes)], device=accelerator.device)
    if accelerator.num_processes > 1:
        flag = broadcast(flag, from_process=0)
    return bool(flag.item())


def _latest(out: Path) -> Path | None:
    pointer = out / "latest"
    return out / pointer.read_text().strip() if pointer.exists() else None


def _save(accelerator, out: Path, step: int, extra: dict, keep_every: int = 0, losses: Sequence[float] = ()) -> None:
    """Write checkpoint `step_<n>` atomically: a temp dir renamed into place, then the `latest` pointer. The
    superseded checkpoint is deleted unless its step is a multiple of `keep_every`. The loss curve so far goes
    with it, so a resumed or already finished run still reports its whole curve."""
    tmp, final = out / f".tmp_step_{step}", out / f"step_{step}"
    accelerator.save_state(str(tmp))  # every rank adds its RNG state
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        np.save(tmp / LOSSES, np.asarray(losses, dtype=np.float64))
        _publish(out, tmp, final, {"step": step, **extra}, keep_every)
    accelerator.wait_for_everyone()


def _publish(out: Path, tmp: Path, final: Path, meta: dict, keep_every: int = 0) -> None:
    (tmp / "trainer.json").write_text(json.dumps(meta))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer_tmp = out / "latest.tmp"
    pointer_tmp.write_text(final.name)
    previous = _latest(out)
    os.replace(pointer_tmp, out / "latest")
    superseded = previous is not None and previous != final
    if superseded and not (keep_every and int(previous.name.removeprefix("step_")) % keep_every == 0):
        shutil.rmtree(previous, ignore_errors=True)


def finished(out_dir: str | os.PathLike, steps: int) -> bool:
    """Whether the training run in out_dir already checkpointed `steps` steps, so `train` would not draw a batch
    (lets a caller skip costly batch preparation, such as a feature cache, on a resumed cell)."""
    ckpt = _latest(Path(out_dir))
    return ckpt is not None and json.loads((ckpt / "trainer.json").read_text())["step"] >= steps


def kept_checkpoints(out_dir: str | os.PathLike) -> dict[int, Path]:
    """step -> checkpoint directory, for every complete checkpoint in a training run's directory."""
    found = {int(d.name.removeprefix("step_")): d for d in Path(out_dir).glob("step_*") if (d / "trainer.json").exists()}
    return dict(sorted(found.items()))


def load_weights(model: torch.nn.Module, checkpoint: str | os.PathLike) -> torch.nn.Module:
    """Load the model weights of one checkpoint directory (as `train` wrote it) into `model`."""
    from safetensors.torch import load_file

    path = Path(checkpoint) / "model.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no model weights in this checkpoint directory")
    model.load_state_dict(load_file(str(path)))
    return model


def train(model: torch.nn.Module, data: BatchSource, cfg: TrainConfig, out_dir: str | os.PathLike,
          extra_state: dict | None = None, stop_at: int | None = None, keep_every: int = 0) -> dict:
    """Train `model` (whose `forward(batch)` returns the scalar loss) for cfg.steps, resuming from out_dir if it
    holds a checkpoint. `stop_at` ends early (used to test resumption); checkpoints at multiples of `keep_every`
    stay on disk (to evaluate a policy along training). Returns a training summary."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, set_seed
    from torch.utils.tensorboard import SummaryWriter

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # models hold parameters a batch may not use (e.g. the token of an absent camera): DDP must not wait for them
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    accelerator = Accelerator(mixed_precision=_mixed_precision(cfg.mixed_precision), cpu=not torch.cuda.is_available(),
                              kwargs_handlers=[ddp])
    set_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model, opt = accelerator.prepare(model, opt)
    step, losses, before = 0, [], 0.0  # `before`: training seconds of earlier runs of this job
    started = git_commit()  # the code that made step 1, kept through resumes
    ckpt = _latest(out)
    if ckpt is not None:
        accelerator.load_state(str(ckpt))
        meta = json.loads((ckpt / "trainer.json").read_text())
        step, before = meta["step"], meta.get("seconds", float("nan"))  # NaN: written before times were kept
        started = meta.get("git_started", "unrecorded")
        if (ckpt / LOSSES).exists():  # the curve so far (checkpoints before it was kept: this run's losses only)
            losses = np.load(ckpt / LOSSES).tolist()
    writer = SummaryWriter(str(out / "tb")) if accelerator.is_main_process else None
    end = min(cfg.steps, stop_at or cfg.steps)
    bar = tqdm(total=cfg.steps, initial=step, desc="train", unit="step", dynamic_ncols=True,
               disable=not accelerator.is_main_process)
    per_rank = cfg.batch_size // accelerator.num_processes
    t0, t_log, samples = time.perf_counter(), time.perf_counter(), 0
    t_saved = t0
    model.train()
    while step < end:
        idx = batch_indices(cfg.seed, step, len(data), cfg.batch_size)
        idx = idx[accelerator.process_index * per_rank:(accelerator.process_index + 1) * per_rank]
        with accelerator.autocast():
            loss = model(data.batch(idx))
        opt.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        for group in opt.param_groups:
            group["lr"] = cfg.lr_at(step)
        if cfg.grad_clip:
            accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        samples += cfg.batch_size
        losses.append(float(loss.detach()))  # a sync every step already: checking it costs nothing more
        if not math.isfinite(losses[-1]):  # stop before a checkpoint of NaN weights, not train on them silently
            raise FloatingPointError(f"{out}: loss is {losses[-1]} at step {step}; training stopped, last "
                                     f"checkpoint kept ({_latest(out) or 'none yet'})")
        bar.update(1)
        log_step = step % cfg.log_every == 0 or step == end
        if log_step:
            rate = samples / max(time.perf_counter() - t_log, 1e-9)
            bar.set_postfix(loss=f"{np.mean(losses[-cfg.log_every:]):.4f}", sps=f"{rate:.0f}")
            if writer:
                writer.add_scalar("train/loss", np.mean(losses[-cfg.log_every:]), step)
                writer.add_scalar("train/lr", opt.param_groups[0]["lr"], step)
                writer.add_scalar("train/samples_per_s", rate, step)
            t_log, samples = time.perf_counter(), 0
        overdue = log_step and _minutes_up(accelerator, t_saved, cfg.ckpt_minutes)
        if step % cfg.ckpt_every == 0 or step == end or overdue:
            _save(accelerator, out, step, {"config": asdict(cfg), "seconds": before + time.perf_counter() - t0,
                                           "git_started": started, **(extra_state or {})}, keep_every, losses)
            t_saved = time.perf_counter()
    bar.close()
    if writer:
        writer.close()
    seconds = time.perf_counter() - t0
    total = before + seconds  # over every run that made these steps (resumes included)
    # losses: the curve over every run that made these steps (rank 0's batches), so final_loss survives resumes
    return {"steps": step, "seconds": total, "seconds_this_run": seconds, "losses": losses,
            "final_loss": losses[-1] if losses else None, "samples_per_s": step * cfg.batch_size / total if total else 0.0,
            "git_started": started}


def brief(summary: dict) -> dict:
    """The part of a training summary that results record (no loss curve)."""
    return {k: summary[k] for k in ("steps", "seconds", "samples_per_s", "final_loss", "git_started")}
