"""Render modes side by side: ms per env step of `libero` and `fast` (interleaved in one run), the ratio to a
physics-only step, and the pixels they differ by; then the evaluator on 1 and 2 workers in the fast mode.

    python -m benchmarks.render_modes --out results/benchmarks/render_modes.json

Each (task, image size) builds one env per mode and a physics-only env, steps all three from one seeded reset with
the same random actions (so they pass through the same states: the modes share the physics), and times them in
alternating rounds, so load from other processes falls on both alike. Writes the JSON and a PNG per task at the
largest size (agentview and wrist rows: libero | fast | abs difference x4) beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from hilam.envs import render_mode as rm
from hilam.envs.gl import select_gl_backend
from hilam.envs.libero_env import CAMERAS, LiberoEnv
from hilam.envs.suites import task_spec
from hilam.provenance import provenance

DIFF_GAIN = 4  # the PNG's difference panel: |libero - fast| x 4


def _step_ms(env: LiberoEnv, actions: np.ndarray) -> float:
    t0 = time.perf_counter()
    for a in actions:
        env.step(a)
    return (time.perf_counter() - t0) / len(actions) * 1000


def compare(suite: str, task_id: int, size: int, steps: int, rounds: int, seed: int = 0) -> tuple[dict, dict]:
    """(timings and pixel differences, the last frames of each mode) for one task at one image size."""
    task = task_spec(suite, task_id)
    envs = {"physics": LiberoEnv(task, render=False)}
    t0 = time.perf_counter()
    for mode in rm.RENDER_MODES:
        envs[mode] = LiberoEnv(task, image_size=size, render_mode=mode)
    build_s = time.perf_counter() - t0
    last = {name: env.reset(seed=seed) for name, env in envs.items()}
    actions = np.random.default_rng(seed).uniform(-1, 1, (rounds, steps, 7)) * 0.3  # small moves, arm in view
    ms = {name: [] for name in envs}
    diffs = {k: [] for k in CAMERAS}
    for r in range(rounds):
        for name, env in envs.items():
            ms[name].append(_step_ms(env, actions[r]))
            last[name] = env.observe()
        assert np.array_equal(last[rm.LIBERO]["sim_state"], last[rm.FAST]["sim_state"]), "the modes' physics diverged"
        for k in CAMERAS:
            diffs[k].append(np.abs(last[rm.LIBERO][k].astype(int) - last[rm.FAST][k].astype(int)).mean())
    physics = float(np.median(ms["physics"]))
    row = {"task": f"{suite}/{task_id}", "language": task.language, "image_size": size,
           "physics_step_ms": physics, "env_build_s_both_modes": build_s,
           "faces": {m: int(envs[m].sim.model.mesh_facenum.sum()) for m in rm.RENDER_MODES}}
    for mode in rm.RENDER_MODES:
        step = float(np.median(ms[mode]))
        row[mode] = {"step_ms": step, "ratio_to_physics": step / physics, "step_ms_rounds": ms[mode]}
    row["fast_vs_libero_speedup"] = row[rm.LIBERO]["step_ms"] / row[rm.FAST]["step_ms"]
    row["mean_abs_pixel_diff"] = {k: float(np.mean(v)) for k, v in diffs.items()}  # 0-255, end of each round
    for env in envs.values():
        env.close()
    return row, last


def side_by_side(last: dict) -> np.ndarray:
    """Rows per camera: libero | fast | |difference| x DIFF_GAIN."""
    rows = []
    for k in CAMERAS:
        a, b = last[rm.LIBERO][k], last[rm.FAST][k]
        diff = np.clip(np.abs(a.astype(int) - b.astype(int)) * DIFF_GAIN, 0, 255).astype(np.uint8)
        rows.append(np.concatenate([a, b, diff], axis=1))
    return np.concatenate(rows, axis=0)


def scaling(suite: str, task_id: int, episodes: int, steps: int, size: int, mode: str) -> dict:
    """The evaluator (constant policy) on 1 and 2 workers: step-phase env steps per second and their ratio."""
    from benchmarks.eval_throughput import harness

    runs = {w: harness(suite, task_id, w, episodes, steps, size, render_mode=mode) for w in (1, 2)}
    one, two = (runs[w]["step_phase_env_steps_per_s"] for w in (1, 2))
    return {"render_mode": mode, "image_size": size, "runs": {str(w): r for w, r in runs.items()},
            "scaling_2_vs_1_workers": two / one}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="libero_10:0,libero_10:2", help="suite:task,... (living room; kitchen, stove)")
    ap.add_argument("--sizes", default="64,128")
    ap.add_argument("--steps", type=int, default=20, help="steps per timed round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per mode (median reported)")
    ap.add_argument("--scaling-episodes", type=int, default=4, help="evaluator episodes for 1 vs 2 workers; 0: skip")
    ap.add_argument("--scaling-steps", type=int, default=40)
    ap.add_argument("--out", default="results/benchmarks/render_modes.json")
    a = ap.parse_args()
    load_before = os.getloadavg()
    backend = select_gl_backend()
    tasks = [(s, int(t)) for s, t in (x.split(":") for x in a.tasks.split(","))]
    sizes = [int(x) for x in a.sizes.split(",")]
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, pngs = [], []
    for suite, task_id in tasks:
        for size in sizes:
            row, last = compare(suite, task_id, size, a.steps, a.rounds)
            rows.append(row)
            print(f"{row['task']} {size:>3} px: libero {row['libero']['step_ms']:6.1f} ms "
                  f"(x{row['libero']['ratio_to_physics']:.1f} physics), fast {row['fast']['step_ms']:6.1f} ms "
                  f"(x{row['fast']['ratio_to_physics']:.1f}), physics {row['physics_step_ms']:.1f} ms; pixel diff "
                  f"{row['mean_abs_pixel_diff']}", flush=True)
            if size == max(sizes):
                import imageio.v2 as imageio

                png = out.with_name(f"{out.stem}_{suite}_task{task_id}.png")
                imageio.imwrite(png, side_by_side(last))
                pngs.append(str(png))
    scale = (scaling(*tasks[0], a.scaling_episodes, a.scaling_steps, max(sizes), rm.FAST)
             if a.scaling_episodes else None)
    load_after = os.getloadavg()
    cores = os.cpu_count() or 1
    report = {
        "command": "python -m benchmarks.render_modes " + " ".join(sys.argv[1:]),
        "gl_backend": backend, "cpu_cores": cores, "fast_config": rm.describe(rm.FAST),
        "load_average_before": load_before, "load_average_after": load_after,
        "shared_cores": bool(load_before[0] > 0.5),  # another job was running when this one started
        "note": (f"another job shared the {cores} cores (1-min load {load_before[0]:.1f} before this run started): "
                 "absolute times are inflated; the modes were timed in alternating rounds, so their ratio holds"
                 if load_before[0] > 0.5 else "the cores were idle when this run started"),
        "rows": rows, "png": pngs, "two_worker_scaling": scale,
        **provenance(),
    }
    out.write_text(json.dumps(report, indent=2))
    if scale:
        print(f"evaluator, fast mode: 2 vs 1 workers x{scale['scaling_2_vs_1_workers']:.2f}")
    print(report["note"])


if __name__ == "__main__":
    main()
