"""HMA world model of a suite: train the tokenizer and the dynamics model on its rendered demos and measure
the world model on held-out demos (the last demo of each task).

    python benchmarks/hma_report.py --suite libero_10 --profile cpu

Needs rendered demos (`hilam bench` or `hilam generate` makes them). Writes results/hma/<suite>.json
(PSNR, SSIM, controllability dPSNR, generation speed beside the simulator's render rate) and
results/hma/<suite>.png (generated and true frames of a few held-out windows).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from baselines.hma.config import preset
from baselines.hma.run import episodes_from_demos, evaluate, fit
from hilam.atomic import write_json
from hilam.data.fractions import select_demos
from hilam.data.schema import read_task_file, task_file
from hilam.envs.suites import resolve_suite, task_specs
from hilam.provenance import provenance
from hilam.stages import config_hash


def strip(path: Path, examples: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Per example window two rows: generated frames, then the true ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2 * len(examples), 1, figsize=(12, 1.4 * 2 * len(examples)))
    for i, (gen, true) in enumerate(examples):
        for r, (name, frames) in enumerate((("world model", gen), ("simulator", true))):
            ax = axes[2 * i + r]
            ax.imshow(np.concatenate(list(frames), 1))
            ax.set_title(f"window {i}: {name}", fontsize=7, loc="left")
            ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def simulator_frames_per_s(stride: int, path: Path = Path("results/benchmarks/eval_throughput.json")) -> dict | None:
    """What one world-model frame costs the real simulator on this CPU: `stride` physics steps and one camera."""
    if not path.exists():
        return None
    raw = json.loads(path.read_text())["raw"]
    ms = stride * raw["physics_step_ms"] + raw["render_per_camera_ms"]
    return {"frames_per_s": 1000.0 / ms, "source": str(path), "ms_per_frame": ms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--data", default="data/demos")
    ap.add_argument("--frac", type=float, default=0.1, help="data fraction of each task's demos to use")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--out", default="results/hma")
    a = ap.parse_args()
    suite = resolve_suite(a.suite).name
    cfg = preset(a.profile)
    demos = []
    for task in task_specs(suite):  # the demos --frac selects: more rendered demos do not change the data
        td = read_task_file(task_file(a.data, suite, task.name))
        by_id = dict(zip(td.demo_ids, td.demos))
        demos += [(by_id[i].obs[cfg.camera], by_id[i].actions, task.task_id)
                  for i in select_demos(task.name, int(td.attrs.get("pool_size", len(td.demos))), a.frac)]
    episodes = episodes_from_demos(demos, cfg)
    run_dir = Path(a.runs) / suite / "hma" / f"{a.profile}-{config_hash(cfg, len(demos))}"
    tok, model, training = fit(cfg, episodes, run_dir)
    metrics, examples = evaluate(cfg, tok, model, episodes)
    out = {"suite": suite, "profile": a.profile,
           "command": f"python benchmarks/hma_report.py --suite {suite} --frac {a.frac:g} --profile {a.profile}",
           "config": asdict(cfg), "run_dir": str(run_dir),
           "data": {"demos": len(demos), "train_episodes": sum(not e.test for e in episodes),
                    "test_episodes": sum(e.test for e in episodes),
                    "train_frames": int(sum(len(e.frames) for e in episodes if not e.test))},
           "parameters": {"tokenizer": sum(p.numel() for p in tok.parameters()),
                          "dynamics": sum(p.numel() for p in model.parameters())},
           "training": training, "metrics": metrics,
           "simulator": simulator_frames_per_s(cfg.dynamics.frame_stride)}
    out |= provenance()
    write_json(Path(a.out) / f"{suite}.json", out)
    strip(Path(a.out) / f"{suite}.png", examples)
    print(json.dumps({k: metrics[k] for k in ("true_actions", "other_actions", "delta_psnr_controllability",
                                              "tokenizer_reconstruction", "copy_first_frame")}, indent=1))


if __name__ == "__main__":
    main()
