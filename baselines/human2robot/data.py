"""Human2Robot's training samples cut from a DemoDataset: the robot clip to predict and its stand-in "human" video.

The human demonstration: Human2Robot pairs every robot video with a human video of the same task
recorded at the same time. LIBERO has no humans, so the stand-in is the *eye-in-hand* video of a
*different* demo of the same task. The other camera plays the human's different viewpoint and
embodiment (it shows the task's progress - approach, grasp, carry - but never the agentview pixels
the VPM must predict), and the other demo gives a different object layout and timing, as an
unsynchronised human would. Agentview of another demo would leak the target's own viewpoint and
make the VPM a copy model. A task with a single demo pairs it with itself (noted in `describe`).

Time alignment: demonstration frames are taken at the same step offsets as the predicted frames,
starting at the same step index t of the other demo (clipped to its end). At test time the step
counter of the episode plays t, so training and evaluation cut the demonstration identically.
"""
from __future__ import annotations

import numpy as np
import torch

from hilam.data.dataset import DemoDataset, resize_images

MIX = 2_654_435_761  # Knuth's multiplicative hash: a fixed partner per sample index, so resume stays exact


def clip_steps(start: np.ndarray, length: np.ndarray, t: np.ndarray, stride: int, horizon: int) -> np.ndarray:
    """Absolute indices of steps t + stride * (1..horizon) of demos (start, length), clipped to each demo's end."""
    k = stride * np.arange(1, horizon + 1)[None]
    return start[:, None] + np.minimum(t[:, None] + k, length[:, None] - 1)


def to_unit(frames: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """(..., H, W, 3) uint8 -> (..., 3, H, W) float in [-1, 1], the VPM's pixel range."""
    x = torch.as_tensor(frames, device=device).float().div_(127.5).sub_(1.0)
    return x.movedim(-1, -3)


class Episodes:
    """Per-demo views of a DemoDataset at the VPM's frame size: starts, lengths, tasks, robot and human frames."""

    def __init__(self, data: DemoDataset, frame_size: int, robot_camera: str, demo_camera: str):
        self.lengths = np.asarray(data.demo_lengths)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.task = data.task[self.starts]
        self.episode_of = np.repeat(np.arange(len(self.lengths)), self.lengths)
        self.robot = resize_images(data.images[robot_camera], frame_size)
        self.human = resize_images(data.images[demo_camera], frame_size)
        self.first_frames = data.images[robot_camera][self.starts]  # at the dataset's size, for retrieval
        self.partners = [np.flatnonzero((self.task == self.task[e]) & (np.arange(len(self.task)) != e))
                         for e in range(len(self.task))]
        self.alone = [e for e, p in enumerate(self.partners) if len(p) == 0]
        self.partners = [p if len(p) else np.asarray([e]) for e, p in enumerate(self.partners)]

    def __len__(self) -> int:
        return len(self.lengths)

    def human_clip(self, episode: np.ndarray, t: np.ndarray, stride: int, horizon: int) -> np.ndarray:
        """(B, horizon, h, w, 3) demonstration frames of `episode` at steps t + stride * (1..horizon)."""
        return self.human[clip_steps(self.starts[episode], self.lengths[episode], t, stride, horizon)]


class PairedClips:
    """Samples for both training phases: current robot frame, the next `horizon` robot frames, a time-aligned
    human clip from a partner demo of the same task, proprio and the action chunk."""

    def __init__(self, data: DemoDataset, episodes: Episodes, stride: int, horizon: int):
        self.data, self.ep, self.stride, self.horizon = data, episodes, stride, horizon

    def __len__(self) -> int:
        return len(self.data)

    def partner(self, idx: np.ndarray) -> np.ndarray:
        """The demo whose human clip conditions sample idx: a fixed pseudo-random partner of the same task."""
        own = self.ep.episode_of[idx]
        return np.asarray([p[(int(i) * MIX >> 7) % len(p)] for i, p in zip(idx, (self.ep.partners[e] for e in own))])

    def batch(self, idx: np.ndarray) -> dict:
        idx = np.asarray(idx)
        own = self.ep.episode_of[idx]
        t = idx - self.ep.starts[own]
        future = clip_steps(self.ep.starts[own], self.ep.lengths[own], t, self.stride, self.horizon)
        out = self.data.batch(idx)
        return {"frame": self.ep.robot[idx], "future": self.ep.robot[future],
                "demo": self.ep.human_clip(self.partner(idx), t, self.stride, self.horizon),
                "proprio": out["proprio"], "actions": out["actions"], "action_mask": out["action_mask"]}
