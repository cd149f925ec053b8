"""Measure the motion tokenizer on real LIBERO-90 end-effector trajectories: part-level grouped residual VQ
against the flat-VQ ablation, round-trip error on held-out episodes in mm / degrees, next to the error of
holding the first pose. Replayed trajectories are cached (keyed like the method's); prints JSON.

    python -m baselines.being_h0.tokenizer_report --profile cpu --steps 1500 --out /tmp/tokenizer.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from baselines.being_h0.corpus import Episode, WindowSource, corpus_tasks, task_motion
from baselines.being_h0.geometry import rotation_angle_deg
from baselines.being_h0.shared import split_episodes
from baselines.being_h0.tokenizer import PartMotionTokenizer, reconstruction_error
from hilam.data.video import VideoCorpusConfig
from hilam.methods import configure
from hilam.train import train


def hold_still_error(windows: np.ndarray) -> dict[str, float]:
    """The error of predicting that the wrist keeps its first pose for the whole window."""
    x = torch.as_tensor(windows)
    still = x[:, :1].expand_as(x)
    return {"position_mm_mean": float(torch.linalg.norm(still[..., :3] - x[..., :3], dim=-1).mean() * 1000),
            "rotation_deg_mean": float(rotation_angle_deg(still[..., 3:9], x[..., 3:9]).mean())}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--steps", type=int, default=0, help="tokenizer training steps (0 = the preset's)")
    ap.add_argument("--states-root", default="data/video", help="where the LIBERO-90 state episodes are cached")
    ap.add_argument("--cache", default="runs/shared", help="where replayed trajectories are cached")
    ap.add_argument("--episodes-per-task", type=int, default=2)
    ap.add_argument("--task-stride", type=int, default=1, help="every n-th LIBERO-90 task")
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    video = VideoCorpusConfig(suite="libero_90", states_root=a.states_root, episodes_per_task=a.episodes_per_task,
                              tasks=tuple(range(0, 90, a.task_stride)))
    episodes = [Episode(np.zeros(0), m, t.language) for t in corpus_tasks(video)
                if (Path(a.states_root) / t.suite / "states" / f"{t.name}.npz").exists()
                for m in task_motion(video, t, a.cache)]
    train_eps, held = split_episodes(episodes)
    report = {"episodes": len(episodes), "steps": int(sum(len(e.motion) for e in episodes)),
              "heldout_episodes": 0 if held is episodes else len(held),  # 0: too few episodes, errors are on train
              "variants": {}}
    for name in ("being_h0", "being_h0_flatvq"):
        cfg = configure(name, a.profile).cfg
        tcfg = replace(cfg.tokenizer_train, steps=a.steps or cfg.tokenizer_train.steps)
        windows = WindowSource(train_eps, cfg.tokenizer.window, cfg.trajectory_stride)
        held_windows = WindowSource(held, cfg.tokenizer.window, cfg.tokenizer.window).windows
        torch.manual_seed(0)
        tok = PartMotionTokenizer(cfg.tokenizer, cfg.part_level)
        tok.set_stats(windows.windows)
        with tempfile.TemporaryDirectory() as tmp:
            s = train(tok, windows, tcfg, tmp)
        report["variants"][name] = {"train_steps": s["steps"], "train_seconds": s["seconds"],
                                    "final_loss": s["final_loss"], "tokens_per_window": tok.tokens_per_window,
                                    "train_windows": len(windows), "heldout": reconstruction_error(tok, held_windows),
                                    "hold_still": hold_still_error(held_windows)}
    text = json.dumps(report, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text)
    return report


if __name__ == "__main__":
    main()
