"""BAKU training throughput (samples/s) per profile through the real trainer, on synthetic batches.

    python benchmarks/train_throughput.py --profiles paper cpu --steps 20 --out results/benchmarks/train_throughput.json

Synthetic uint8 images at the profile's size and random actions exercise exactly the training step a
benchmark cell runs (ActionChunkObjective through `hilam.train.train` on accelerate); data loading is
measured separately by dataset_throughput.py.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from hilam.objectives import ActionChunkObjective
from hilam.data.schema import IMAGE_KEYS
from hilam.models.baku import Baku
from hilam.profiles import get_profile
from hilam.provenance import provenance
from hilam.train import train


class SyntheticBatches:
    def __init__(self, image_size: int, chunk: int, n: int = 4096):
        self.size, self.chunk, self.n = image_size, chunk, n
        self.rng = np.random.default_rng(0)

    def __len__(self) -> int:
        return self.n

    def batch(self, idx: np.ndarray) -> dict:
        b = len(idx)
        out = {k: self.rng.integers(0, 256, (b, self.size, self.size, 3), dtype=np.uint8) for k in IMAGE_KEYS}
        return out | {"proprio": self.rng.normal(size=(b, 9)).astype(np.float32), "task": np.zeros(b, np.int64),
                      "actions": self.rng.uniform(-1, 1, (b, self.chunk, 7)).astype(np.float32),
                      "action_mask": np.ones((b, self.chunk), bool)}


def measure(profile_name: str, steps: int) -> dict:
    p = get_profile(profile_name)
    p.baku.lang_dim = 384
    objective = ActionChunkObjective(Baku(p.baku), np.zeros(9), np.ones(9), lang_table=torch.zeros(1, 384))
    cfg = replace(p.train, steps=steps, log_every=steps, ckpt_every=10 * steps)
    with tempfile.TemporaryDirectory() as tmp:
        warm = train(objective, SyntheticBatches(p.image_size, p.baku.head.chunk), replace(cfg, steps=2), tmp)
        r = train(objective, SyntheticBatches(p.image_size, p.baku.head.chunk), cfg, tmp)  # resumes after warm-up
    del warm
    return {"profile": profile_name, "image_size": p.image_size, "batch_size": cfg.batch_size,
            "parameters": sum(x.numel() for x in objective.model.parameters()), "steps_timed": r["steps"] - 2,
            "samples_per_s": (r["steps"] - 2) * cfg.batch_size / r["seconds"],
            "device": "cuda" if torch.cuda.is_available() else "cpu", "torch_threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", nargs="+", default=["paper", "cpu"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", default="results/benchmarks/train_throughput.json")
    a = ap.parse_args()
    rows = [measure(p, a.steps) for p in a.profiles]
    report = {"command": "python benchmarks/train_throughput.py " + " ".join(f"--{k} {v}" for k, v in
              (("profiles", " ".join(a.profiles)), ("steps", a.steps))), "results": rows, **provenance()}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    for r in rows:
        print(f"{r['profile']:>6}: {r['samples_per_s']:.1f} samples/s (batch {r['batch_size']}, {r['image_size']} px, "
              f"{r['parameters'] / 1e6:.2f}M params, {r['device']})")


if __name__ == "__main__":
    main()
