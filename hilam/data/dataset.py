"""Training windows from a suite's demos: (images, proprio, language, action chunk), in memory as uint8.

Every step of every selected demo is one sample. Demos are chosen per task by the nested data
fraction (`fractions.py`); images stay uint8 in RAM and batches are gathered with NumPy indexing,
so a training step never waits on I/O or decoding. With `observation="state"` a sample holds the
privileged observation (`hilam.envs.privileged`, recorded by the state pass) instead of images and proprio
(state-based policies: nothing is rendered).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from hilam.data.fractions import select_demos
from hilam.data.schema import (AS_STORED, IMAGE_KEYS, SCRIPTED, Demo, DemoFileError, file_attrs, obs_alignment,
                               read_task_file, source_of, task_file)
from hilam.envs.privileged import feature_mask
from hilam.envs.suites import TaskSpec, resolve_suite, task_specs


@dataclass
class DatasetConfig:
    """Which demos, and how samples are cut from them."""

    root: str = "data/demos"
    suite: str = "libero_10"
    frac: float = 1.0
    seed: int = 0  # seeds the per-task demo permutation of the data fractions
    chunk: int = 10  # action chunk length (BAKU: 10)
    image_size: int = 0  # 0 = as stored; smaller sizes are area-downsampled once at load
    tasks: tuple[int, ...] = ()  # empty = every task of the suite
    observation: str = "images"  # "images" (cameras + proprio) or "state" (privileged simulator state)

    def __post_init__(self):
        check_observation(self.observation)


OBSERVATIONS = ("images", "state")


def check_observation(observation: str) -> str:
    """`observation` if a policy can read it ("images" or "state"), else a ValueError naming the known ones."""
    if observation not in OBSERVATIONS:
        raise ValueError(f"unknown observation {observation!r}; known: {', '.join(OBSERVATIONS)}")
    return observation


def pad_state(state: np.ndarray, width: int) -> np.ndarray:
    """Zero-pad (..., d) to (..., width): tasks' scenes hold different objects, so their states differ in size."""
    if state.shape[-1] > width:
        raise ValueError(f"a state of width {state.shape[-1]} does not fit the policy's {width}")
    return np.pad(state, [(0, 0)] * (state.ndim - 1) + [(0, width - state.shape[-1])])


def proprio_of(obs: dict) -> np.ndarray:
    """BAKU's proprioception: 7 joint positions + 2 gripper joint positions, (..., 9)."""
    return np.concatenate([obs["joint_states"], obs["gripper_states"]], axis=-1).astype(np.float32)


