"""Dataset batch throughput: how fast DemoDataset gathers training batches from its uint8 cache.

    python benchmarks/dataset_throughput.py --out results/benchmarks/dataset_throughput.json

Writes synthetic demos in the official layout (10 tasks x 5 demos x 300 steps, 128 px) to a temp dir,
loads them like a training run does, and times `batch()` for BAKU's batch size.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.data.schema import IMAGE_KEYS, LOW_DIM_KEYS, Demo, task_file, write_task_file
from hilam.envs.suites import task_specs
from hilam.provenance import provenance


def synthetic_suite(root: Path, suite: str, demos: int, steps: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for task in task_specs(suite):
        ds = [Demo(actions=rng.uniform(-1, 1, (steps, 7)), states=np.zeros((steps, 50)),
                   obs={**{k: rng.integers(0, 256, (steps, size, size, 3), dtype=np.uint8) for k in IMAGE_KEYS},
                        **{k: np.zeros((steps, w)) for k, w in LOW_DIM_KEYS.items()}}) for _ in range(demos)]
        write_task_file(task_file(root, suite, task.name), ds, language=task.language, problem_name=task.name,
                        bddl_file_name=task.bddl_file, env_args={})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--out", default="results/benchmarks/dataset_throughput.json")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_suite(Path(tmp), "libero_10", demos=5, steps=300, size=a.size)
        t0 = time.perf_counter()
        ds = DemoDataset(DatasetConfig(root=tmp, suite="libero_10", frac=1.0))
        load_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    n, t0 = 200, time.perf_counter()
    for _ in range(n):
        ds.batch(rng.integers(0, len(ds), a.batch))
    per_batch = (time.perf_counter() - t0) / n
    report = {"command": "python benchmarks/dataset_throughput.py", "samples": len(ds), "image_size": a.size,
              "load_seconds": load_s, "batch_size": a.batch, "batch_ms": per_batch * 1000,
              "samples_per_s": a.batch / per_batch, **provenance()}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("samples", "load_seconds", "batch_ms", "samples_per_s")}, indent=2))


if __name__ == "__main__":
    main()
