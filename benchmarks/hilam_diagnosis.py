"""Where HiLAM's cell loses: does pi^l use the skill it is given, and does pi^h predict the labelled skill?

    python -m benchmarks.hilam_diagnosis --suite libero_10 --frac 0.1 --profile cpu

Loads (never retrains) the HiLAM cell's checkpoints through the same fit() the bench ran, then on samples of the
fine-tuning demos compares pi^l's action-chunk loss given the labelled skill, pi^h's predicted skill, another
sample's labelled skill and a zero skill, and pi^h's R^2 against the labelled skill. Writes
results/diagnosis/hilam_<suite>_frac<F>.json. These are training demos: they bound what evaluation can show.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from hilam.atomic import write_json
from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.envs.suites import resolve_suite
from hilam.hierarchy import HilamMethod
from hilam.profiles import get_profile
from hilam.provenance import provenance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_10")
    ap.add_argument("--frac", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--out", default="results/diagnosis")
    a = ap.parse_args()
    suite = resolve_suite(a.suite).name
    profile = get_profile(a.profile)
    profile.hilam.shared.place("runs", "data/video")
    run_dir = Path("runs") / suite / "hilam" / f"frac{a.frac:g}-seed{a.seed}-{a.profile}"
    if not (run_dir / "finetune" / "latest").exists():
        raise SystemExit(f"{run_dir}: no finished HiLAM cell; run `make bench SUITE={suite} FRAC={a.frac:g} METHODS=hilam`")
    data = DemoDataset(DatasetConfig(suite=suite, frac=a.frac, seed=0, chunk=profile.baku.head.chunk,
                                     image_size=profile.image_size))
    method = HilamMethod(profile, data.instructions)
    method.fit(data, run_dir, a.seed)  # loads every checkpoint
    src, high, low = method.finetune_data, method.high, method.low
    rng = np.random.default_rng(0)
    sums: dict[str, list[float]] = {k: [] for k in ("labelled", "predicted", "other_sample", "zero", "r2")}
    with torch.no_grad():
        for idx in np.array_split(rng.integers(0, len(src), a.samples), max(1, a.samples // 256)):
            b = src.batch(idx)
            labelled = torch.as_tensor(b["skill"])
            pred = high(b)
            sums["r2"].append(float(1 - ((pred - labelled) ** 2).mean() / labelled.var(0).mean()))
            for name, skill in (("labelled", labelled), ("predicted", pred),
                                ("other_sample", labelled[torch.as_tensor(rng.permutation(len(idx)))]),
                                ("zero", torch.zeros_like(labelled))):
                sums[name].append(float(low(b | {"skill": skill.numpy()})))
    out = {"suite": suite, "frac": a.frac, "seed": a.seed, "profile": a.profile, "samples": a.samples,
           "command": f"python -m benchmarks.hilam_diagnosis --suite {suite} --frac {a.frac:g} --profile {a.profile}",
           "pi_l_action_loss_given": {k: float(np.mean(v)) for k, v in sums.items() if k != "r2"},
           "pi_h_skill_r2": float(np.mean(sums["r2"]))} | provenance()
    write_json(Path(a.out) / f"hilam_{suite}_frac{a.frac:g}.json", out)
    print(json.dumps({k: out[k] for k in ("pi_l_action_loss_given", "pi_h_skill_r2")}, indent=1))


if __name__ == "__main__":
    main()
