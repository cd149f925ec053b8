"""Scripted-expert quality per suite, from the stats the generator cached: results/expert/<suite>.json."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hilam.data.generate import stats_path
from hilam.envs.suites import resolve_suite, task_specs
from hilam.provenance import provenance

TARGETS = {"libero_spatial": (0.95, 0.0), "libero_object": (0.95, 0.0),
           "libero_goal": (0.85, 0.60), "libero_10": (0.85, 0.60)}  # (mean, every task), issue #2


def expert_report(suite: str, root: str = "data/demos", out_dir: str = "results/expert",
                  command: str = "") -> dict:
    """Aggregate per-task attempts/successes/lengths/speeds and write them atomically."""
    spec = resolve_suite(suite)
    tasks = {}
    for task in task_specs(spec.name):
        p = stats_path(root, task)
        if p.exists():
            s = json.loads(p.read_text())
            s.pop("failures", None)
            tasks[task.name] = s
    if not tasks:
        raise FileNotFoundError(f"no expert stats under {Path(root) / spec.name / 'states'}; run `hilam generate` first")
    rates = [t["success_rate"] for t in tasks.values()]
    mean_target, task_target = TARGETS.get(spec.name, (None, None))
    fps = [t["render_pass_frames_per_s"] for t in tasks.values() if t.get("render_pass_frames_per_s")]
    report = {
        "suite": spec.name,
        "protocol": "state-only episodes from fresh random resets (seeded), stop at first success; "
                    f"max steps {spec.max_steps}; official init states not used",
        "mean_success_rate": float(np.mean(rates)),
        "attempts": int(sum(t["attempts"] for t in tasks.values())),
        "successes": int(sum(t["successes"] for t in tasks.values())),
        "targets": {"mean": mean_target, "every_task": task_target},
        "meets_target": None if mean_target is None else bool(np.mean(rates) >= mean_target and min(rates) >= task_target),
        "below_target_tasks": [n for n, t in tasks.items() if task_target is not None and t["success_rate"] < task_target],
        "state_pass_steps_per_s": float(np.mean([t["state_pass_steps_per_s"] for t in tasks.values()])),
        "render_pass_frames_per_s": float(np.mean(fps)) if fps else None,
        "per_task": tasks,
        "command": command,
        **provenance(),
    }
    out = Path(out_dir) / f"{spec.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, out)
    return report
