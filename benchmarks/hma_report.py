"""HMA world model of a suite: train the tokenizer and the dynamics model on its rendered demos, measure the
world model on held-out demos (the last demo of each task), and use it as a simulator for policies.

    python -m benchmarks.hma_report --suite libero_object --frac 1.0 --profile cpu \
        --cells results/runs/libero_object/baku/frac1-seed0-cpu.json --episodes-per-task 5

Needs rendered demos (`hilam bench` or `hilam generate` makes them). Writes results/hma/<suite>.json
(PSNR, SSIM, controllability dPSNR, generation speed beside the simulator's render rate, the success judge's
accuracy) and results/hma/<suite>.png (generated and true frames of a few held-out windows). With --cells, each
kept checkpoint of those cells (`hilam bench --keep-every N`) is evaluated in the real simulator and in the
world model from the same init states, and the Spearman correlation of the two success rates is reported.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import numpy as np

from baselines.hma.config import HMAConfig, preset
from baselines.hma.run import Demo, episodes_from_demos, evaluate, fit
from baselines.hma.simulator import (
    WorldModelSim,
    evaluate_in_world_model,
    first_observations,
)
from baselines.hma.success import SuccessJudge, fit_judge, judge_accuracy
from baselines.hma.tokenizer import reconstruct
from hilam.atomic import write_json
from hilam.bench import CellConfig, prepare_cell
from hilam.data.dataset import proprio_of, resize_images, selected_demos
from hilam.envs.suites import resolve_suite, task_specs
from hilam.evaluate import EvalConfig, Journal, plan_episodes
from hilam.evaluate import evaluate as evaluate_real
from hilam.methods import Method
from hilam.profiles import get_profile
from hilam.provenance import provenance
from hilam.confighash import config_hash


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


def simulator_frames_per_s(stride: int, cameras: int, path: Path = Path("results/benchmarks/eval_throughput.json")
                           ) -> dict | None:
    """What one world-model frame costs the real simulator on this CPU: `stride` physics steps and a render of
    each camera."""
    if not path.exists():
        return None
    raw = json.loads(path.read_text())["raw"]
    ms = stride * raw["physics_step_ms"] + cameras * raw["render_per_camera_ms"]
    return {"frames_per_s": 1000.0 / ms, "source": str(path), "ms_per_frame": ms, "cameras": cameras}


def load_demos(data: str, suite: str, frac: float, cameras: tuple[str, ...], size: int) -> list[Demo]:
    """The demos --frac selects of every task (more rendered demos do not change them), views at `size` px."""
    return [Demo(np.stack([resize_images(d.obs[c], size) for c in cameras], 1), d.actions, proprio_of(d.obs),
                 task.task_id) for task in task_specs(suite) for d in selected_demos(data, suite, task, frac)]


def kept_policies(cells: list[str]) -> Iterator[tuple[str, CellConfig, Path, int, bool, Method]]:
    """(label, cell, run directory, step, is it the cell's last checkpoint, the method with that step's weights)
    for every kept checkpoint of these results cells; each cell's data and method are loaded once."""
    for path in cells:
        cell = CellConfig(**{**json.loads(Path(path).read_text())["cell_config"], "force": False})
        cell.tasks = tuple(cell.tasks)
        data, method, run_dir, _ = prepare_cell(cell)
        method.fit(data, run_dir, cell.seed)  # finished: loads the last checkpoint
        kept = method.checkpoints(run_dir)
        for step, checkpoint in kept.items():
            method.restore(checkpoint)
            yield f"{cell.method} frac {cell.frac:g} seed {cell.seed} step {step}", cell, run_dir, step, \
                step == max(kept), method


def evaluate_policies(cfg: HMAConfig, sim: WorldModelSim, judge: SuccessJudge, cells: list[str], suite: str,
                      episodes_per_task: int, workers: int, tasks: tuple[int, ...] = ()) -> dict:
    """Real-simulator and world-model success of each kept checkpoint, from the same init states, and the
    Spearman correlation between them. Real evaluations are journalled beside the checkpoints (resumable)."""
    from scipy.stats import spearmanr

    rows, firsts = [], {}
    for label, cell, run_dir, step, last, method in kept_policies(cells):
        # the cell's own evaluation already ran its last checkpoint's episodes
        journal = run_dir / ("eval_journal.jsonl" if last else f"eval_step{step}.jsonl")
        ev_cfg = EvalConfig(suite=suite, episodes_per_task=episodes_per_task, tasks=tasks or cell.tasks,
                            workers=workers, seed=cell.seed, journal=str(journal),
                            render_mode=cell.configured().profile.render_mode)  # as the cell's demos are drawn
        real = evaluate_real(method.policy(), ev_cfg)
        if cell.seed not in firsts:
            firsts[cell.seed] = first_observations(ev_cfg)
        wm = evaluate_in_world_model(method.policy(), sim, judge, firsts[cell.seed], real["protocol"]["max_steps"])
        rows.append({"policy": label, "run_dir": str(run_dir), "step": step,
                     "real": {k: real[k] for k in ("success_rate", "ci95", "episodes")} | {"journal": str(journal)},
                     "world_model": {k: v for k, v in wm.items() if k != "outcomes"},
                     "episode_agreement": float(np.mean([o["success"] == w for o, w in
                                                         zip(real_outcomes(ev_cfg), wm["outcomes"])]))})
        print(f"[hma] {label}: real {real['success_rate']:.2f}, world model {wm['success_rate']:.2f}")
    real_rates = [r["real"]["success_rate"] for r in rows]
    wm_rates = [r["world_model"]["success_rate"] for r in rows]
    rho, p = spearmanr(real_rates, wm_rates) if len(rows) > 2 else (float("nan"), float("nan"))
    return {"policies": rows, "spearman": float(rho), "spearman_p": float(p), "episodes_per_task": episodes_per_task,
            "protocol": "same official init states and seeds in both; the world model moves "
                        f"{cfg.dynamics.frame_stride} control steps per frame, so the policy acts that many times "
                        "on each generated observation; "
                        f"success = the judge's probability > {cfg.judge.threshold} on any generated frame"}


