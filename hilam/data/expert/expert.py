"""The scripted expert: runs the planner's steps one after another from privileged state."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from hilam.data.expert.motion import Motion, MotionConfig
from hilam.data.expert.planner import Step, plan, satisfied, skill
from hilam.data.expert.scene import Scene
from hilam.envs.libero_env import LiberoEnv


@dataclass(frozen=True)
class ExpertConfig:
    """Episode-level behaviour of the expert."""

    attempts: int = 2  # times a step is run while its predicate still fails
    speed_range: tuple[float, float] = (0.85, 1.0)  # per-episode cap on the translation action norm
    settle_steps: int = 3  # hold still after a step before judging it
    reach_limit: float = 1.2  # an object farther than this (xy, metres) from the arm's base is out of play


class ScriptedExpert:
    """Closed-loop scripted policy for a LIBERO task; `act()` gives the next 7-D action."""

    def __init__(self, env: LiberoEnv, rng: np.random.Generator, cfg: ExpertConfig | None = None):
        self.env = env
        self.rng = rng
        self.cfg = cfg or ExpertConfig()
        self.done = False
        self.reason: str | None = None  # why the plan was given up, when it was
        self._actions: Iterator[np.ndarray] = iter(())
        self._motion: Motion | None = None

    def reset(self) -> None:
        """Plan for the episode that `env.reset()` just started."""
        scene = Scene(self.env.sim_env)
        speed = float(self.rng.uniform(*self.cfg.speed_range))
        self._motion = Motion(scene, replace(MotionConfig(), max_speed=speed))
        self._actions = self._run(scene, self._motion)
        self.done, self.reason = False, None

    def act(self) -> np.ndarray:
        """Next action in [-1, 1]; once the plan is over, hold still (and `done` is True)."""
        try:
            return np.asarray(next(self._actions), dtype=np.float64)
        except StopIteration:
            self.done = True
            return self._hold()

    def _hold(self) -> np.ndarray:
        gripper = self._motion.gripper if self._motion else -1.0
        return np.array([0, 0, 0, 0, 0, 0, gripper], dtype=np.float64)

    def _run(self, scene: Scene, motion: Motion) -> Iterator[np.ndarray]:
        for step in plan(scene):
            for _ in range(self.cfg.attempts):
                if satisfied(scene, step):
                    break
                for action in skill(scene, motion, step, self.rng):
                    if self._lost(scene, step):
                        return
                    yield action
                for _ in range(self.cfg.settle_steps):
                    yield self._hold()

    def _lost(self, scene: Scene, step: Step) -> bool:
        """Whether an object of `step` is out of the arm's reach (a random placement that overlapped at reset
        can throw it off the table); if so the plan is given up and `reason` says why."""
        base = scene.robot_base()[:2]
        lost = [n for n in step.predicate[1:] if n in scene.env.objects_dict
                and np.linalg.norm(scene.pos(n)[:2] - base) > self.cfg.reach_limit]
        if lost:
            self.reason = f"{lost[0]} out of the arm's reach"
        return bool(lost)
