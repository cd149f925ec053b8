"""The evaluator-facing Human2Robot policy: per-episode retrieval of a demonstration, then chunked actions.

On an episode's first step the slot's first agentview frame retrieves the nearest training episode
(k=1); that episode's human clip conditions every later step, cut at the slot's step counter.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from baselines.human2robot.config import Human2RobotConfig
from baselines.human2robot.data import Episodes
from baselines.human2robot.decoder import ActionDecoder
from baselines.human2robot.retrieval import FirstFrameIndex
from hilam.data.dataset import proprio_of, resize_images
from hilam.models.heads import TemporalEnsemble


@dataclass
class SlotState:
    ensemble: TemporalEnsemble
    episode: int = -1  # retrieved training episode (-1: not yet)
    step: int = 0


@dataclass
class Human2RobotPolicy:
    decoder: ActionDecoder
    index: FirstFrameIndex
    episodes: Episodes
    cfg: Human2RobotConfig
    image_size: int  # the dataset's image size: observations go 128 -> image_size -> frame_size, as the demos did
    instructions: list[str]
    slots: dict[int, SlotState] = field(default_factory=dict)
    retrievals: list[tuple[int, int]] = field(default_factory=list)  # (episode's task, retrieved episode's task)

    def reset(self, slot: int) -> None:
        self.slots[slot] = SlotState(TemporalEnsemble(self.cfg.decoder.head.chunk, self.cfg.ensemble_k))

    def _retrieve(self, frames: np.ndarray, tasks: np.ndarray) -> np.ndarray:
        scope = tasks if self.cfg.retrieval_scope == "task" else None
        found = self.index.nearest(frames, scope)
        self.retrievals += [(int(t), int(self.episodes.task[e])) for t, e in zip(tasks, found)]
        return found

    @torch.no_grad()
    def act(self, obs: list[dict], slots: list[int]) -> np.ndarray:
        v = self.cfg.vpm
        robot = resize_images(np.stack([o[self.cfg.robot_camera] for o in obs]), self.image_size)
        tasks = np.asarray([self.instructions.index(o["language"]) for o in obs])
        new = [i for i, s in enumerate(slots) if self.slots[s].episode < 0]
        if new:
            for i, e in zip(new, self._retrieve(robot[new], tasks[new])):
                self.slots[slots[i]].episode = int(e)
        state = [self.slots[s] for s in slots]
        episode = np.asarray([st.episode for st in state])
        step = np.asarray([st.step for st in state])
        batch = {"frame": resize_images(robot, v.frame_size), "proprio": np.stack([proprio_of(o) for o in obs]),
                 "demo": self.episodes.human_clip(episode, step, v.stride, v.horizon)}
        chunks = self.decoder.predict(batch).float().cpu().numpy()
        for st in state:
            st.step += 1
        return np.stack([st.ensemble(c) for st, c in zip(state, chunks)])

    def retrieval_accuracy(self) -> float | None:
        """Fraction of evaluated episodes whose retrieved demonstration shows their own task."""
        return float(np.mean([a == b for a, b in self.retrievals])) if self.retrievals else None