def split_proprio(proprio: np.ndarray) -> dict[str, np.ndarray]:
    """The inverse of `proprio_of`: (..., 9) -> the observation keys it was made from."""
    return {"joint_states": proprio[..., :7], "gripper_states": proprio[..., 7:]}


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Area-downsample (N, H, W, 3) uint8 square images to size x size (0 or the same size: unchanged); a frame that
    is not square is refused, since squeezing it would distort what the policy sees."""
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"images of {images.shape[1]}x{images.shape[2]} px are not square; LIBERO's cameras are")
    if size == 0 or images.shape[1] == size:
        return images
    import cv2

    return np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images])


def selected_demos(root: str, suite: str, task: TaskSpec, frac: float, seed: int = 0,
                   images: bool = True) -> list[Demo]:
    """The demos of one task that data fraction `frac` selects, read from its task file under `root`. Without
    images, the expert's cached state pass serves (nothing rendered), unless the task file is a user's."""
    from hilam.data.generate import cached_state_demos

    path = task_file(root, suite, task.name)
    if not images and source_of(path) == SCRIPTED:
        pool = cached_state_demos(root, task)
        if pool is not None:
            return [pool[i] for i in select_demos(task.name, len(pool), frac, seed)]
    td = read_task_file(path, images=images)
    if not images:  # a user's file holds states only: replay them for what state-based policies observe
        from hilam.data.generate import add_privileged_to_demos

        add_privileged_to_demos(task, td.demos)
    wanted = select_demos(task.name, int(td.attrs.get("pool_size", len(td.demos))), frac, seed)
    by_id = dict(zip(td.demo_ids, td.demos))
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise DemoFileError(f"{path}: data fraction {frac} needs demos {missing[:5]}... which the file does not "
                            f"hold; run `hilam generate --suite {suite} --frac {frac}`")
    return [by_id[i] for i in wanted]


class DemoDataset:
    """All windows of the selected demos; `batch(idx)` gathers many samples at once."""

    def __init__(self, cfg: DatasetConfig):
        self.cfg = cfg
        suite = resolve_suite(cfg.suite)
        use_images = cfg.observation == "images"
        images = {k: [] for k in IMAGE_KEYS} if use_images else {}
        proprio, states, actions, task_ix, starts, lengths = [], [], [], [], [], []
        # every task of the suite has a row (index = task id), so policies know instructions they never saw
        self.instructions: list[str] = [t.language for t in task_specs(suite.name)]
        self.demos_per_task: dict[str, int] = {}
        self.obs_alignment: dict[str, str] = {}  # task -> how its file's observations were paired (schema.obs_alignment)
        self.sim_width: dict[int, int] = {}  # task id -> nq + nv of its scene (state observations)
        offset = 0
        for task in task_specs(suite.name):
            if cfg.tasks and task.task_id not in cfg.tasks:
                continue
            wanted = selected_demos(cfg.root, suite.name, task, cfg.frac, cfg.seed, images=use_images)
            self.demos_per_task[task.name] = len(wanted)
            path = task_file(cfg.root, suite.name, task.name)
            self.obs_alignment[task.name] = obs_alignment(file_attrs(path)) if path.exists() else AS_STORED
            for d in wanted:
                for k in images:
                    images[k].append(resize_images(d.obs[k], cfg.image_size))
                if use_images:
                    proprio.append(proprio_of(d.obs))
                else:
                    states.append(d.privileged)
                    self.sim_width[task.task_id] = d.states.shape[1] - 1  # without the time field
                actions.append(d.actions.astype(np.float32))
                task_ix.append(np.full(len(d), task.task_id, np.int64))
                starts.append(offset)
                lengths.append(len(d))
                offset += len(d)
        self.images = {k: np.concatenate(v) for k, v in images.items()}
        self.proprio = np.concatenate(proprio) if use_images else None
        width = max((x.shape[1] for x in states), default=0)
        self.state = np.concatenate([pad_state(x, width) for x in states]) if states else None  # (N, width)
        self.actions = np.concatenate(actions)
        self.task = np.concatenate(task_ix)
        # for each step: the index of its demo's last step, so chunks never cross into the next demo
        self.last = np.concatenate([np.full(n, s + n - 1) for s, n in zip(starts, lengths)])
        self.first = np.concatenate([np.full(n, s) for s, n in zip(starts, lengths)])  # ... and its first step
        self.demo_lengths = np.asarray(lengths)
        self.demo_starts = np.asarray(starts)  # index of each demo's first step

    def demo_ranks(self) -> np.ndarray:
        """Each demo's position among the demos of its task (0 = its task's first; fractions are nested, so
        demos at rank >= n are those a fraction with n demos per task never saw)."""
        task = self.task[self.demo_starts]
        return np.array([np.sum(task[:d] == t) for d, t in enumerate(task)])

    def __len__(self) -> int:
        return len(self.actions)

    def batch(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Samples at step indices `idx`: uint8 images and proprio (or the state), task index, (B, chunk, 7) actions
        and mask."""
        idx = np.asarray(idx)
        steps = idx[:, None] + np.arange(self.cfg.chunk)[None]
        mask = steps <= self.last[idx][:, None]
        steps = np.minimum(steps, self.last[idx][:, None])  # pad past the end with the final action
        out = {k: v[idx] for k, v in self.images.items()}
        out |= {"proprio": self.proprio[idx]} if self.state is None else {"state": self.state[idx]}
        return out | {"task": self.task[idx], "actions": self.actions[steps], "action_mask": mask}

    def history_index(self, idx: np.ndarray, steps: int, stride: int = 1) -> np.ndarray:
        """(B, steps) step indices of each sample's observation history, oldest first, `stride` apart, ending at `idx`;
        before its demo's first step the first step stands in (what an episode shows before it has a past)."""
        back = np.asarray(idx)[:, None] - stride * np.arange(steps - 1, -1, -1)[None]
        return np.maximum(back, self.first[idx][:, None])

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.batch(np.asarray([i])).items()}

    def fingerprint(self) -> str:
        """What was trained on (each demo's task, length and actions): cells with equal fingerprints saw the same
        demos, on whichever machine or with whichever expert version they were generated."""
        h = hashlib.sha1(self.task.tobytes())
        h.update(self.demo_lengths.tobytes())
        h.update(self.actions.tobytes())
        return h.hexdigest()[:10]

    def state_mask(self, features: str) -> np.ndarray:
        """(suite tasks, width): 1 where feature set `features` (`hilam.envs.privileged.STATE_FEATURES`) reads each
        task's padded state, 0 where it does not; rows of tasks without demos read everything."""
        mask = np.ones((len(self.instructions), self.state.shape[1]), np.float32)
        for t, sim_width in self.sim_width.items():
            mask[t] = feature_mask(features, sim_width, self.state.shape[1])
        return mask

    def stats(self) -> dict[str, np.ndarray]:
        """Per-dimension mean/std/min/max of actions and proprio, for normalisation saved with checkpoints; for
        the state, mean and std per task (`state_mean`, `state_std`: (suite tasks, width); a task's objects differ in
        meaning from another's, so one task's state dims are standardised by its own demos; rows of tasks without
        demos are 0 and 1)."""
        out = {f"{name}_{s}": getattr(np, s)(arr, axis=0)
               for name, arr in (("actions", self.actions), ("proprio", self.proprio)) if arr is not None
               for s in ("mean", "std", "min", "max")}
        if self.state is not None:
            n = len(self.instructions)
            out["state_mean"] = np.zeros((n, self.state.shape[1]), np.float32)
            out["state_std"] = np.ones((n, self.state.shape[1]), np.float32)
            for t in np.unique(self.task):
                rows = self.state[self.task == t]
                out["state_mean"][t], out["state_std"][t] = rows.mean(0), rows.std(0)
        return out


class StateHistorySource:
    """A `DemoDataset` whose samples' "state" is the observation history (B, steps, width), oldest first
    (`DemoDataset.history_index`); everything else as the dataset's own batch."""

    def __init__(self, data: DemoDataset, steps: int, stride: int = 1):
        if data.state is None:
            raise ValueError("an observation history of the state needs a dataset of states (observation='state')")
        self.data, self.steps, self.stride = data, steps, stride

    def __len__(self) -> int:
        return len(self.data)

    def batch(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        idx = np.asarray(idx)
        return self.data.batch(idx) | {"state": self.data.state[self.data.history_index(idx, self.steps, self.stride)]}
