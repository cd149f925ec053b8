"""Training throughput (samples/s) of every stage a benchmark cell trains, per profile, through the real trainer.

    python benchmarks/train_throughput.py --profiles paper cpu --parts baku lam skills pretrain --steps 20 \
        --out results/benchmarks/train_throughput.json

Parts: `baku` (flat BAKU, also HiLAM's pi^l fine-tuning, the same network and objective), `lam` (IDM + FDM on
frame pairs), `skills` (the two-stage H-Net with the frozen FDM's reconstruction; a sample is one sequence crop)
and `pretrain` (pi^h + pi^l on pseudo-labelled video). Synthetic uint8 frames at the profile's sizes go through
each stage's own batch source and objective into `hilam.train.train` (accelerate; bf16 on a GPU that has it), so
a step is exactly what a cell runs; the pool of samples is drawn once, so drawing it is not timed. Each row also
gives the hours the profile's own step budget for that stage would take at the measured rate.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from hilam.data.schema import IMAGE_KEYS
from hilam.data.video import Clip
from hilam.method.config import preset
from hilam.method.latent_actions import FDM, FrameStore, LatentActionObjective, PairSource
from hilam.method.policies import PretrainObjective, VideoLabels, policy_nets
from hilam.method.skills import CropSource, LatentSequences, SkillModel, SkillObjective
from hilam.models.baku import Baku
from hilam.objectives import ActionChunkObjective
from hilam.profiles import Profile, get_profile
from hilam.provenance import provenance
from hilam.train import TrainConfig, train

LANG_DIM = 384  # all-MiniLM-L6-v2's width (T5-small's is 512: the trunk cost is the same to a rounding)
POOL = 512  # distinct synthetic samples (frames, clips) per source


class SyntheticDemos:
    """Demo batches at the policy's image size, indexed out of one pre-drawn pool."""

    def __init__(self, image_size: int, chunk: int):
        rng = np.random.default_rng(0)
        self.images = {k: rng.integers(0, 256, (POOL, image_size, image_size, 3), dtype=np.uint8) for k in IMAGE_KEYS}
        self.proprio = rng.normal(size=(POOL, 9)).astype(np.float32)
        self.actions = rng.uniform(-1, 1, (POOL, chunk, 7)).astype(np.float32)

    def __len__(self) -> int:
        return 100 * POOL

    def batch(self, idx: np.ndarray) -> dict:
        i = np.asarray(idx) % POOL
        return {k: v[i] for k, v in self.images.items()} | {
            "proprio": self.proprio[i], "task": np.zeros(len(i), np.int64), "actions": self.actions[i],
            "action_mask": np.ones(self.actions[i].shape[:2], bool)}


def synthetic_clips(image_size: int, n: int, length: int) -> list[Clip]:
    rng = np.random.default_rng(1)
    return [Clip(rng.integers(0, 256, (length, image_size, image_size, 3), dtype=np.uint8), "pick it up", f"clip{i}")
            for i in range(n)]


def baku_part(p: Profile) -> tuple[torch.nn.Module, object, TrainConfig]:
    cfg = replace(p.baku, lang_dim=LANG_DIM)
    objective = ActionChunkObjective(Baku(cfg), np.zeros(9), np.ones(9), lang_table=torch.zeros(1, LANG_DIM))
    return objective, SyntheticDemos(p.image_size, cfg.head.chunk), p.train