def real_outcomes(cfg: EvalConfig) -> list[dict]:
    """The journalled episodes of a finished evaluation, in the order `plan_episodes` gives them."""
    done = Journal(cfg.journal, cfg).done
    return [done[(ep.task.task_id, ep.index)] for ep in plan_episodes(cfg)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--data", default="data/demos")
    ap.add_argument("--frac", type=float, default=0.1, help="data fraction of each task's demos to use")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--out", default="results/hma")
    ap.add_argument("--cells", nargs="*", default=[], help="results cells whose kept checkpoints to evaluate")
    ap.add_argument("--episodes-per-task", type=int, default=5, help="per checkpoint, in both simulators")
    ap.add_argument("--workers", type=int, default=0, help="real-simulator evaluation workers (0: CPU cores)")
    ap.add_argument("--tasks", type=int, nargs="*", default=[], help="evaluate policies on these tasks only")
    a = ap.parse_args()
    origin = provenance()  # before the long run, so edits to the tree meanwhile cannot mislabel it
    suite = resolve_suite(a.suite).name
    cfg = preset(get_profile(a.profile).scale)
    demos = load_demos(a.data, suite, a.frac, cfg.cameras, cfg.tokenizer.image_size)
    episodes = episodes_from_demos(demos, cfg)
    # the judge is keyed on its own below: changing it retrains neither the tokenizer nor the dynamics
    run_dir = Path(a.runs) / suite / "hma" / f"{a.profile}-{config_hash(replace(cfg, judge=None), len(demos))}"
    tok, model, training = fit(cfg, episodes, run_dir)
    metrics, examples = evaluate(cfg, tok, model, episodes)
    tasks = len(task_specs(suite))
    train_demos = [d for d, e in zip(demos, episodes) if not e.test]
    test_demos = [d for d, e in zip(demos, episodes) if e.test]
    tokenized = partial(reconstruct, tok)  # real frames as the world model's tokenizer renders them
    judge, judge_training = fit_judge(cfg, train_demos, tasks, run_dir / f"judge-{config_hash(cfg.judge)}",
                                      reconstruct=tokenized)
    judge_report = judge_training | {"held_out_real_frames": judge_accuracy(judge, test_demos, cfg, tasks),
                                     "held_out_tokenized_frames": judge_accuracy(judge, test_demos, cfg, tasks,
                                                                                 tokenized)}
    out = {"suite": suite, "profile": a.profile,
           "command": f"python -m benchmarks.hma_report --suite {suite} --frac {a.frac:g} --profile {a.profile}"
                      + (f" --cells {' '.join(a.cells)} --episodes-per-task {a.episodes_per_task}" if a.cells else ""),
           "config": asdict(cfg), "run_dir": str(run_dir),
           "data": {"demos": len(demos), "train_episodes": len(train_demos), "test_episodes": len(test_demos),
                    "train_frames": int(sum(len(e.frames) for e in episodes if not e.test))},
           "parameters": {"tokenizer": sum(p.numel() for p in tok.parameters()),
                          "dynamics": sum(p.numel() for p in model.parameters())},
           "training": training, "metrics": metrics, "success_judge": judge_report,
           "simulator": simulator_frames_per_s(cfg.dynamics.frame_stride, len(cfg.cameras))}
    if a.cells:
        sim = WorldModelSim(cfg, tok, model)
        out["policy_evaluation"] = evaluate_policies(cfg, sim, judge, a.cells, suite, a.episodes_per_task, a.workers,
                                                  tuple(a.tasks))
    out |= origin
    write_json(Path(a.out) / f"{suite}.json", out)
    strip(Path(a.out) / f"{suite}.png", examples)
    print(json.dumps({k: metrics[k] for k in ("true_actions", "other_actions", "delta_psnr_controllability",
                                              "tokenizer_reconstruction", "copy_first_frame")}, indent=1))
    if a.cells:
        print(json.dumps({k: out["policy_evaluation"][k] for k in ("spearman", "spearman_p")}))

if __name__ == "__main__":
    main()
