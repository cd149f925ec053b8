"""The benchmark driver behind `make bench`: demos for a suite and data fraction, then each method.

Learned methods plug in through `METHODS` (name -> trainer/evaluator); until one is registered the
bench stops after data generation and a smoke evaluation of the harness, and says so.
"""
from __future__ import annotations

import json
import sys

from hilam.data.generate import GenerateConfig, generate
from hilam.envs.suites import resolve_suite

METHODS: dict[str, object] = {}  # filled by the methods' modules (BAKU, HiLAM, baselines)


def bench(suite: str, frac: float, methods: list[str], seeds: list[int], profile: str = "cpu",
          workers: int = 0, data: str = "data/demos") -> None:
    spec = resolve_suite(suite)
    print(f"[bench] {spec.name} frac={frac} methods={methods} seeds={seeds} profile={profile}")
    stats = generate(GenerateConfig(suite=spec.name, root=data, frac=frac, workers=workers))
    failed = [s["task"] for s in stats if "error" in s or not s.get("successes")]
    if failed:
        raise SystemExit(f"[bench] no demos for: {failed}; see {data}/{spec.name}/states/*.json")
    print(f"[bench] demos ready under {data}/{spec.name}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        print(f"[bench] methods not available yet: {unknown}; running a smoke evaluation of the harness "
              "(constant policy, 1 episode per task) instead", file=sys.stderr)
        from hilam.evaluate import EvalConfig, evaluate
        from hilam.scripted_policies import ConstantPolicy

        r = evaluate(ConstantPolicy(), EvalConfig(suite=spec.name, episodes_per_task=1, max_steps=20, workers=workers))
        print(json.dumps({k: r[k] for k in ("suite", "episodes", "env_steps_per_s", "errors")}))