def lam_part(p: Profile) -> tuple[torch.nn.Module, object, TrainConfig]:
    sh = preset(p.scale).shared
    objective = LatentActionObjective(sh.lam, FrameStore(synthetic_clips(sh.lam.image_size, 4, POOL // 4)),
                                      sh.video.stride)
    return objective, PairSource(objective), sh.lam_train


def skills_part(p: Profile) -> tuple[torch.nn.Module, object, TrainConfig]:
    sh = preset(p.scale).shared
    crop = sh.skills.crop
    clips = synthetic_clips(sh.lam.image_size, 4, crop + 8)  # crops of full length, as in a long corpus clip
    latents = [np.random.default_rng(i).normal(size=(len(c.frames), sh.lam.latent_dim)) for i, c in enumerate(clips)]
    store = FrameStore(clips)
    objective = SkillObjective(SkillModel(sh.skills, sh.lam.latent_dim), FDM(sh.lam),
                               LatentSequences.from_latents(latents, sh.gap_frames), store)
    return objective, CropSource(objective, 100 * POOL), sh.skills_train


def pretrain_part(p: Profile) -> tuple[torch.nn.Module, object, TrainConfig]:
    hilam = preset(p.scale)
    sh = hilam.shared
    skill_dim = sh.skills.hnet.width  # stage-2 chunk vectors
    high, low = policy_nets(p.baku, torch.zeros(1, LANG_DIM), skill_dim)
    objective = PretrainObjective(high, low, sh.lam.latent_dim, low_weight=1.0)
    rng = np.random.default_rng(2)
    video = VideoLabels(rng.integers(0, 256, (POOL, p.image_size, p.image_size, 3), dtype=np.uint8),
                        np.zeros(POOL, np.int64), rng.normal(size=(POOL, skill_dim)).astype(np.float32),
                        rng.normal(size=(POOL, sh.lam.latent_dim)).astype(np.float32))
    return objective, video, hilam.pretrain_train


PARTS: dict[str, Callable[[Profile], tuple[torch.nn.Module, object, TrainConfig]]] = {
    "baku": baku_part, "lam": lam_part, "skills": skills_part, "pretrain": pretrain_part}


def gpu_busy(prof, seconds: float) -> float:
    """Fraction of `seconds` the GPU spent in kernels, from a torch profiler trace (1.0: never starved)."""
    busy_us = sum(e.self_device_time_total for e in prof.key_averages())
    return busy_us / 1e6 / seconds


def measure(profile_name: str, part: str, steps: int, warmup: int = 3, trace: bool = False) -> dict:
    """Train `warmup` steps, then time `steps` more in a resumed run (its own clock: set-up and the warm-up's
    compilation, allocation and autotuning stay out; the final checkpoint write is in). `trace` (GPU only)
    also records, in a second timed run under the torch profiler, how busy the GPU was."""
    p = get_profile(profile_name)
    torch.manual_seed(0)
    objective, source, budget = PARTS[part](p)
    cfg = replace(budget, steps=warmup + steps, log_every=warmup + steps, ckpt_every=10 * (warmup + steps))
    with tempfile.TemporaryDirectory() as tmp:
        train(objective, source, replace(cfg, steps=warmup), tmp)
        r = train(objective, source, cfg, tmp)
        busy = None
        if trace and torch.cuda.is_available():
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                traced = train(objective, source, replace(cfg, steps=warmup + 2 * steps), tmp)
            busy = gpu_busy(prof, traced["seconds_this_run"])
    rate = steps * cfg.batch_size / r["seconds_this_run"]
    return {"profile": profile_name, "part": part, "image_size": p.image_size, "batch_size": cfg.batch_size,
            "parameters": sum(x.numel() for x in objective.parameters() if x.requires_grad),
            "steps_timed": steps, "samples_per_s": rate, "ms_per_step": 1000 * r["seconds_this_run"] / steps,
            "budget_steps": budget.steps, "budget_hours": budget.steps * budget.batch_size / rate / 3600,
            "device": "cuda" if torch.cuda.is_available() else "cpu",
            "mixed_precision": "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no",
            "torch_threads": torch.get_num_threads(), "gpu_busy_fraction": busy}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", nargs="+", default=["paper", "cpu"])
    ap.add_argument("--parts", nargs="+", default=["baku"], choices=list(PARTS))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--trace", action="store_true", help="also measure the GPU's busy fraction (torch profiler)")
    ap.add_argument("--out", default="results/benchmarks/train_throughput.json")
    a = ap.parse_args()
    rows = []
    for profile in a.profiles:
        for part in a.parts:
            rows.append(measure(profile, part, a.steps, trace=a.trace))
            r = rows[-1]
            print(f"{profile:>6} {part:>8}: {r['samples_per_s']:8.1f} samples/s, {r['ms_per_step']:7.1f} ms/step "
                  f"(batch {r['batch_size']}, {r['parameters'] / 1e6:.2f}M trained params, {r['device']}); "
                  f"its {r['budget_steps']} steps: {r['budget_hours']:.2f} h"
                  + (f"; GPU busy {r['gpu_busy_fraction']:.0%}" if r["gpu_busy_fraction"] is not None else ""), flush=True)
    report = {"command": f"python benchmarks/train_throughput.py --profiles {' '.join(a.profiles)} "
                         f"--parts {' '.join(a.parts)} --steps {a.steps}" + " --trace" * a.trace, "results": rows, **provenance()}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
