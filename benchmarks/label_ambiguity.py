"""How far the demos' action labels are a function of what a state policy observes.

For every step of every demo, the nearest step of another demo of the same task (Euclidean distance in the
standardised "poses" features, `hilam.envs.privileged`) and how far apart their actions are, against two references:
consecutive steps of one demo (how smooth the labels are in time) and random pairs of steps of the task (labels that
know nothing of the state). A memoryless policy can at best predict the labels of near-identical states alike; where
near-identical states carry labels as different as random pairs, their difference lives in something the state does
not show (the expert's plan), and the policy averages it. Steps are split by how near their neighbour is.

    python -m benchmarks.label_ambiguity --data data/demos_dart20_fixed --out results/recipes/label_ambiguity.json
"""
from __future__ import annotations

import argparse
import shlex
import sys

import numpy as np
import torch

from hilam.atomic import write_json
from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.policy_io import TaskNormalizer
from hilam.provenance import provenance

QUANTILES = (0.25, 0.5, 0.75)  # nearest-neighbour distance quantiles the steps are split at


def nearest_other_demo(x: np.ndarray, demo: np.ndarray, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `x`, the index of and distance to the nearest row with another `demo` id."""
    xt, d = torch.as_tensor(x), torch.as_tensor(demo)
    idx, dist = np.empty(len(x), np.int64), np.empty(len(x), np.float32)
    for s in range(0, len(x), block):
        m = torch.cdist(xt[s:s + block], xt)
        m[d[s:s + block, None] == d[None]] = float("inf")
        v, i = m.min(1)
        idx[s:s + block], dist[s:s + block] = i.numpy(), v.numpy()
    return idx, dist


def gaps(a: np.ndarray, b: np.ndarray) -> dict:
    """Mean absolute difference of arm actions (6 dims) and how often the gripper commands disagree in sign (None
    for no pairs)."""
    if not len(a):
        return {"arm_l1": None, "gripper_disagree": None}
    return {"arm_l1": float(np.abs(a[:, :6] - b[:, :6]).mean()),
            "gripper_disagree": float((np.sign(a[:, 6]) != np.sign(b[:, 6])).mean())}


def measure(data: DemoDataset, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    stats = data.stats()
    # the features as the policy reads them: standardised per task, "poses" only
    norm = TaskNormalizer(stats["state_mean"], stats["state_std"], keep=data.state_mask("poses"))
    demo_of = np.repeat(np.arange(len(data.demo_starts)), data.demo_lengths)
    out = {}
    for t in np.unique(data.task):
        rows = np.flatnonzero(data.task == t)
        z = norm(data.state[rows], data.task[rows]).numpy()
        a, demo = data.actions[rows], demo_of[rows]
        nn, dist = nearest_other_demo(z, demo)
        nxt = np.flatnonzero(demo[1:] == demo[:-1])
        rand = rng.integers(0, len(rows), len(rows))
        step = np.linalg.norm(z[nxt + 1] - z[nxt], axis=1)  # how far one demo moves in one step
        near = dist <= np.median(step)  # another demo's step as near as the next step of one's own
        edges = np.quantile(dist, QUANTILES)
        bins = np.digitize(dist, edges)
        out[data.instructions[t]] = {
            "steps": len(rows), "demos": int(len(np.unique(demo))),
            "nn_distance_quantiles": dict(zip(map(str, QUANTILES), np.round(edges, 3).tolist())),
            "nearest_other_demo": gaps(a, a[nn]),
            "nearest_other_demo_by_distance": [gaps(a[bins == b], a[nn][bins == b]) for b in range(len(QUANTILES) + 1)],
            "next_step_same_demo": gaps(a[nxt], a[nxt + 1]),
            "next_step_distance_median": round(float(np.median(step)), 3),
            "as_near_as_next_step": {"fraction": round(float(near.mean()), 3), **gaps(a[near], a[nn][near])},
            "random_pair": gaps(a, a[rand]),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a demo root with a state pass (any recipe)")
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--frac", type=float, default=1.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    data = DemoDataset(DatasetConfig(root=a.data, suite=a.suite, frac=a.frac, observation="state"))
    r = measure(data)
    write_json(a.out, {"data": a.data, "suite": a.suite, "frac": a.frac, "tasks": r, **provenance(),
                       "command": "python -m benchmarks.label_ambiguity " + " ".join(map(shlex.quote, sys.argv[1:]))})
    print("arm: mean |action difference| over the 6 arm dims; grip: share of pairs whose gripper commands disagree")
    print(f"{'task':36s} {'nearest other demo':>18s} {'as near as next step':>26s} {'next step':>12s} {'random':>12s}")
    for name, t in r.items():
        cols = [t["nearest_other_demo"], t["as_near_as_next_step"], t["next_step_same_demo"], t["random_pair"]]
        arm_grip = [f"{c['arm_l1']:.3f}/{c['gripper_disagree']:.2f}" if c["arm_l1"] is not None else "-" for c in cols]
        print(f"{name[:36]:36s} {arm_grip[0]:>18s} {arm_grip[1]:>16s} ({t['as_near_as_next_step']['fraction']:.0%}) "
              f"{arm_grip[2]:>12s} {arm_grip[3]:>12s}")


if __name__ == "__main__":
    main()
