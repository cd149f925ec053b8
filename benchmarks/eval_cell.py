"""Evaluate a finished cell's trained policy again under another protocol (e.g. seeded fresh resets, the demos' own
start distribution, instead of the official init states), without touching the cell.

    python -m benchmarks.eval_cell results/runs/libero_10/baku_state/frac1-seed0-cpu.json \\
        --init-states random --episodes-per-task 5 --out results/recipes/random_init_clean.json

or executed otherwise (`--ensemble-k`: how the temporal ensemble weighs the chunks predicted for a step;
`--newest-dims 6`: the gripper command from the newest chunk alone, the arm still ensembled).

The cell's demos, method and run directory are rebuilt from its recorded `cell_config` (training is loaded, not
redone); the result holds the success rate with its Wilson interval, goal progress and the command.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from hilam.atomic import write_json
from hilam.bench import trained_cell
from hilam.evaluate import EvalConfig, evaluate
from hilam.provenance import provenance


def reevaluate(cell_file: str, init_states: str, episodes_per_task: int, workers: int, seed: int,
               ensemble_k: float | None = None, newest_dims: tuple[int, ...] = ()) -> dict:
    cell, cfg, _, method = trained_cell(cell_file)
    conf = cfg.configured()
    policy = method.policy()
    if ensemble_k is not None:
        policy.k = ensemble_k
    policy.newest_dims = newest_dims
    ev = evaluate(policy, EvalConfig(suite=cell["suite"], episodes_per_task=episodes_per_task,
                                     init_states=init_states, workers=workers, seed=seed,
                                     render=conf.observation == "images", render_mode=conf.profile.render_mode,
                                     image_size=cell["protocol"].get("image_size", 128),
                                     max_steps=cell["protocol"]["max_steps"]))
    executed = {"seed": seed, "ensemble_k": policy.k, "newest_dims": list(policy.newest_dims)}
    return {"cell": cell_file, "protocol": ev["protocol"] | executed,
            "success_rate": ev["success_rate"],
            "ci95": ev["ci95"], "episodes": ev["episodes"], "goal_progress": ev["goal_progress"],
            "per_task": {k: v["success_rate"] for k, v in ev["per_task"].items()}, "seconds": ev["seconds"],
            "command": "python -m benchmarks.eval_cell " + " ".join(map(shlex.quote, sys.argv[1:])), **provenance()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cell")
    ap.add_argument("--init-states", default="random", choices=("official", "random"))
    ap.add_argument("--episodes-per-task", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ensemble-k", type=float, default=None,
                    help="temporal ensembling weight exp(-k i), i = 0 the oldest chunk (BAKU: 0.01, nearly uniform); "
                         "negative k weights the newest most")
    ap.add_argument("--newest-dims", type=int, nargs="*", default=[],
                    help="action dims taken from the newest chunk instead of the ensemble (6: the gripper)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    r = reevaluate(a.cell, a.init_states, a.episodes_per_task, a.workers, a.seed, a.ensemble_k, tuple(a.newest_dims))
    write_json(a.out, r)
    print(f"{a.cell}: {r['success_rate']:.1%} [{r['ci95'][0]:.0%}, {r['ci95'][1]:.0%}] over {r['episodes']} episodes "
          f"({a.init_states} init states)")


if __name__ == "__main__":
    main()
