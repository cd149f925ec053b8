"""How consistently the expert's demos grasp each object: re-grasps, and from which side.

A deterministic policy regresses the mean (MSE) or median (L1) of the labels it sees in a state; where the demos
grasp one object from two sides far apart, or close on it again after a grasp that failed, that label is a point
between the ways the demos go, and no demo goes there. For every closing of the gripper (command turning from open
to closed) in each demo, this takes the nearest object and the side the gripper stands on (the bearing of the
gripper from the object's origin, world frame, degrees), then per task and object: how many demos close on it more
than once, and the bearings split into modes wherever sorted bearings leave a gap wider than `--gap` degrees.

    python -m benchmarks.demo_grasps --data data/demos_dart20_fixed --out results/recipes/demo_grasps_dart20_fixed.json
"""
from __future__ import annotations

import argparse
import shlex
import sys
from collections import defaultdict

import numpy as np

from benchmarks.grasp_offsets import closings, nearest_object
from hilam.atomic import write_json
from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.envs.libero_env import LiberoEnv
from hilam.envs.suites import task_specs
from hilam.provenance import provenance


def bearing(offset: np.ndarray) -> float:
    """Side of the object the gripper stands on, from the object-minus-gripper offset: degrees in [0, 360)."""
    return float(np.degrees(np.arctan2(-offset[1], -offset[0])) % 360)


def modes(bearings: list[float], gap: float) -> list[dict]:
    """Bearings grouped into arcs separated by gaps wider than `gap` degrees (circular), largest first: the
    size of each and its circular mean."""
    if not bearings:
        return []
    b = np.sort(np.asarray(bearings) % 360)
    gaps = np.diff(np.append(b, b[0] + 360))  # gaps[i]: from b[i] to the next one round the circle
    cuts = np.flatnonzero(gaps > gap)
    # start just after the last cut, so that no arc wraps through one; the other cuts split the rest
    groups = np.split(np.roll(b, -(cuts[-1] + 1)), (cuts[:-1] - cuts[-1]) % len(b)) if len(cuts) else [b]
    out = []
    for g in groups:
        r = np.radians(g)
        out.append({"n": int(len(g)), "mean": round(float(np.degrees(np.arctan2(np.sin(r).mean(),
                                                                               np.cos(r).mean())) % 360), 1)})
    return sorted(out, key=lambda m: -m["n"])


def measure(root: str, suite: str, gap: float) -> dict:
    data = DemoDataset(DatasetConfig(suite=suite, root=root, frac=1.0, observation="state"))
    out = {}
    for task in task_specs(suite):
        starts = [(s, n) for s, n in zip(data.demo_starts, data.demo_lengths) if data.task[s] == task.task_id]
        if not starts:
            continue
        env = LiberoEnv(task, render=False)
        view = env.privileged_view
        first, again = defaultdict(list), defaultdict(int)  # object -> bearings of each demo's first closing on it
        for s, n in starts:
            seen = set()
            for i in closings(data.actions[s:s + n, 6]):
                name, rel = nearest_object(view, data.state[s + i])
                if name in seen:
                    again[name] += 1
                    continue
                seen.add(name)
                first[name].append(bearing(rel))
        env.close()
        out[task.name] = {"demos": len(starts), "objects": {
            name: {"demos_closing": len(b), "extra_closings": again[name], "bearing_modes": modes(b, gap)}
            for name, b in first.items() if len(b) >= 3}}  # a few stray closings near a fixture are not a grasp
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a demo root (state pass is enough)")
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--gap", type=float, default=45.0, help="degrees of empty bearing that separate two modes")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    r = measure(a.data, a.suite, a.gap)
    write_json(a.out, {"data": a.data, "suite": a.suite, "gap_degrees": a.gap, "tasks": r, **provenance(),
                       "command": "python -m benchmarks.demo_grasps " + " ".join(map(shlex.quote, sys.argv[1:]))})
    for i, (name, t) in enumerate(r.items()):
        print(f"task {i} ({t['demos']} demos) {name}")
        for obj, o in t["objects"].items():
            m = ", ".join(f"{x['n']} at {x['mean']:.0f}" for x in o["bearing_modes"])
            print(f"  {obj:24s} closed on in {o['demos_closing']:3d} demos, {o['extra_closings']:3d} extra closings; "
                  f"sides (deg): {m}")


if __name__ == "__main__":
    main()
