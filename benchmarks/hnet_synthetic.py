"""Does the H-Net find skill boundaries that are there? A controlled test on synthetic latent-action sequences.

    python -m benchmarks.hnet_synthetic            # writes results/diagnosis/hnet_synthetic.json

Sequences are piecewise: segments of a known mean length, each the noisy, drifting vector of one of a few
"skills", in the latent width of the cpu profile's IDM. The skill model of the cpu profile (same H-Net, crop,
steps, batch and learning rate) is trained on them with its next-latent L1 and ratio losses (the FDM's
reconstruction term needs frames, so it is left out: lambda_rec = 0), once per (mean segment length, target
ratios) condition, and its stage-1 and stage-2 boundaries on held-out sequences (with skill vectors of their
own, so the router must detect changes, not recognise trained vectors) are scored against the true segment
starts, beside a fixed-length chunking of the same mean length. A libero_10 subtask lasts about 60 latent steps
(~120 control steps; the corpus is labelled every 2nd step), the cpu profile's targets (3, 3) aim at 9.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hilam.atomic import write_json
from hilam.keysteps import fixed_boundaries, score
from hilam.profiles import get_profile
from hilam.provenance import provenance
from hilam.method.config import preset
from hilam.method.skills import SkillModel, segment
from hilam.train import train


@dataclass
class SyntheticConfig:
    mean_length: int = 9  # mean segment length, latent steps; lengths uniform in [mean / 2, 3 mean / 2]
    skills: int = 12  # distinct skill vectors
    sequence_length: int = 384  # latent steps per sequence (a libero_10 demo: ~110; training crops 192)
    sequences: int = 400  # training sequences; as many again are drawn for scoring
    drift: float = 0.5  # within a segment the vector moves this far (in units of a skill vector's scale)
    noise: float = 0.3  # per-step Gaussian noise
    dim: int = 64  # the cpu profile's latent width
    seed: int = 0


def sequences(cfg: SyntheticConfig, rng: np.random.Generator) -> tuple[list[np.ndarray], list[list[int]]]:
    """(standardised sequences (T, dim), each one's segment starts after t = 0); each call draws its own skills."""
    protos = rng.normal(size=(cfg.skills, cfg.dim))
    seqs, starts = [], []
    for _ in range(cfg.sequences):
        z, bounds, t, prev = [], [], 0, -1
        while t < cfg.sequence_length:
            n = int(rng.integers(max(1, cfg.mean_length // 2), cfg.mean_length * 3 // 2 + 1))
            k = int(rng.choice([j for j in range(cfg.skills) if j != prev]))
            direction = rng.normal(size=cfg.dim)
            ramp = np.linspace(-0.5, 0.5, n)[:, None] * cfg.drift * direction
            z.append(protos[k] + ramp + cfg.noise * rng.normal(size=(n, cfg.dim)))
            if t:
                bounds.append(t)
            t, prev = t + n, k
        seqs.append(np.concatenate(z)[: cfg.sequence_length])
        starts.append([b for b in bounds if b < cfg.sequence_length])
    cat = np.concatenate(seqs)
    mean, std = cat.mean(0), cat.std(0)
    return [((s - mean) / std).astype(np.float32) for s in seqs], starts


class NextLatent(nn.Module):
    """The skill model's loss without the FDM term: L1 on the next latent + weighted ratio loss, on crops."""

    def __init__(self, model: SkillModel, seqs: list[np.ndarray]):
        super().__init__()
        self.model, self.seqs = model, seqs

    def __len__(self) -> int:
        return len(self.seqs) * 1000

    def batch(self, idx: np.ndarray) -> dict:
        rng = np.random.default_rng(np.asarray(idx, dtype=np.int64))
        crop = self.model.cfg.crop
        out = []
        for i in np.asarray(idx) % len(self.seqs):
            s = self.seqs[i]
            start = int(rng.integers(0, max(1, len(s) - crop + 1)))
            out.append(s[start:start + crop])
        return {"z": np.stack(out)}

    def forward(self, batch: dict) -> torch.Tensor:
        z = torch.as_tensor(batch["z"], device=next(self.parameters()).device)
        pred, info = self.model(z, torch.ones(z.shape[:2], dtype=torch.bool, device=z.device))
        return F.l1_loss(pred[:, :-1], z[:, 1:]) + self.model.cfg.hnet.ratio_weight * sum(s["ratio_loss"] for s in info)


def run(data: SyntheticConfig, ratios: tuple[float, ...], profile: str = "cpu", steps: int | None = None) -> dict:
    """Train the profile's skill model with `ratios` on `data`; boundary scores on held-out sequences."""
    shared = preset(get_profile(profile).scale).shared
    skill_cfg = replace(shared.skills, hnet=replace(shared.skills.hnet, target_ratios=tuple(ratios)))
    train_cfg = replace(shared.skills_train, seed=data.seed, log_every=10**9, ckpt_every=10**9)
    if steps:
        train_cfg = replace(train_cfg, steps=steps)
    rng = np.random.default_rng(data.seed)
    train_seqs, _ = sequences(data, rng)
    test_seqs, test_starts = sequences(data, rng)
    torch.manual_seed(data.seed)
    model = SkillModel(skill_cfg, data.dim)
    objective = NextLatent(model, train_seqs)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        summary = train(objective, objective, train_cfg, tmp)
    seconds = time.perf_counter() - t0
    model.eval()
    segs = [segment(model, s) for s in test_seqs]
    out = {"target_ratios": list(ratios), "expected_chunk_length": float(np.prod(ratios)),
           "train_seconds": seconds, "loss_last_10pct": float(np.mean(summary["losses"][-max(1, train_cfg.steps // 10):])),
           "levels": {}}
    T = data.sequence_length
    for level in (1, 2):
        pred = [[int(t) for t in np.flatnonzero(sg.boundaries[level]) if t > 0] for sg in segs]
        mean_len = T / (1 + np.mean([len(p) for p in pred]))
        s = score(pred, test_starts, tolerances=(1, 2))
        fixed = score([fixed_boundaries(T, mean_len)] * len(pred), test_starts, tolerances=(1, 2))
        out["levels"][level] = {"mean_chunk_length": float(mean_len), "f1": s.f1, "fixed_length_f1": fixed.f1}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conditions", nargs="+", default=["9:3,3", "36:3,3", "36:6,6"],
                    help="mean segment length (latent steps) : target ratios of the stages")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--steps", type=int, default=0, help="training steps (0: the profile's)")
    ap.add_argument("--noise", type=float, default=SyntheticConfig.noise, help="per-step noise (skill vectors: sd 1)")
    ap.add_argument("--out", default="results/diagnosis/hnet_synthetic.json")
    args = ap.parse_args()
    origin = provenance()
    command = " ".join(["python -m benchmarks.hnet_synthetic --conditions", *args.conditions,
                        *([f"--steps {args.steps}"] if args.steps else []),
                        *([f"--noise {args.noise:g}"] if args.noise != SyntheticConfig.noise else [])])
    runs = []
    for cond in args.conditions:
        length, r = cond.split(":")
        data = SyntheticConfig(mean_length=int(length), noise=args.noise)
        res = run(data, tuple(float(x) for x in r.split(",")), args.profile, args.steps or None)
        runs.append({"data": asdict(data), **res})
        l1, l2 = res["levels"][1], res["levels"][2]
        print(f"segments ~{length:>3} steps, ratios {r:>5}: chunks {l1['mean_chunk_length']:5.1f} / "
              f"{l2['mean_chunk_length']:5.1f} steps, F1@2 {l1['f1'][2]:.2f} / {l2['f1'][2]:.2f} (fixed length "
              f"{l1['fixed_length_f1'][2]:.2f} / {l2['fixed_length_f1'][2]:.2f}), {res['train_seconds']:.0f} s", flush=True)
        # after every condition, so a long sweep cut short keeps what it finished
        write_json(args.out, {"runs": runs, "profile": args.profile, "steps": args.steps or "profile",
                              "command": command, **origin})


if __name__ == "__main__":
    main()
