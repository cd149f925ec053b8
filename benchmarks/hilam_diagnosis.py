"""Where HiLAM's cell loses: does pi^l use the skill it is given, and does pi^h predict the labelled skill?

    python -m benchmarks.hilam_diagnosis --suite libero_10 --frac 0.1 --profile cpu [--seed 1] [--video DIR]

Loads (never retrains) the HiLAM cell's checkpoints through the same fit() the bench ran. On samples of the
fine-tuning demos and of held-out demos (those a larger nested fraction adds) it compares pi^l's action-chunk
loss given the labelled skill, pi^h's predicted skill, another sample's labelled skill and a zero skill, and
pi^h's R^2 against the labelled skill; and, when the flat BAKU cell of the same fraction and seed exists, BAKU's
loss on the same samples (the same objective), to compare pi^l with the flat policy. Writes
results/diagnosis/hilam_<suite>_frac<F>[_seed<S>].json (the seed tag for seeds other than 0). `--video` must
name the corpus the cell was trained on (`make bench ... VIDEO=`), or the shared stages are not found.
Held-out demos must be rendered first: `hilam generate --suite <suite> --frac <heldout-frac>`.

Pretraining corpus size: with `--corpus-episodes N` (rollouts per LIBERO-90 task; the profile's is 2 on cpu)
it trains HiLAM with that corpus instead (same steps, stages and policies keyed by the corpus, in
runs/<suite>/hilam_corpus<N>/..., resumable), then measures it the same way into ..._corpus<N>.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from baselines.baku import BakuMethod
from hilam.atomic import write_json
from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.envs.suites import resolve_suite
from hilam.method.config import preset
from hilam.method.method import HilamMethod
from hilam.method.policies import SkilledDemos
from hilam.profiles import get_profile
from hilam.provenance import provenance


def measure(method: HilamMethod, src: SkilledDemos, pool: np.ndarray, samples: int) -> dict:
    """pi^l's action-chunk loss given four skills, and pi^h's R^2, on `samples` steps drawn from `pool`."""
    rng = np.random.default_rng(0)
    sums: dict[str, list[float]] = {k: [] for k in ("labelled", "predicted", "other_sample", "zero", "r2")}
    with torch.no_grad():
        for idx in np.array_split(rng.choice(pool, samples), max(1, samples // 256)):
            b = src.batch(idx)
            labelled = torch.as_tensor(b["skill"])
            pred = method.high(b)
            sums["r2"].append(float(1 - ((pred - labelled) ** 2).mean() / labelled.var(0).mean()))
            for name, skill in (("labelled", labelled), ("predicted", pred),
                                ("other_sample", labelled[torch.as_tensor(rng.permutation(len(idx)))]),
                                ("zero", torch.zeros_like(labelled))):
                sums[name].append(float(method.low(b | {"skill": skill.numpy()})))
    return {"pi_l_action_loss_given": {k: float(np.mean(v)) for k, v in sums.items() if k != "r2"},
            "pi_h_skill_r2": float(np.mean(sums["r2"]))}


def flat_loss(objective: torch.nn.Module, src, pool: np.ndarray, samples: int) -> float:
    """A flat policy's action-chunk loss on the samples `measure` draws from `pool` (same seed, same order)."""
    rng = np.random.default_rng(0)
    with torch.no_grad():
        return float(np.mean([float(objective(src.batch(idx)))
                              for idx in np.array_split(rng.choice(pool, samples), max(1, samples // 256))]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--frac", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--video", default="data/video", help="the cell's pretraining corpus (make bench VIDEO=)")
    ap.add_argument("--heldout-frac", type=float, default=0.12, help="demos beyond --frac up to this are held out")
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--corpus-episodes", type=int, default=0,
                    help="train HiLAM on a corpus of this many rollouts per task instead of reading the cell")
    ap.add_argument("--out", default="results/diagnosis")
    a = ap.parse_args()
    suite = resolve_suite(a.suite).name
    profile = get_profile(a.profile)
    hilam = preset(profile.scale)
    hilam.shared.place("runs", a.video)
    cell = f"frac{a.frac:g}-seed{a.seed}-{a.profile}"
    run_dir, tag = Path("runs") / suite / "hilam" / cell, f"_seed{a.seed}" if a.seed else ""
    command = (f"python -m benchmarks.hilam_diagnosis --suite {suite} --frac {a.frac:g} --profile {a.profile}"
               + (f" --seed {a.seed}" if a.seed else "") + (f" --video {a.video}" if a.video != "data/video" else ""))
    if a.corpus_episodes and a.corpus_episodes != hilam.shared.video.episodes_per_task:
        hilam.shared.video.episodes_per_task = a.corpus_episodes
        run_dir = Path("runs") / suite / f"hilam_corpus{a.corpus_episodes}" / cell
        tag, command = f"_corpus{a.corpus_episodes}" + tag, command + f" --corpus-episodes {a.corpus_episodes}"
    elif not (run_dir / "finetune" / "latest").exists():
        raise SystemExit(f"{run_dir}: no finished HiLAM cell; run "
                         f"`make bench SUITE={suite} FRAC={a.frac:g} METHODS=hilam SEEDS={a.seed} VIDEO={a.video}`")
    data = DemoDataset(DatasetConfig(suite=suite, frac=a.frac, seed=0, chunk=profile.baku.head.chunk,
                                     image_size=profile.image_size))
    method = HilamMethod(profile, data.instructions, hilam)
    fit = method.fit(data, run_dir, a.seed)  # loads every checkpoint (trains what is missing: --corpus-episodes)
    train = measure(method, method.finetune_data, np.arange(len(data)), a.samples)
    held = DemoDataset(DatasetConfig(suite=suite, frac=a.heldout_frac, seed=0, chunk=profile.baku.head.chunk,
                                     image_size=profile.image_size))
    demo = np.repeat(np.arange(len(held.demo_lengths)), held.demo_lengths)
    rank = held.demo_ranks()
    n_train = max(data.demos_per_task.values())
    unseen = np.flatnonzero(rank[demo] >= n_train)  # demos the cell never trained on (fractions are nested)
    if len(unseen) == 0:
        raise SystemExit(f"--heldout-frac {a.heldout_frac} adds no demo beyond --frac {a.frac}")
    heldout = measure(method, SkilledDemos(held, method.demo_skills(held)), unseen, a.samples)
    out = {"suite": suite, "frac": a.frac, "seed": a.seed, "profile": a.profile, "samples": a.samples,
           "command": command, "run_dir": str(run_dir),
           "corpus": method.stats["shared"]["corpus"], "train": fit,
           "skill_lengths": method.stats["segment_length_steps"],
           "heldout_frac": a.heldout_frac, "heldout_demos": int(len(np.unique(demo[unseen]))),
           "training_demos": train, "heldout_demos_scores": heldout} | provenance()
    baku_dir = Path("runs") / suite / "baku" / cell
    if (baku_dir / "latest").exists():
        baku = BakuMethod(profile, data.instructions)
        baku.fit(data, baku_dir, a.seed)  # loads the finished cell's checkpoint
        out["flat_baku_action_loss"] = {"run_dir": str(baku_dir),
                                        "training_demos": flat_loss(baku.objective, data, np.arange(len(data)), a.samples),
                                        "heldout_demos": flat_loss(baku.objective, held, unseen, a.samples)}
    write_json(Path(a.out) / f"hilam_{suite}_frac{a.frac:g}{tag}.json", out)
    print(json.dumps({k: out.get(k) for k in ("training_demos", "heldout_demos_scores", "flat_baku_action_loss")},
                     indent=1))


if __name__ == "__main__":
    main()
