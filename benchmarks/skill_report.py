"""Skill statistics and a boundary strip for a suite's demos, from HiLAM's trained shared stages.

    python benchmarks/skill_report.py --suite libero_10 --frac 0.1 --profile cpu [--method hilam]

Loads (never retrains: it stops if the stages are missing) the IDM and H-Net that `hilam bench` trained for
the profile, labels every selected demo's agentview frames, and writes
results/skills/<suite>.json (segment lengths per level, overall and per task; boundary scores against the
ground-truth subtask boundaries from predicate replay, beside a fixed-length chunking of the same mean length) and
results/skills/<suite>.png (a few demos: frames along time, stage-1 and stage-2 segments beneath).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hilam.atomic import write_json
from hilam.data.dataset import resize_images
from hilam.envs.suites import resolve_suite
from hilam.method.policies import VIDEO_CAMERA, segment_lengths
from hilam.method.stages import SharedStages
from hilam.methods import configure
from hilam.profiles import get_profile
from hilam.provenance import provenance


def strip(path: Path, rows: list[tuple[str, np.ndarray, dict[int, np.ndarray]]], stride: int, thumbs: int = 10) -> None:
    """One row per demo: `thumbs` frames evenly along time, then the stage-1 and stage-2 segments as coloured bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2 * len(rows), 1, figsize=(12, 2.2 * len(rows)),
                             gridspec_kw={"height_ratios": [3, 1] * len(rows)})
    for r, (title, frames, bounds) in enumerate(rows):
        T = len(frames)
        pick = np.linspace(0, T - 1, thumbs).astype(int)
        ax = axes[2 * r]
        ax.imshow(np.concatenate([frames[i] for i in pick], 1))
        ax.set_title(title, fontsize=8, loc="left")
        ax.axis("off")
        ax = axes[2 * r + 1]
        for lv, y in ((1, 1), (2, 0)):
            starts = np.flatnonzero(bounds[lv])
            ends = np.append(starts[1:], T)
            for j, (s, e) in enumerate(zip(starts, ends)):
                ax.barh(y, (e - s) * stride, left=s * stride, color=plt.cm.tab20(j % 20), edgecolor="k", linewidth=0.3)
        ax.set_yticks([0, 1], ["stage 2 (skills)", "stage 1"], fontsize=7)
        ax.set_xlim(0, T * stride)
        ax.set_xlabel("control step", fontsize=7)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def demos_of(suite: str, root: str, frac: float) -> list[dict]:
    """The demos a fraction selects, per task in suite order: agentview frames, states, task."""
    from hilam.data.dataset import selected_demos
    from hilam.envs.suites import task_specs

    return [{"task": task, "frames": d.obs[VIDEO_CAMERA], "states": d.states}
            for task in task_specs(suite) for d in selected_demos(root, suite, task, frac)]


def key_step_scores(demos: list[dict], labels, stride: int) -> dict:
    """HiLAM's boundaries (stage 1, stage 2) and a fixed-length chunking of the same mean length, scored against
    the ground-truth subtask boundaries from predicate replay."""
    from hilam.envs.libero_env import LiberoEnv
    from hilam.keysteps import fixed_boundaries, key_steps, predicate_trace, score, subtask_boundaries

    true, envs = [], {}
    for d in demos:
        env = envs.setdefault(d["task"].name, LiberoEnv(d["task"], render=False))
        _, table = predicate_trace(env, d["states"], ended_in_success=True)  # every demo ends in success
        true.append(subtask_boundaries(key_steps(table), len(d["states"])))
    for env in envs.values():
        env.close()
    out = {"true_boundaries_per_demo": float(np.mean([len(t) for t in true]))}
    for lv in (1, 2):
        pred = [[int(i) * stride for i in np.flatnonzero(lb.boundaries[lv]) if i > 0] for lb in labels]
        mean_len = float(np.mean(segment_lengths([lb.boundaries[lv] for lb in labels], stride)))
        fixed = [fixed_boundaries(len(d["states"]), mean_len) for d in demos]
        for name, p in ((f"hilam_stage{lv}", pred), (f"fixed_every_{mean_len:.0f}_steps", fixed)):
            sc = score(p, true)
            out[name] = {"f1_tol5": sc.f1[5], "f1_tol10": sc.f1[10], "mean_abs_error_steps": sc.mean_abs_error,
                         "segment_count_accuracy": sc.count_accuracy,
                         "boundaries_per_demo": float(np.mean([len(x) for x in p]))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--frac", type=float, default=0.1)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--method", default="hilam", help="the HiLAM variant whose shared stages to load")
    ap.add_argument("--data", default="data/demos")
    ap.add_argument("--video", default="data/video")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--out", default="results/skills")
    a = ap.parse_args()
    suite = resolve_suite(a.suite).name
    profile = get_profile(a.profile)
    shared = configure(a.method, profile).cfg.shared
    shared.place(a.runs, a.video)
    stages = SharedStages(shared)
    for d in (stages.lam_dir(), stages.skills_dir()):
        if not (d / "latest").exists():
            raise SystemExit(f"{d}: no trained stage; run `hilam bench --methods {a.method} --profile {a.profile}` first")
    stages.fit()  # loads the finished checkpoints
    stride = shared.video.stride
    demos = demos_of(suite, a.data, a.frac)
    frames = [resize_images(d["frames"][::stride], shared.lam.image_size) for d in demos]
    labels = [stages.label(f) for f in frames]
    langs = [d["task"].language for d in demos]
    out = {"suite": suite, "frac": a.frac, "profile": a.profile, "method": a.method, "demos": len(demos),
           "stride": stride, "command": f"python benchmarks/skill_report.py --suite {suite} --frac {a.frac:g} "
                                        f"--profile {a.profile} --method {a.method} --out {a.out}",
           "shared_stages": [str(stages.lam_dir()), str(stages.skills_dir())], "levels": {}, "per_task": {}}
    for lv in (1, 2):
        L = segment_lengths([lb.boundaries[lv] for lb in labels], stride)
        per_demo = [int(lb.boundaries[lv].sum()) for lb in labels]
        out["levels"][f"level{lv}"] = {"mean_length_steps": float(L.mean()), "std_length_steps": float(L.std()),
                                       "median_length_steps": float(np.median(L)), "segments": int(len(L)),
                                       "segments_per_demo_mean": float(np.mean(per_demo))}
    for lang in dict.fromkeys(langs):
        mine = [lb for lb, l in zip(labels, langs) if l == lang]
        out["per_task"][lang] = {f"level{lv}_segments_per_demo": float(np.mean([lb.boundaries[lv].sum() for lb in mine]))
                                 for lv in (1, 2)} | {"demo_length_steps": float(np.mean([len(lb.latent) * stride for lb in mine]))}
    out["key_steps"] = key_step_scores(demos, labels, stride)
    out |= provenance()
    write_json(Path(a.out) / f"{suite}.json", out)
    seen, rows = set(), []
    for f, lang, lb in zip(frames, langs, labels):
        if lang not in seen and len(rows) < a.rows:
            seen.add(lang)
            rows.append((lang, f, lb.boundaries))
    strip(Path(a.out) / f"{suite}.png", rows, stride)
    print(json.dumps({"levels": out["levels"], "key_steps": out["key_steps"]}, indent=1))


if __name__ == "__main__":
    main()
