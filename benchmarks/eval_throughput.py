"""Evaluation throughput: raw sim and render cost per step, and the harness on 1 and 2 workers.

    python benchmarks/eval_throughput.py --out results/benchmarks/eval_throughput.json

Measures (a) physics-only and physics+render steps in-process, (b) render-only cost per camera pair,
(c) whether shrinking MuJoCo's offscreen buffer from 640x480 to the image size changes speed or
pixels, and (d) the evaluation harness with a constant policy: step-phase throughput on 1 and 2
workers (scaling) and its overhead over the raw in-process step.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from hilam.envs.gl import select_gl_backend
from hilam.envs.libero_env import LiberoEnv
from hilam.envs.suites import SETTLE_ACTION
from hilam.provenance import provenance


def _per_step_ms(fn, n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1000


def raw_costs(suite: str, task: int, steps: int, image_size: int) -> dict:
    """In-process costs of one env (ms per step / per frame pair), median of 3 repeats."""
    hold = np.asarray(SETTLE_ACTION)
    physics = LiberoEnv.for_task(suite, task, render=False)
    physics.reset()
    env = LiberoEnv.for_task(suite, task, render=True, image_size=image_size)
    env.reset()
    state = env.get_state()
    out = {"physics_step_ms": float(np.median([_per_step_ms(lambda: physics.step(hold), steps) for _ in range(3)])),
           "render_step_ms": float(np.median([_per_step_ms(lambda: env.step(hold), steps) for _ in range(3)])),
           "render_only_pair_ms": float(np.median([_per_step_ms(lambda: env.set_state(state), steps)
                                                  for _ in range(3)]))}
    out["render_per_camera_ms"] = out["render_only_pair_ms"] / 2
    # does the 640x480 default offscreen buffer cost anything? resize it to the image size
    import mujoco

    before = env.set_state(state)
    ctx = env.sim._render_context_offscreen
    ctx.gl_ctx.make_current()
    mujoco.mjr_resizeOffscreen(image_size, image_size, ctx.con)
    after = env.set_state(state)
    out["small_buffer_render_only_pair_ms"] = float(np.median([_per_step_ms(lambda: env.set_state(state), steps)
                                                              for _ in range(3)]))
    out["small_buffer_pixels_identical"] = bool(all(np.array_equal(before[k], after[k])
                                                    for k in ("agentview_rgb", "eye_in_hand_rgb")))
    env.close()
    physics.close()
    return out


def harness(suite: str, task: int, workers: int, episodes: int, steps: int, image_size: int,
            render_mode: str = "libero") -> dict:
    """The evaluator with a constant policy on `workers` workers drawing in `render_mode`."""
    from hilam.evaluate import EvalConfig, evaluate
    from hilam.scripted_policies import ConstantPolicy

    cfg = EvalConfig(suite=suite, tasks=(task,), episodes_per_task=episodes, max_steps=steps,
                     workers=workers, image_size=image_size, render_mode=render_mode)
    from hilam.envs.gl import render_threads

    r = evaluate(ConstantPolicy(), cfg)
    return {"lp_num_threads_per_worker": render_threads(workers)} | {
        k: r[k] for k in ("workers", "episodes", "env_steps", "seconds", "env_steps_per_s", "step_phase_env_steps_per_s")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_object")
    ap.add_argument("--task", type=int, default=0)
    ap.add_argument("--steps", type=int, default=60, help="steps per timing / per harness episode")
    ap.add_argument("--episodes", type=int, default=4, help="harness episodes (spread over the workers)")
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--out", default="results/benchmarks/eval_throughput.json")
    a = ap.parse_args()
    backend = select_gl_backend()
    raw = raw_costs(a.suite, a.task, a.steps, a.image_size)
    runs = {w: harness(a.suite, a.task, w, a.episodes, a.steps, a.image_size) for w in (1, 2)}
    one, two = runs[1]["step_phase_env_steps_per_s"], runs[2]["step_phase_env_steps_per_s"]
    harness_ms = 1000 / one
    report = {
        "command": "python " + " ".join(sys.argv),
        "gl_backend": backend, "lp_num_threads_in_process": os.environ.get("LP_NUM_THREADS", "llvmpipe default (one per core)"),
        "suite": a.suite, "task": a.task, "image_size": a.image_size,
        "raw": raw, "harness": {str(w): r for w, r in runs.items()},
        "scaling_2_vs_1_workers": two / one,
        "harness_step_ms_1_worker": harness_ms,
        "harness_overhead_vs_raw_render_step": harness_ms / raw["render_step_ms"] - 1,
        "targets": {"scaling_2_vs_1_workers": ">= 1.7", "harness_overhead_vs_raw_render_step": "< 0.10"},
        **provenance(),
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k in ("raw", "scaling_2_vs_1_workers",
                      "harness_step_ms_1_worker", "harness_overhead_vs_raw_render_step")}, indent=2))


if __name__ == "__main__":
    main()
