"""The recipes' table: expert figures from the state passes here, else from the report before (a fresh machine)."""
from __future__ import annotations

import json

from benchmarks.recipe_report import report
from hilam.data.generate import stats_path
from hilam.envs.suites import task_specs


def _pass(root, successes: int, attempts: int, length: float) -> None:
    for t in task_specs("libero_object"):
        p = stats_path(root, t)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"successes": successes, "attempts": attempts, "mean_length": length}))


def test_a_recipe_without_a_pass_here_keeps_the_previous_reports_expert_figures(tmp_path):
    _pass(tmp_path / "demos_clean", 50, 55, 120.0)
    (tmp_path / "runs").mkdir()
    old = {"success_rate": 0.5, "successes": 500, "attempts": 1000, "mean_length": 300.0, "tasks": 10}
    before = {"git": "abc", "recipes": {"dart20": {"expert": old}, "clean": {"expert": dict(old, successes=1)}}}
    rep = report("object", str(tmp_path / "demos_{recipe}"), str(tmp_path / "runs"), "baku_state", "cpu", before)
    clean, dart20 = rep["recipes"]["clean"], rep["recipes"]["dart20"]
    assert clean["expert"]["successes"] == 500 and clean["expert"]["attempts"] == 550  # this machine's pass wins
    assert clean["expert_source"].startswith("state pass in")
    assert dart20["expert"] == old and "abc" in dart20["expert_source"]
    assert "dart10" not in rep["recipes"]  # neither a pass nor a cell nor an earlier figure
