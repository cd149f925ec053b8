"""How much the latent actions carry: FDM reconstruction of I_{t+k} from (I_t, z) against two references.

    python benchmarks/latent_quality.py --profile cpu [--method hilam --video data/video --out results/diagnosis/video177/latent_quality.json]

On held-in corpus pairs at the labelling gap: MSE of (a) copying I_t (no motion at all), (b) the FDM
with the true z = IDM(I_t, I_{t+k}), (c) the FDM with z taken from another random pair. (b) well
below (a) and (c) means z encodes the change between the frames; (b) close to (c) means the FDM
ignores z. Where the skill stage is trained too: how well its prediction of the latent `offset` steps ahead (the
H-Net's main loss; offset 1 for the paper's next latent, the labelling gap for `SkillConfig.target = "next_window"`)
does against copying the latent `offset` steps back (for offset 1 the two IDM windows share all but one frame).
`--method` picks a HiLAM variant's stages (e.g. hilam_widelam, hilam_ahead). Writes results/skills/latent_quality.json.
Loads the trained stages; `--fit` trains those that are missing first (the bench's own stage training).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hilam.atomic import write_json
from hilam.method.latent_actions import FrameStore, LatentActionObjective
from hilam.method.stages import SharedStages
from hilam.methods import configure
from hilam.policy_io import images_to_tensor
from hilam.provenance import provenance
from hilam.train import _latest, finished


@torch.no_grad()
def next_latent_l1(stages: SharedStages) -> dict:
    """Mean L1 (standardised units) of predicting each corpus latent from those before it: the skill model (at its
    own target offset), copying the latent that many steps back, and the mean (zero); and copying the latent o frames
    back, o = 1..gap, which shows how much of the copy's success is the overlap of the IDM windows (they share
    gap - o frames)."""
    stages.fit()  # both stages are finished: this loads them and labels the corpus
    off = stages.cfg.skills.target_offset(stages.gap_frames)
    errs: dict[str, list] = {"skill_model": [], "mean": []}
    back = {o: [] for o in range(1, stages.gap_frames + 1)}
    for i in range(len(stages.latent_stats.latents)):
        z = torch.as_tensor(stages.latent_stats.standardised(i))[None]
        pred, _ = stages.skill_model(z, torch.ones(z.shape[:2], dtype=torch.bool))
        errs["skill_model"].append((pred[0, :-off] - z[0, off:]).abs().mean(1))
        errs["mean"].append(z[0, off:].abs().mean(1))
        for o in back:
            back[o].append((z[0, :-o] - z[0, o:]).abs().mean(1))
    back_l1 = {o: float(torch.cat(v).mean()) for o, v in back.items()}
    return {k: float(torch.cat(v).mean()) for k, v in errs.items()} | {
        "target": stages.cfg.skills.target, "target_offset": off, "copy_at_offset": back_l1[off],
        "copy_previous": back_l1[1], "copy_back_frames": back_l1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--method", default="hilam", help="the HiLAM variant whose shared stages to load")
    ap.add_argument("--fit", action="store_true", help="train missing stages first")
    ap.add_argument("--video", default="data/video")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--pairs", type=int, default=1024)
    ap.add_argument("--out", default="results/skills/latent_quality.json")
    a = ap.parse_args()
    shared = configure(a.method, a.profile).cfg.shared
    shared.place(a.runs, a.video)
    stages = SharedStages(shared)
    if a.fit:
        stages.fit()
    ckpt = _latest(stages.lam_dir())
    if ckpt is None:
        raise SystemExit(f"{stages.lam_dir()}: no trained latent action model; run the HiLAM bench first")
    store = FrameStore(stages.clips())  # the corpus lam_dir() has loaded to key the stage
    lam = LatentActionObjective(shared.lam, store, shared.video.stride)
    from safetensors.torch import load_file

    lam.load_state_dict(load_file(str(ckpt / "model.safetensors")))
    lam.eval()
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(store), a.pairs)
    later = store.later(idx, stages.gap_frames)
    moving = later > idx  # pairs inside a clip (the last frame of a clip has no future)
    idx, later = idx[moving], later[moving]
    with torch.no_grad():
        first, target = images_to_tensor(store.frames[idx]), images_to_tensor(store.frames[later])
        z = lam.idm(first, target)
        out = {"pairs": int(len(idx)), "gap_frames": stages.gap_frames, "stride": shared.video.stride,
               "mse_copy_first_frame": float(F.mse_loss(first, target)),
               "mse_fdm_true_latent": float(F.mse_loss(lam.fdm(first, z), target)),
               "mse_fdm_shuffled_latent": float(F.mse_loss(lam.fdm(first, z[torch.randperm(len(z))]), target)),
               "latent_std_per_dim_mean": float(z.std(0).mean()),
               "stage": str(stages.lam_dir()),
               "command": f"python benchmarks/latent_quality.py --profile {a.profile} --method {a.method} "
                          f"--video {a.video} --out {a.out}"}
    if finished(stages.skills_dir(), shared.skills_train.steps):
        out["next_latent_l1"] = next_latent_l1(stages) | {"stage": str(stages.skills_dir())}
    out |= provenance()
    write_json(Path(a.out), out)
    print({k: v for k, v in out.items() if k.startswith(("mse", "latent", "next"))})


if __name__ == "__main__":
    main()
