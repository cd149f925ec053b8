"""Demo recipes side by side: what each costs the expert (success, demo length) and what a policy cloned from its
demos reaches (state-based BAKU by default: cells that need no rendering), at every data fraction that has cells.

    python -m benchmarks.recipe_report --suite libero_10 --data data/demos_{recipe} --out results/recipes

`--data` is a pattern with `{recipe}`: the demo root of each recipe (one root holds one recipe). A recipe whose state
pass is not on this machine keeps the expert's figures of the report already in `--out` (each entry says which pass
and commit they came from), so a fresh machine can add a recipe without re-running the others' passes. Success is
pooled over a recipe's seeds with a Wilson interval, as in `make tables`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.tables import load_cells, recipe_name, successes
from hilam.atomic import write_json
from hilam.data.generate import stats_path
from hilam.data.recipes import RECIPES
from hilam.envs.suites import resolve_suite, task_specs
from hilam.evaluate import wilson_interval
from hilam.provenance import provenance


def expert_stats(root: str, suite: str) -> dict | None:
    """The expert's success and mean demo length over a recipe's state pass, or None if it has none."""
    stats = [json.loads(p.read_text()) for t in task_specs(suite) if (p := stats_path(root, t)).exists()]
    if not stats:
        return None
    return {"tasks": len(stats), "attempts": sum(s["attempts"] for s in stats),
            "successes": sum(s["successes"] for s in stats),
            "success_rate": sum(s["successes"] for s in stats) / max(1, sum(s["attempts"] for s in stats)),
            "mean_length": float(np.mean([s["mean_length"] for s in stats if s.get("mean_length")]))}


def policy_rows(cells: list[dict], suite: str, method: str, profile: str) -> dict[str, dict[float, dict]]:
    """recipe -> fraction -> pooled success of `method` cells."""
    out: dict[str, dict[float, dict]] = {}
    for c in cells:
        base = c["method"].split("+")[0]  # load_cells names other recipes' rows method+recipe
        if c["suite"] != suite or base != method or c["profile"] != profile:
            continue
        row = out.setdefault(recipe_name(c), {}).setdefault(float(c["frac"]), {"k": 0, "n": 0, "seeds": [], "goals": []})
        row["k"] += successes(c)
        row["n"] += c["episodes"]
        row["seeds"].append(c["seed"])
        if c.get("goal_progress"):
            row["goals"].append(c["goal_progress"]["end"])
    for by_frac in out.values():
        for row in by_frac.values():
            row["rate"], row["ci95"] = row["k"] / row["n"], wilson_interval(row["k"], row["n"])
            row["goals_end"] = float(np.mean(row.pop("goals"))) if row["goals"] else None
    return out


def report(suite: str, data: str, runs: str, method: str, profile: str, before: dict | None = None) -> dict:
    """The recipes' table; `before` is the previous report, whose expert figures stand in for passes not here."""
    suite = resolve_suite(suite).name
    cells = policy_rows(load_cells(Path(runs)), suite, method, profile)
    earlier = (before or {}).get("recipes", {})
    recipes = {}
    for name, r in RECIPES.items():
        root = data.format(recipe=name)
        expert = expert_stats(root, suite)
        source = f"state pass in {root}"
        if expert is None and (earlier.get(name) or {}).get("expert"):
            expert = earlier[name]["expert"]
            source = earlier[name].get("expert_source") or f"previous report (git {before.get('git')})"
        if expert or name in cells:
            recipes[name] = {"recipe": r.record(), "expert": expert, "expert_source": source if expert else None,
                             "policy": cells.get(name, {})}
    return {"suite": suite, "method": method, "profile": profile, "recipes": recipes, **provenance()}


def markdown(rep: dict) -> str:
    fracs = sorted({f for r in rep["recipes"].values() for f in r["policy"]}, reverse=True)
    head = ("| recipe | start noise (rad) | action noise | expert's choices | expert success | mean demo length | "
            + " | ".join(f"{rep['method']} {100 * f:g}%" for f in fracs) + " |")
    lines = [head, "|" + "---|" * (6 + len(fracs))]
    for name, r in rep["recipes"].items():
        e = r["expert"]
        cols = [name, f"{r['recipe']['start_noise']:g}", f"{r['recipe']['action_noise']:g}",
                "drawn" if r["recipe"].get("jitter", True) else "fixed",
                f"{100 * e['success_rate']:.0f}% ({e['successes']}/{e['attempts']})" if e else "-",
                f"{e['mean_length']:.0f}" if e else "-"]
        for f in fracs:
            p = r["policy"].get(f)
            cols.append(f"{100 * p['rate']:.0f}% [{100 * p['ci95'][0]:.0f}, {100 * p['ci95'][1]:.0f}] (n={p['n']}, "
                        f"{len(p['seeds'])} seed{'s' * (len(p['seeds']) > 1)})" if p else "-")
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--data", default="data/demos_{recipe}", help="demo root of each recipe, with {recipe}")
    ap.add_argument("--runs", default="results/runs")
    ap.add_argument("--method", default="baku_state")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--out", default="results/recipes")
    a = ap.parse_args()
    out = Path(a.out)
    previous = out / f"{resolve_suite(a.suite).name}.json"
    before = json.loads(previous.read_text()) if previous.exists() else None
    rep = report(a.suite, a.data, a.runs, a.method, a.profile, before)
    write_json(out / f"{rep['suite']}.json", rep)
    (out / f"{rep['suite']}.md").write_text(markdown(rep))
    print(markdown(rep))


if __name__ == "__main__":
    main()
