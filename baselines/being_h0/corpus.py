"""Being-H0's pretraining data on LIBERO: end-effector trajectories of the LIBERO-90 scripted rollouts
(replayed from their cached states, no rendering), aligned with the agentview frames of the action-free
corpus (`hilam.data.video`). Trajectories are cached per task under the shared root, keyed by the corpus."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from baselines.being_h0.geometry import matrix_to_rot6d, quat_xyzw_to_matrix
from baselines.being_h0.tokenizer import MOTION_DIM
from hilam.atomic import atomic_savez
from hilam.data.generate import load_state_episodes
from hilam.data.video import (
    Clip,
    VideoCorpusConfig,
    corpus_file,
    ensure_corpus,
    load_corpus,
)
from hilam.envs.suites import TaskSpec, resolve_suite, task_specs
from hilam.confighash import config_hash

MOTION_VERSION = "ee-pos3-rot6d-grip2-v1"  # bump when the motion vector's definition changes


def motion_of(obs: list[dict]) -> np.ndarray:
    """Observations of one episode -> (T, MOTION_DIM) float32: ee position (m), 6D rotation, finger joints (m)."""
    pos = np.stack([o["ee_pos"] for o in obs])
    rot = matrix_to_rot6d(quat_xyzw_to_matrix(np.stack([o["eef_quat"] for o in obs])))
    grip = np.stack([o["gripper_states"] for o in obs])
    out = np.concatenate([pos, rot, grip], 1).astype(np.float32)
    assert out.shape[1] == MOTION_DIM
    return out


def replay_task(task: TaskSpec, states: list[np.ndarray]) -> list[np.ndarray]:
    """End-effector motion of each state episode, by setting every state in a render-free env."""
    from hilam.envs.libero_env import LiberoEnv

    env = LiberoEnv(task, render=False)
    try:
        return [motion_of([env.set_state(s) for s in ep]) for ep in states]
    finally:
        env.close()


@dataclass
class Episode:
    """One corpus rollout: its agentview frames (every `stride` steps), its motion (every step), its instruction."""

    frames: np.ndarray  # (ceil(T / stride), H, W, 3) uint8
    motion: np.ndarray  # (T, MOTION_DIM) float32
    language: str


def trajectory_dir(video: VideoCorpusConfig, root: str) -> Path:
    return Path(root) / f"being_h0-motion-{config_hash(video.key(), MOTION_VERSION)}"


def corpus_tasks(video: VideoCorpusConfig) -> list[TaskSpec]:
    return [t for t in task_specs(resolve_suite(video.suite).name) if not video.tasks or t.task_id in video.tasks]


def task_motion(video: VideoCorpusConfig, task: TaskSpec, root: str) -> list[np.ndarray]:
    """The motion of the task's corpus episodes, from the cache or replayed (and then cached atomically)."""
    path = trajectory_dir(video, root) / f"{task.name}.npz"
    if path.exists():
        with np.load(path) as z:
            return [z[f"ep_{i}"] for i in range(len(z.files))]
    episodes = load_state_episodes(video.state_pass(), task)
    motion = replay_task(task, [s for s, _ in episodes[: video.episodes_per_task]])
    atomic_savez(path, **{f"ep_{i}": m for i, m in enumerate(motion)})
    return motion


def ensure_episodes(video: VideoCorpusConfig, root: str) -> None:
    """Render the corpus and replay its trajectories into the cache where missing, loading no frames."""
    ensure_corpus(video)
    for task in corpus_tasks(video):
        if corpus_file(video, task).exists():
            task_motion(video, task, root)


def load_episodes(video: VideoCorpusConfig, root: str) -> list[Episode]:
    """Every corpus rollout with frames and motion (renders the corpus first if it is missing)."""
    if video.folder:
        raise ValueError("Being-H0 pretrains on motion: it needs the scripted-rollout corpus (states), not a "
                         f"folder of videos ({video.folder!r})")
    clips: dict[str, list[Clip]] = {}
    for c in load_corpus(video):
        clips.setdefault(c.source, []).append(c)
    out = []
    for task in tqdm(corpus_tasks(video), desc="being_h0 end-effector trajectories", unit="task"):
        task_clips = clips.get(str(corpus_file(video, task)), [])
        if not task_clips:
            continue
        for clip, motion in zip(task_clips, task_motion(video, task, root)):
            if len(clip.frames) != len(motion[:: video.stride]):
                raise ValueError(f"{task.name}: {len(clip.frames)} frames but {len(motion)} states at stride "
                                 f"{video.stride}; delete {trajectory_dir(video, root)} to replay again")
            out.append(Episode(clip.frames, motion, clip.language))
    return out


def motion_windows(motion: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """(len(starts), window, MOTION_DIM): the motion from each start on, padded past the end with the last step
    (the arm holds still after the episode)."""
    steps = np.minimum(starts[:, None] + np.arange(window)[None], len(motion) - 1)
    return motion[steps]


class WindowSource:
    """Tokenizer training batches: trajectory windows starting every `stride` steps of every episode."""

    def __init__(self, episodes: list[Episode], window: int, stride: int):
        self.windows = np.concatenate([motion_windows(e.motion, np.arange(0, len(e.motion), stride), window)
                                       for e in episodes])

    def __len__(self) -> int:
        return len(self.windows)

    def batch(self, idx: np.ndarray) -> dict:
        return {"motion": self.windows[idx]}


class MotionTextImage:
    """Pretraining batches: an agentview frame, its instruction index and the motion tokens of the following
    window (what the arm does next from that frame)."""

    def __init__(self, frames: np.ndarray, task: np.ndarray, tokens: np.ndarray, camera: str):
        self.frames, self.task, self.tokens, self.camera = frames, task, tokens, camera

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, idx: np.ndarray) -> dict:
        return {self.camera: self.frames[idx], "task": self.task[idx], "motion_tokens": self.tokens[idx]}
