"""Where a state-based policy closes its gripper, against where the expert's demos close it.

A cloned policy that reaches the first object and fails there has either closed too early, too late or beside the
object; this says which. For each closing of the gripper (its command turning from open to closed), it takes the
position of the nearest object relative to the gripper (from the privileged observation) in the demos the cell
trained on and in the cell's rollouts from the official init states (no rendering), and writes both:

    python -m benchmarks.grasp_offsets runs/cells/libero_10/baku_state/frac1-seed0-cpu.json --tasks 4 \\
        --episodes 3 --out results/recipes/grasp_offsets_clean.json
"""
from __future__ import annotations

import argparse
import shlex
import sys
from collections import Counter

import numpy as np

from hilam.bench import trained_cell
from hilam.atomic import write_json
from hilam.envs.libero_env import LiberoEnv
from hilam.envs.privileged import PrivilegedView
from hilam.envs.suites import official_init_states, task_specs
from hilam.provenance import provenance


def nearest_object(view: PrivilegedView, features: np.ndarray) -> tuple[str, np.ndarray]:
    """The object (or fixture) nearest the gripper and its position minus the gripper's, from one observation."""
    rel = view.object_offsets(features)
    k = int(np.linalg.norm(rel, axis=1).argmin())
    return view.names[k], rel[k]


def closings(gripper: np.ndarray) -> np.ndarray:
    """Steps where the gripper command turns from open (< 0) to closed (> 0)."""
    return np.flatnonzero((gripper[1:] > 0) & (gripper[:-1] <= 0)) + 1


def summary(offsets: list[tuple[str, np.ndarray]]) -> dict:
    rel = np.array([r for _, r in offsets], np.float64).reshape(-1, 3)
    return {"closings": len(offsets), "objects": dict(Counter(n for n, _ in offsets)),
            "mean": rel.mean(0).round(4).tolist() if len(rel) else None,
            "std": rel.std(0).round(4).tolist() if len(rel) else None,
            "each": [{"object": n, "offset": np.asarray(r, np.float64).round(4).tolist()} for n, r in offsets]}


def measure(cell_file: str, tasks: list[int], episodes: int, max_steps: int) -> dict:
    cell, _, data, method = trained_cell(cell_file)
    if method.observation != "state":
        raise SystemExit(f"{cell_file}: a {method.observation} policy; this reads privileged observations")
    policy, out = method.policy(), {}
    for task_id in tasks:
        task = task_specs(cell["suite"])[task_id]
        env = LiberoEnv(task, render=False)
        view = env.privileged_view
        demo = []  # the expert's first closing in each demo of this task
        for start, n in zip(data.demo_starts, data.demo_lengths):
            if data.task[start] == task_id and len(c := closings(data.actions[start:start + n, 6])):
                demo.append(nearest_object(view, data.state[start + c[0]]))
        rollouts = []
        for ep in range(episodes):
            obs = env.reset(init_state=official_init_states(cell["suite"], task_id)[ep])
            policy.reset(0)
            grip, feats = [], []
            for _ in range(max_steps):
                a = policy.act([dict(obs, language=task.language)], [0])[0]
                grip.append(a[6])
                feats.append(obs["privileged"])
                obs = env.step(a)
                if env.success():
                    break
            c = closings(np.array(grip))
            rollouts.append({"success": env.success(), "steps": len(grip),
                             "closings": summary([nearest_object(view, feats[i]) for i in c])})
        env.close()
        out[task.name] = {"demos_first_closing": summary(demo), "rollouts": rollouts}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cell")
    ap.add_argument("--tasks", type=int, nargs="+", default=[4])
    ap.add_argument("--episodes", type=int, default=3, help="official init states 0..N-1 of each task")
    ap.add_argument("--max-steps", type=int, default=300)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    r = measure(a.cell, a.tasks, a.episodes, a.max_steps)
    write_json(a.out, {"cell": a.cell, "tasks": r, **provenance(),
                       "command": "python -m benchmarks.grasp_offsets " + " ".join(map(shlex.quote, sys.argv[1:]))})
    for name, t in r.items():
        d = t["demos_first_closing"]
        print(f"{name}: demos close with the nearest object at {d['mean']} +- {d['std']} (m, object - gripper)")
        for i, ep in enumerate(t["rollouts"]):
            print(f"  episode {i}: success {ep['success']}, {ep['steps']} steps, closings at "
                  f"{[c['offset'] for c in ep['closings']['each']]}")


if __name__ == "__main__":
    main()
