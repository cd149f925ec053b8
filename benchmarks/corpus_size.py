"""Pseudo-label quality against pretraining corpus size: how much of the real action a latent action carries.

    python -m benchmarks.corpus_size --profile cpu --video data/expert90 [--sizes 0,41,83,167] [--lam px128]

Trains the IDM/FDM (the profile's latent action model, same steps and batch) on nested random subsets of the
action-free corpus's clips; the full corpus reuses the shared stage a bench cell trained (same key). Size 0 is
the untrained IDM, the floor. Each IDM then labels target-suite demos (which have actions) at the labelling
gap, and a ridge probe, fit on the first demos of each task and scored on the rest, predicts the action summed
over the gap (position, rotation, gripper) from z: held-out R^2 per group. The FDM's reconstruction of the
later frame on those demos, against copying the first frame, says whether what it learnt transfers to the
target scenes. `--lam` swaps the profile's IDM/FDM for a named variant (bigger input, wider/deeper) to ask whether
model size rather than corpus size limits the labels; `--seed` retrains with another initialisation and sampling
seed, for the run-to-run spread. Writes results/diagnosis/corpus_size_<suite>[_<variant>][_seed<S>].json.
Trains what is missing (resumable).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor

from hilam.atomic import write_json
from hilam.data.dataset import DatasetConfig, DemoDataset, resize_images
from hilam.data.video import demo_clips
from hilam.confighash import config_hash
from hilam.method.config import LAM_VARIANTS, preset
from hilam.method.latent_actions import FrameStore, LatentActionObjective, PairSource, label_clip
from hilam.method.policies import VIDEO_CAMERA
from hilam.method.stages import SharedStages
from hilam.policy_io import images_to_tensor
from hilam.profiles import get_profile
from hilam.provenance import provenance
from hilam.train import brief, train

OUT = "results/diagnosis"
GROUPS = {"position": slice(0, 3), "rotation": slice(3, 6), "gripper": slice(6, 7)}


def gap_actions(actions: np.ndarray, steps: np.ndarray, gap: int) -> np.ndarray:
    """Each step's actions summed over the next `gap` control steps of its demo (the motion z should encode)."""
    csum = np.concatenate([np.zeros((1, actions.shape[1]), actions.dtype), np.cumsum(actions, 0)])
    return csum[np.minimum(steps + gap, len(actions))] - csum[steps]


def demo_features(lam: LatentActionObjective, frames: np.ndarray, actions: np.ndarray, proprio: np.ndarray,
                  stride: int, gap_frames: int) -> dict[str, np.ndarray]:
    """One demo: latent actions at the labelling gap, the actions they span, the proprio change over the same
    span (the reference a motion descriptor could reach), and FDM/copy reconstruction errors."""
    z = label_clip(lam.idm, frames, gap_frames)
    later = np.minimum(np.arange(len(frames)) + gap_frames, len(frames) - 1)
    with torch.no_grad():
        first, target = images_to_tensor(frames, "cpu"), images_to_tensor(frames[later], "cpu")
        fdm = ((lam.fdm(first, torch.as_tensor(z)) - target) ** 2).mean((1, 2, 3)).numpy()
        copy = ((first - target) ** 2).mean((1, 2, 3)).numpy()
    steps = np.arange(len(frames)) * stride
    return {"z": z, "y": gap_actions(actions, steps, gap_frames * stride), "fdm": fdm, "copy": copy,
            "proprio_change": proprio[np.minimum(steps + gap_frames * stride, len(proprio) - 1)] - proprio[steps]}


