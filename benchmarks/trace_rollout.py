"""Step a finished state cell's policy through a few episodes from the official init states and print, every 15 steps
and whenever a goal predicate changes, the gripper position, the executed action (xyz, gripper) and the finger gap:
where a rollout goes wrong, read beside `--demo`, the same printout for the replayed states of the task's first demos.

    python -m benchmarks.trace_rollout results/runs/libero_10/baku_state/frac1-seed0-cpu-dart20_fixed-set226e5869.json \\
        --task 4 --episodes 2 [--demo data/demos_dart20_fixed]
"""
from __future__ import annotations

import argparse

import numpy as np

from hilam.bench import trained_cell
from hilam.data.expert.rollout import PolicyDriver
from hilam.envs.libero_env import LiberoEnv
from hilam.envs.suites import official_init_states, task_specs


def line(t: int, obs: dict, action: np.ndarray, goals: list[bool]) -> str:
    """One printed step: the grip site's position, the action (xyz, gripper), the finger gap, the goal predicates."""
    gap = obs["gripper_states"][0] - obs["gripper_states"][1]
    return (f"{t:3d} eef {np.round(obs['ee_pos'], 3)} a {np.round(action[:3], 2)} grip {action[6]:+.2f} "
            f"fingers {gap:.3f} goals {goals}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cell")
    ap.add_argument("--task", type=int, required=True)
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--demo", default="", help="a state-pass root: also print its first demos' replayed states")
    a = ap.parse_args()
    cell, _, _, method = trained_cell(a.cell)
    task = task_specs(cell["suite"])[a.task]
    driver, env = PolicyDriver(method.policy(), task.language), LiberoEnv(task, render=False)
    for ep in range(a.episodes):
        obs = env.reset(init_state=official_init_states(cell["suite"], a.task)[ep], seed=ep)
        driver.reset()
        print(f"== policy, task {a.task}, official init state {ep}: {task.language}")
        last = None
        for t in range(cell["protocol"]["max_steps"]):
            action = driver(obs)
            obs = env.step(action)
            goals = env.goal_status()
            if t % 15 == 0 or goals != last:
                print(line(t, obs, action, goals))
            last = goals
            if env.success():
                print(f"success at step {t}")
                break
    if a.demo:
        from hilam.data.generate import cached_state_demos

        for i, d in enumerate((cached_state_demos(a.demo, task) or [])[:a.episodes]):
            print(f"== demo {i} (replayed states, recorded labels)")
            for t, (s, action) in enumerate(zip(d.states, d.actions)):
                obs = env.set_state(s)
                flip = t > 0 and np.sign(action[6]) != np.sign(d.actions[t - 1][6])
                if t % 15 == 0 or flip:
                    print(line(t, obs, action, env.goal_status()))


if __name__ == "__main__":
    main()
