"""Does the host's CPU math change the scripted expert? Stored state-pass episodes re-run with their own seeds under
several OpenBLAS kernels, each in a fresh process, and compared action by action with what was stored.

    python -m benchmarks.expert_cpu_math --suite libero_10 --tasks 5 9 --episodes 3 \
        --kernels host Haswell Sandybridge Prescott --out results/benchmarks/expert_cpu_math.json

"host" is the kernel OpenBLAS picks for this CPU (the variable unset). Needs a finished state pass under --root.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from hilam.envs.cpu_math import VARIABLES
from hilam.provenance import provenance


def rerun(suite: str, task_id: int, root: str, episodes: int) -> list[dict]:
    """In this process: re-run the task's first stored episodes and compare their actions with the stored ones."""
    from threadpoolctl import threadpool_info

    from hilam.data.expert.rollout import expert_episode
    from hilam.envs.libero_env import LiberoEnv
    from hilam.envs.suites import resolve_suite, task_specs

    task = task_specs(suite)[task_id]
    kernels = sorted({i["architecture"] for i in threadpool_info() if i["internal_api"] == "openblas"})
    env, rows = LiberoEnv(task, render=False), []
    with np.load(Path(root) / suite / "states" / f"{task.name}.npz") as z:
        for i in range(episodes):
            seed, stored = int(z[f"seed_{i}"]), z[f"actions_{i}"]
            actions = np.asarray(expert_episode(env, seed, resolve_suite(suite).max_steps).actions)
            n = min(len(actions), len(stored))
            step_diff = np.abs(actions[:n] - stored[:n]).max(1)  # largest action difference at each shared step
            differs = np.flatnonzero(step_diff > 0)
            rows.append({"task_id": task_id, "episode": i, "seed": seed, "openblas": kernels,
                         "length": len(actions), "stored_length": len(stored),
                         "identical": len(actions) == len(stored) and not len(differs),
                         "first_differing_step": int(differs[0]) if len(differs) else None,
                         "max_abs_difference": float(step_diff.max())})
    env.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--root", default="data/demos")
    ap.add_argument("--tasks", type=int, nargs="+", default=[5, 9])
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--kernels", nargs="+", default=["host", "Haswell", "Sandybridge", "Prescott"])
    ap.add_argument("--out", default="results/benchmarks/expert_cpu_math.json")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)  # one task, in a fresh process
    a = ap.parse_args()
    if a.worker is not None:
        print(json.dumps(rerun(a.suite, a.worker, a.root, a.episodes)))
        return
    rows = []
    for kernel in a.kernels:
        env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
        if kernel != "host":
            env["OPENBLAS_CORETYPE"] = kernel
        for t in a.tasks:
            out = subprocess.run([sys.executable, "-m", "benchmarks.expert_cpu_math", "--suite", a.suite, "--root",
                                  a.root, "--episodes", str(a.episodes), "--worker", str(t)],
                                 env=env, capture_output=True, text=True, check=True).stdout
            for r in json.loads(out.strip().splitlines()[-1]):
                rows.append({"kernel": kernel} | r)
                print(f"{kernel:>11} task {t} episode {r['episode']}: identical {r['identical']}, first differing step "
                      f"{r['first_differing_step']}, max |diff| {r['max_abs_difference']:.2g}, length {r['length']} "
                      f"(stored {r['stored_length']})", flush=True)
    command = (f"python -m benchmarks.expert_cpu_math --suite {a.suite} --tasks {' '.join(map(str, a.tasks))} "
               f"--episodes {a.episodes} --kernels {' '.join(a.kernels)}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"command": command, "root": a.root, "rows": rows, **provenance()}, indent=2))


if __name__ == "__main__":
    main()