def probe(train: list[dict], test: list[dict], key: str = "z") -> dict[str, dict[str, float]]:
    """Held-out R^2 of a linear (ridge) and a one-hidden-layer MLP probe `key` -> summed actions, per action
    group and over all seven dimensions (features and targets standardised on the probe's own demos)."""
    cat = lambda ds, k: np.concatenate([d[k] for d in ds])  # noqa: E731
    x, y = cat(train, key), cat(train, "y")
    x_mean, x_std, y_mean, y_std = x.mean(0), x.std(0) + 1e-6, y.mean(0), y.std(0) + 1e-6
    x, y = (x - x_mean) / x_std, (y - y_mean) / y_std
    x_test, y_test = (cat(test, key) - x_mean) / x_std, (cat(test, "y") - y_mean) / y_std
    out = {}
    mlp = MLPRegressor(hidden_layer_sizes=(256,), max_iter=300, early_stopping=True, random_state=0)
    for name, model in (("linear", RidgeCV(alphas=np.logspace(-3, 3, 13))), ("mlp", mlp)):
        pred = model.fit(x, y).predict(x_test)
        out[name] = {"all": float(r2_score(y_test, pred))} | {g: float(r2_score(y_test[:, s], pred[:, s]))
                                                               for g, s in GROUPS.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--video", default="data/video")
    ap.add_argument("--sizes", default="", help="clip counts, comma-separated; default 0, 1/4, 1/2 and all")
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--frac", type=float, default=0.1, help="target demos to probe on")
    ap.add_argument("--probe-train", type=int, default=3, help="demos per task the probe fits on; the rest score it")
    ap.add_argument("--lam", default="profile", choices=list(LAM_VARIANTS), help="IDM/FDM variant to train")
    ap.add_argument("--seed", type=int, default=0,
                    help="IDM/FDM initialisation and sampling seed; the bench cells' shared stage is seed 0")
    ap.add_argument("--out", default=OUT, help="another folder keeps a run on another corpus apart")
    a = ap.parse_args()
    shared = preset(get_profile(a.profile).scale).shared
    shared.lam = replace(shared.lam, **LAM_VARIANTS[a.lam])
    shared.place("runs", a.video)
    stages = SharedStages(shared)  # seed 0: the bench cells' shared stages
    own_seed = a.seed != stages.seed  # another seed trains its own full-corpus IDM and names its own file
    clips = stages.clips()
    sizes = [int(s) for s in a.sizes.split(",")] if a.sizes else [0, len(clips) // 4, len(clips) // 2, len(clips)]
    if max(sizes) > len(clips) or min(sizes) < 0:
        raise SystemExit(f"--sizes {sizes}: the corpus under {a.video} has {len(clips)} clips")
    order = np.random.default_rng(0).permutation(len(clips))  # nested subsets: each size adds clips

    data = DemoDataset(DatasetConfig(suite=a.suite, frac=a.frac, image_size=0))
    stride, size = shared.video.stride, shared.lam.image_size
    no_text = [""] * len(data.demo_lengths)
    frames = demo_clips(resize_images(data.images[VIDEO_CAMERA], size), data.demo_lengths, no_text, stride)
    rank = data.demo_ranks()
    if a.probe_train < 1 or not (rank >= a.probe_train).any():
        raise SystemExit(f"--frac {a.frac} gives at most {rank.max() + 1} demos per task; the probe needs more than "
                         f"--probe-train {a.probe_train}")

    rows = []
    for n in sizes:
        subset = [clips[i] for i in sorted(order[:n])]
        torch.manual_seed(a.seed)  # the same initialisation at every size (size 0 keeps it)
        lam = LatentActionObjective(shared.lam, FrameStore(subset or clips[:1]), stride)  # size 0 draws no pairs
        summary = None
        if n == len(clips) and not own_seed:
            out_dir = stages.lam_dir()  # the stage bench cells share
        else:
            key = config_hash(shared.video.key(), sorted(order[:n].tolist()), shared.lam, shared.lam_train, a.seed)
            out_dir = Path(shared.root) / "corpus_size" / f"lam-{n}clips-{key}"
        if n:
            summary = brief(train(lam, PairSource(lam), replace(shared.lam_train, seed=a.seed), out_dir,
                                  extra_state={"stage": "lam"}))
        lam.eval()
        feats = [demo_features(lam, c.frames, data.actions[s:s + n_steps], data.proprio[s:s + n_steps], stride,
                               stages.gap_frames) for c, s, n_steps in zip(frames, data.demo_starts, data.demo_lengths)]
        fit = [f for f, r in zip(feats, rank) if r < a.probe_train]
        test = [f for f, r in zip(feats, rank) if r >= a.probe_train]
        rows.append({"clips": n, "frames": int(sum(len(c.frames) for c in subset)),
                     "dir": str(out_dir) if n else None, "train": summary,
                     "probe_r2_heldout": probe(fit, test),
                     "fdm_mse": float(np.mean(np.concatenate([f["fdm"] for f in test]))),
                     "copy_mse": float(np.mean(np.concatenate([f["copy"] for f in test])))})
        print(json.dumps(rows[-1] | {"train": None}))
    reference = probe(fit, test, "proprio_change")  # the IDM-free reference: the arm's own motion over the gap
    command = (f"python -m benchmarks.corpus_size --profile {a.profile} --video {a.video}"
               + (f" --sizes {a.sizes}" if a.sizes else "") + (f" --lam {a.lam}" if a.lam != "profile" else "")
               + (f" --seed {a.seed}" if own_seed else "") + (f" --out {a.out}" if a.out != OUT else ""))
    name = (f"corpus_size_{a.suite}" + (f"_{a.lam}" if a.lam != "profile" else "")
            + (f"_seed{a.seed}" if own_seed else ""))
    write_json(Path(a.out) / f"{name}.json",
               {"suite": a.suite, "frac": a.frac, "lam_variant": a.lam, "lam": asdict(shared.lam),
                "seed": a.seed, "parameters": sum(p.numel() for p in lam.parameters()),
                "probe_train_demos_per_task": a.probe_train,
                "probe_demos": int((rank < a.probe_train).sum()), "scored_demos": int((rank >= a.probe_train).sum()),
                "gap_steps": stages.gap_frames * stride, "corpus_clips": len(clips), "rows": rows,
                "reference_proprio_change_r2_heldout": reference,
                "command": command} | provenance())


if __name__ == "__main__":
    main()
