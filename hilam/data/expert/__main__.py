"""Measure the scripted expert: state-only episodes from random resets, per-task success and length.

    python -m hilam.data.expert --suite object --tasks 0 3 --episodes 10 --seed 0
"""
from __future__ import annotations

import argparse

import numpy as np

from hilam.data.expert.expert import ScriptedExpert
from hilam.envs.libero_env import LiberoEnv
from hilam.envs.suites import resolve_suite


def run_episode(env: LiberoEnv, expert: ScriptedExpert, max_steps: int, seed: int) -> tuple[bool, int]:
    """One episode from a seeded random reset; returns (success, steps taken)."""
    env.reset(seed=seed)
    expert.reset()
    for t in range(1, max_steps + 1):
        env.step(expert.act())
        if env.success():
            return True, t
        if expert.done:
            return False, t
    return False, max_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", required=True)
    parser.add_argument("--tasks", type=int, nargs="*", help="task ids (default: all)")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    suite = resolve_suite(args.suite)
    tasks = args.tasks if args.tasks else range(suite.n_tasks)
    rates = []
    for task in tasks:
        env = LiberoEnv.for_task(suite.name, task, render=False, seed=args.seed + task)
        expert = ScriptedExpert(env, np.random.default_rng([args.seed, task]))
        seeds = [args.seed * 100_003 + task * 1_009 + ep for ep in range(args.episodes)]
        results = [run_episode(env, expert, suite.max_steps, seed) for seed in seeds]
        env.close()
        ok = [s for s, _ in results]
        steps = [n for _, n in results]
        rates.append(np.mean(ok))
        print(f"{suite.name} task {task}: {sum(ok)}/{len(ok)} success, mean steps {np.mean(steps):.0f} "
              f"(successful {np.mean([n for s, n in results if s]) if any(ok) else float('nan'):.0f})",
              flush=True)
    print(f"{suite.name} mean success {np.mean(rates):.3f} over {len(rates)} tasks")


if __name__ == "__main__":
    main()
