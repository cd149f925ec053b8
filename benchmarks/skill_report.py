"""Skill statistics and a boundary strip for a suite's demos, from HiLAM's trained shared stages.

    python benchmarks/skill_report.py --suite libero_10 --frac 0.1 --profile cpu

Loads (never retrains: it stops if the stages are missing) the IDM and H-Net that `hilam bench` trained for
the profile, labels every selected demo's agentview frames, and writes
results/skills/<suite>.json (segment lengths per level, overall and per task) and
results/skills/<suite>.png (a few demos: frames along time, stage-1 and stage-2 segments beneath).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hilam.atomic import write_json
from hilam.data.dataset import DatasetConfig, DemoDataset, resize_images
from hilam.data.video import demo_clips
from hilam.envs.suites import resolve_suite
from hilam.hierarchy import VIDEO_CAMERA, segment_lengths
from hilam.profiles import get_profile
from hilam.provenance import provenance
from hilam.stages import SharedStages


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--frac", type=float, default=0.1)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--data", default="data/demos")
    ap.add_argument("--video", default="data/video")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--out", default="results/skills")
    a = ap.parse_args()
    suite = resolve_suite(a.suite).name
    profile = get_profile(a.profile)
    shared = profile.hilam.shared
    shared.root, shared.video.root, shared.video.states_root = str(Path(a.runs) / "shared"), a.video, a.video
    stages = SharedStages(shared)
    for d in (stages.lam_dir(), stages.skills_dir()):
        if not (d / "latest").exists():
            raise SystemExit(f"{d}: no trained stage; run `hilam bench --methods hilam --profile {a.profile}` first")
    stages.fit()  # loads the finished checkpoints
    data = DemoDataset(DatasetConfig(root=a.data, suite=suite, frac=a.frac, image_size=shared.lam.image_size))
    stride = shared.video.stride
    starts = np.concatenate([[0], np.cumsum(data.demo_lengths)[:-1]])
    langs = [data.instructions[data.task[s]] for s in starts]
    clips = demo_clips(resize_images(data.images[VIDEO_CAMERA], shared.lam.image_size), data.demo_lengths, langs, stride)
    labels = [stages.label(c.frames) for c in clips]
    out = {"suite": suite, "frac": a.frac, "profile": a.profile, "demos": len(clips), "stride": stride,
           "command": f"python benchmarks/skill_report.py --suite {suite} --frac {a.frac:g} --profile {a.profile}",
           "levels": {}, "per_task": {}}
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
    out |= provenance()
    write_json(Path(a.out) / f"{suite}.json", out)
    seen, rows = set(), []
    for c, lb in zip(clips, labels):
        if c.language not in seen and len(rows) < a.rows:
            seen.add(c.language)
            rows.append((c.language, c.frames, lb.boundaries))
    strip(Path(a.out) / f"{suite}.png", rows, stride)
    print({k: v for k, v in out["levels"].items()})


if __name__ == "__main__":
    main()
