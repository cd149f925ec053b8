"""Policies without learning, for harness tests and throughput measurements."""
from __future__ import annotations

import numpy as np

from hilam.envs.suites import SETTLE_ACTION


class ConstantPolicy:
    """Always the same action (default: hold still with the gripper open)."""

    def __init__(self, action=SETTLE_ACTION):
        self.action = np.asarray(action, dtype=np.float64)

    def reset(self, slot: int) -> None:
        pass

    def act(self, obs: list[dict], slots: list[int]) -> np.ndarray:
        return np.tile(self.action, (len(obs), 1))


class ReplayPolicy:
    """Replays recorded action sequences open loop, keyed by (task_id, episode index)."""

    def __init__(self, actions: dict[tuple[int, int], np.ndarray]):
        self.actions = actions
        self.t: dict[int, int] = {}

    def reset(self, slot: int) -> None:
        self.t[slot] = 0

    def act(self, obs: list[dict], slots: list[int]) -> np.ndarray:
        out = []
        for o, s in zip(obs, slots):
            seq = self.actions[(o["task_id"], o["episode"])]
            out.append(seq[min(self.t[s], len(seq) - 1)])
            self.t[s] += 1
        return np.asarray(out)
