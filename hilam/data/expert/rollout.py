"""One seeded expert episode: the loop the generator, the tests and the measurement CLI share."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hilam.data.expert.expert import ScriptedExpert
from hilam.envs.libero_env import LiberoEnv


@dataclass
class ExpertEpisode:
    success: bool
    states: np.ndarray  # (T, D): states[t] is the state action t was chosen in
    actions: np.ndarray  # (T, 7)
    reason: str | None = None  # why the expert gave up, when it did


class Midpoints:
    """Stands in for the expert's random generator and draws the middle of every range it is asked for: the expert's
    per-episode choices fixed (recipe `jitter=False`). The expert draws through `uniform` alone."""

    def uniform(self, low=0.0, high=1.0, size=None):
        mid = (np.asarray(low, np.float64) + np.asarray(high, np.float64)) / 2
        return float(mid) if size is None and mid.ndim == 0 else np.broadcast_to(mid, size or mid.shape).copy()


class PolicyDriver:
    """An evaluator policy (`reset(slot)`, `act(observations, slots)`) of a state-based method, driving one env: what
    it would do now, from the env's latest observation (its privileged part) and the task's instruction."""

    def __init__(self, policy, language: str):
        self.policy, self.language = policy, language

    def reset(self) -> None:
        self.policy.reset(0)

    def __call__(self, obs: dict) -> np.ndarray:
        return self.policy.act([{"privileged": obs["privileged"], "language": self.language}], [0])[0]


def expert_episode(env: LiberoEnv, seed: int, max_steps: int, init_state: np.ndarray | None = None,
                   action_noise: float = 0.0, jitter: bool = True, driver: PolicyDriver | None = None,
                   beta: float = 1.0) -> ExpertEpisode:
    """Reset (seeded random placement, or `init_state`), then run the expert until success, the end of its
    plan, or `max_steps`. Stops at the first successful step, as the official demos do. With `action_noise`
    (DART) the env executes the expert's action plus N(0, action_noise^2) on the arm dims 0-5, clipped to
    [-1, 1], while `actions` records the clean action; the noise has its own seeded stream. Without `jitter` the
    expert's own random choices sit at their ranges' middles (`Midpoints`). With a `driver` (DAgger) the env
    executes the expert's arm action with probability `beta` per step and the driver's otherwise (its own seeded
    stream; the gripper command stays the expert's; the driver is asked every step, so its ensembling and history
    follow the episode); `actions` records the expert's."""
    obs = env.reset(init_state=init_state, seed=seed)
    expert = ScriptedExpert(env, np.random.default_rng(seed) if jitter else Midpoints())
    expert.reset()
    noise, mix = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    if driver is not None:
        driver.reset()
    states, actions = [], []
    while len(actions) < max_steps and not expert.done:
        states.append(env.get_state())
        actions.append(expert.act())
        executed = actions[-1].copy()
        if driver is not None:
            proposed = driver(obs)
            if mix.random() >= beta:  # the arm only: the gripper integrates the sign of its command, so a command
                executed[:6] = proposed[:6]  # that flips from step to step would leave it half closed, grasping nothing
        if action_noise > 0:
            executed[:6] = np.clip(executed[:6] + noise.normal(0.0, action_noise, 6), -1.0, 1.0)
        obs = env.step(executed)
        if env.success():
            return ExpertEpisode(True, np.asarray(states), np.asarray(actions))
    return ExpertEpisode(False, np.asarray(states), np.asarray(actions), expert.reason)
