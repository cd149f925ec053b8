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


def expert_episode(env: LiberoEnv, seed: int, max_steps: int, init_state: np.ndarray | None = None) -> ExpertEpisode:
    """Reset (seeded random placement, or `init_state`), then run the expert until success, the end of its
    plan, or `max_steps`. Stops at the first successful step, as the official demos do."""
    env.reset(init_state=init_state, seed=seed)
    expert = ScriptedExpert(env, np.random.default_rng(seed))
    expert.reset()
    states, actions = [], []
    while len(actions) < max_steps and not expert.done:
        states.append(env.get_state())
        actions.append(expert.act())
        env.step(actions[-1])
        if env.success():
            return ExpertEpisode(True, np.asarray(states), np.asarray(actions))
    return ExpertEpisode(False, np.asarray(states), np.asarray(actions), expert.reason)
