"""`hilam <command>`: data generation, expert reports, evaluation and the benchmark cell."""
from __future__ import annotations

import json
import sys
from typing import Annotated

import tyro

from hilam.data.generate import GenerateConfig, generate
from hilam.data.recipes import DEFAULT_RECIPE
from hilam.data.video import VideoCorpusConfig
from hilam.envs.suites import LIBERO_DEMOS
from hilam.evaluate import EvalConfig


def generate_cmd(cfg: Annotated[GenerateConfig, tyro.conf.arg(name="")]) -> None:
    """Make scripted demos (state pass, then render pass for the demos --frac selects)."""
    for s in generate(cfg):
        if "error" in s:
            print(f"{s['task']}: FAILED\n{s['error']}", file=sys.stderr)
        else:
            print(f"{s['task_id']:>3} {s['successes']:>3}/{s['attempts']:<3} mean len "
                  f"{s['mean_length'] or 0:6.1f}  {s['task']}")


def video_cmd(cfg: Annotated[VideoCorpusConfig, tyro.conf.arg(name="")]) -> None:
    """Build the action-free video corpus (scripted rollouts, one camera, actions dropped)."""
    from hilam.data.video import build_corpus

    rows = build_corpus(cfg)
    print(f"{sum(r['clips'] for r in rows)} clips over {sum(r['clips'] > 0 for r in rows)}/{len(rows)} tasks")


def expert_report_cmd(suite: str = "libero_10", root: str = "data/demos", out_dir: str = "results/expert") -> None:
    """Write results/expert/<suite>.json from the generator's cached per-task stats."""
    from hilam.expert_report import expert_report

    r = expert_report(suite, root, out_dir, command=" ".join(["hilam", *sys.argv[1:]]))
    print(f"{r['suite']}: mean expert success {r['mean_success_rate']:.3f} "
          f"({r['successes']}/{r['attempts']}); below target: {r['below_target_tasks'] or 'none'}")


def evaluate_cmd(cfg: Annotated[EvalConfig, tyro.conf.arg(name="")], policy: Annotated[str, tyro.conf.arg(help="constant")] = "constant",
                 out: str = "") -> None:
    """Evaluate a built-in policy through the harness (learned methods run through `hilam bench`)."""
    from hilam.evaluate import evaluate
    from hilam.scripted_policies import ConstantPolicy

    if policy != "constant":
        raise SystemExit(f"unknown policy {policy!r}; built-in: constant")
    r = evaluate(ConstantPolicy(), cfg)
    print(json.dumps({k: r[k] for k in ("suite", "success_rate", "ci95", "episodes", "env_steps_per_s")}))
    if out:
        from hilam.atomic import write_json

        write_json(out, r)


def journal_cmd(path: Annotated[str, tyro.conf.Positional]) -> None:
    """Interim result of an evaluation from its journal (`runs/<suite>/<method>/<cell>/eval_journal.jsonl`):
    successes per task and overall with a Wilson interval, over the episodes finished so far."""
    from hilam.evaluate import journal_summary

    r = journal_summary(path)
    for name, t in r["per_task"].items():
        print(f"task {t['task_id']:>2} {t['successes']:>3}/{t['episodes']:<3} {_goals(t['goal_progress'])}  {name}")
    lo, hi = r["ci95"]
    print(f"{r['suite']}: {r['successes']}/{r['episodes']} of {r['planned']} planned episodes = "
          f"{r['success_rate']:.1%} [{lo:.0%}, {hi:.0%}], {r['seconds'] / 60:.0f} min so far; "
          f"{_goals(r['goal_progress'])}")


def _goals(progress: dict | None) -> str:
    """'goals 45% at the end (peak 60%, reset 0%)': mean share of the goal's predicates holding."""
    if not progress:
        return "goals not recorded"
    return f"goals {progress['end']:.0%} at the end (peak {progress['peak']:.0%}, reset {progress['start']:.0%})"


def bench_cmd(suite: str = "long", frac: str = "0.1", methods: str = "baku", seeds: str = "0",
              profile: str = "cpu", workers: int = 0, data: str = "data/demos", video: str = "data/video",
              keep_every: int = 0, force: bool = False, recipe: str = DEFAULT_RECIPE, results: str = "runs/cells",
              eval_suite: str = "", mixed_sources: bool = False, allow_mode_mix: bool = False,
              demos_per_task: int = LIBERO_DEMOS,
              sets: Annotated[tuple[str, ...], tyro.conf.arg(name="set", metavar="KEY=VALUE")] = ()) -> None:
    """Benchmark cells for every combination of the comma-separated suites ('all' = the four), fractions,
    methods and seeds: demos, then train + evaluate; finished cells are skipped unless --force. --keep-every N
    keeps the policy's checkpoints every N steps (for evaluating it along training, e.g. in HMA). --recipe: how the
    expert's demos are made (`hilam.data.recipes.RECIPES`: clean, start, dart20_fixed, ...); one data root holds one
    recipe.
    --results: where cell JSONs go (your runs: runs/cells; the committed reference cells: results/runs).
    --eval-suite: evaluate the trained policy on another registered LIBERO benchmark (e.g. libero_10_lan; default: the
    suite trained on), a cell of its own (`...-on-<benchmark>.json`) sharing the training. --mixed-sources: train on
    official files for some tasks and scripted-expert demos for the others (refused otherwise). --allow-mode-mix:
    evaluate in the profile's render mode a policy trained on demos drawn in another (official files are drawn by
    LIBERO; the cpu profiles evaluate in the fast mode; refused otherwise, and the cell records both).
    --set KEY=VALUE ...: change settings by name, in the profile (train.steps=30000, baku.head.loss=l1,
    render_mode=libero) or in the method's own config (hilam.skill_level=1, being_h0.pretrain=false); a bad name is
    refused listing the valid ones; the cell records them and is named apart (`-set<hash>`; a render mode is named
    as `-fast` is). --demos-per-task N: the pool each fraction draws from (LIBERO: 50); a larger pool is other
    data, a cell of its own (`-pool<N>`)."""
    from hilam.bench import bench, parse_list
    from hilam.overrides import parse_sets

    try:
        overrides = parse_sets(sets)
    except ValueError as e:
        raise SystemExit(f"[bench] refused before any work:\n  --set: {e}") from None

    bench(suites=parse_list(suite), fracs=parse_list(frac, float), methods=parse_list(methods),
          seeds=parse_list(seeds, int), profile=profile, workers=workers, data=data, video=video,
          keep_every=keep_every, force=force, recipe=recipe, results=results, eval_suite=eval_suite,
          mixed_sources=mixed_sources, allow_mode_mix=allow_mode_mix, overrides=overrides,
          demos_per_task=demos_per_task)


def main() -> None:
    tyro.extras.subcommand_cli_from_dict({
        "generate": generate_cmd,
        "video": video_cmd,
        "expert-report": expert_report_cmd,
        "evaluate": evaluate_cmd,
        "journal": journal_cmd,
        "bench": bench_cmd,
    })


if __name__ == "__main__":
    main()
