"""Measure the scripted expert: state-only episodes from seeded random resets, per-task success and length.

    python -m hilam.data.expert --suite object --tasks 0 3 --episodes 10 --seed 0
"""
from __future__ import annotations

import argparse

import numpy as np

from hilam.data.expert.rollout import expert_episode
from hilam.envs.libero_env import LiberoEnv
from hilam.envs.suites import resolve_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", required=True)
    parser.add_argument("--tasks", type=int, nargs="*", help="task ids (default: all)")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    suite = resolve_suite(args.suite)
    rates = []
    for task in args.tasks or range(suite.n_tasks):
        env = LiberoEnv.for_task(suite.name, task, render=False)
        seeds = [args.seed * 100_003 + task * 1_009 + ep for ep in range(args.episodes)]
        episodes = [expert_episode(env, seed, suite.max_steps) for seed in seeds]
        env.close()
        ok = [ep.success for ep in episodes]
        steps = [len(ep.actions) for ep in episodes]
        rates.append(np.mean(ok))
        print(f"{suite.name} task {task}: {sum(ok)}/{len(ok)} success, mean steps {np.mean(steps):.0f}", flush=True)
    print(f"{suite.name} mean success {np.mean(rates):.3f} over {len(rates)} tasks")


if __name__ == "__main__":
    main()
