"""KS-Gen key-step evaluation of a suite: key-step image generation on held-out demos, beside HiLAM's skill
boundaries scored against the same ground-truth key steps.

    python benchmarks/keystep_report.py --suite libero_10 --profile cpu

Needs the suite's state pass (`hilam generate --no-render`, which `hilam bench` runs). Writes
results/keysteps/<suite>.json and one PNG per task (first frame, generated key steps, true key steps).
The boundary scores are read from results/skills/<suite>.json (benchmarks/skill_report.py) when present.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from baselines.ksgen.config import preset
from baselines.ksgen.data import build, cache_path
from baselines.ksgen.run import evaluate, fit, held_out
from hilam.atomic import write_json
from hilam.envs.suites import resolve_suite, task_specs
from hilam.models.language import embed_instructions, encoder_id
from hilam.profiles import get_profile
from hilam.provenance import provenance
from hilam.confighash import config_hash


def task_figure(path: Path, title: str, first: np.ndarray, generated: np.ndarray, true: np.ndarray) -> None:
    """Two rows: first frame then generated key steps; first frame then true key steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(true)
    fig, axes = plt.subplots(2, k + 1, figsize=(1.8 * (k + 1), 4.0), squeeze=False)
    for r, (name, row) in enumerate((("generated", generated), ("true", true))):
        for c, img in enumerate([first, *row]):
            axes[r, c].imshow(img)
            axes[r, c].axis("off")
            axes[r, c].set_title("first frame" if c == 0 else f"{name} key step {c}", fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--data", default="data/demos")
    ap.add_argument("--cache", default="data/keysteps")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--tasks", default="", help="comma-separated task ids (default: all)")
    ap.add_argument("--out", default="results/keysteps")
    a = ap.parse_args()
    suite = resolve_suite(a.suite).name
    cfg = preset(get_profile(a.profile).scale)
    cfg.data.suite, cfg.data.root, cfg.data.cache = suite, a.data, a.cache
    cfg.data.tasks = tuple(int(t) for t in a.tasks.split(",") if t)
    data = build(cfg.data)
    specs = {t.task_id: t for t in task_specs(suite)}
    lang = embed_instructions([specs[i].language for i in sorted(specs)], cfg.language)
    data_key = (len(data.step), int(data.step.sum()))  # new config or new key-step data: new checkpoints
    run_dir = Path(a.runs) / suite / "ksgen" / f"{a.profile}-{config_hash(cfg, data_key)}"
    gen, judge, training = fit(cfg, data, lang, run_dir)
    names = {i: specs[i].language for i in specs}
    scores, preds = evaluate(gen, judge, data, lang, names)

    skills_file = Path("results/skills") / f"{suite}.json"
    boundaries = json.loads(skills_file.read_text())["key_steps"] if skills_file.exists() else None
    demos = data.demos()
    out = {"suite": suite, "profile": a.profile,
           "command": f"python benchmarks/keystep_report.py --suite {suite} --profile {a.profile}",
           "language_encoder": encoder_id(cfg.language), "config": asdict(cfg), "run_dir": str(run_dir),
           "data": {"cache": str(cache_path(cfg.data)), "demos": len(demos),
                    "test_demos": int(sum(data.test[d[0]] for d in demos)),
                    "key_steps_per_demo": float(np.mean([len(d) - 1 for d in demos])),
                    "train_key_steps": int(len(data.pairs(test=False)[0]))},
           "training": training, "generation": scores,
           "skill_boundaries": {"source": str(skills_file), "scores": boundaries}}
    out |= provenance()
    write_json(Path(a.out) / f"{suite}.json", out)

    tests = held_out(data)
    for task_id in sorted({int(data.task[d[0]]) for d in tests}):
        i = next(j for j, d in enumerate(tests) if data.task[d[0]] == task_id)
        rows = tests[i]
        task_figure(Path(a.out) / suite / f"task{task_id:02d}.png", names[task_id], data.images[rows[0]],
                    preds["generator"][i], data.images[rows[1:]])
    print(json.dumps({m: s.get("overall", s) for m, s in scores.items()}, indent=1))


if __name__ == "__main__":
    main()
