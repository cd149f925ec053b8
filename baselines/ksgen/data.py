"""Key-step frames of a suite's demos: replay each state-pass episode's predicates (no rendering) to find its
key steps, then render agentview only at t=0 and at those steps. That is three or four frames a demo instead
of hundreds, so every one of the 50 episodes per task serves (40 to train on, 10 held out).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hilam.atomic import atomic_savez
from hilam.envs.render_mode import LIBERO
from hilam.envs.suites import TaskSpec, task_specs

CAMERA = "agentview_rgb"


@dataclass
class KeyStepConfig:
    suite: str = "libero_10"
    root: str = "data/demos"  # where `hilam generate` put the state pass (<root>/<suite>/states/*.npz)
    cache: str = "data/keysteps"
    render_size: int = 128  # as the demos are rendered
    image_size: int = 64  # what the generator sees
    test_per_task: int = 10  # the last episodes of each task's pool are held out
    tasks: tuple[int, ...] = ()  # empty: every task of the suite
    render_mode: str = LIBERO  # how the frames are drawn (hilam.envs.render_mode), as the demos are


@dataclass
class KeyStepSet:
    """Flat rows, one per image: a demo's first frame (order 0) then its key-step frames (order 1, 2, ...)."""

    images: np.ndarray  # (M, H, W, 3) uint8
    demo: np.ndarray  # (M,) demo number
    order: np.ndarray  # (M,) 0 = first frame, k = k-th key step
    step: np.ndarray  # (M,) control step of the frame
    task: np.ndarray  # (M,) task id
    test: np.ndarray  # (M,) held-out demo

    def demos(self) -> list[np.ndarray]:
        """Row indices of each demo, in key-step order."""
        return [np.flatnonzero(self.demo == d)[np.argsort(self.order[self.demo == d])] for d in np.unique(self.demo)]

    def pairs(self, test: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first-frame row, previous-key-step row, target row) of every key step of the train or test demos."""
        out = [(rows[0], rows[k - 1], rows[k]) for rows in self.demos() if self.test[rows[0]] == test
               for k in range(1, len(rows))]
        return tuple(np.asarray(c) for c in zip(*out)) if out else (np.zeros(0, int),) * 3


def cache_path(cfg: KeyStepConfig) -> Path:
    tasks = "-tasks" + "_".join(map(str, cfg.tasks)) if cfg.tasks else ""
    mode = "" if cfg.render_mode == LIBERO else f"-{cfg.render_mode}"  # caches from before render modes keep their names
    return Path(cfg.cache) / f"{cfg.suite}-{cfg.image_size}px{tasks}{mode}.npz"


def demo_key_frames(task: TaskSpec, episodes: list[tuple[np.ndarray, np.ndarray]], cfg: KeyStepConfig) -> list[dict]:
    """Per episode: its key steps (predicate replay) and the agentview frames at t=0 and at each key step."""
    import cv2

    from hilam.envs.libero_env import LiberoEnv
    from hilam.keysteps import key_steps, predicate_trace

    state_env = LiberoEnv(task, render=False)
    view_env = LiberoEnv(task, render=True, image_size=cfg.render_size, cameras=(CAMERA,), render_mode=cfg.render_mode)
    out = []
    try:
        for states, actions in episodes:
            _, table = predicate_trace(state_env, states, ended_in_success=True)  # the state pass keeps successes only
            steps = [0, *key_steps(table)]
            frames = []
            for t in steps:  # step len(states), the success state, is shown by re-simulating the last action
                obs = view_env.set_state(states[min(t, len(states) - 1)])
                if t == len(states):
                    obs = view_env.step(actions[-1])
                frames.append(cv2.resize(obs[CAMERA], (cfg.image_size,) * 2, interpolation=cv2.INTER_AREA))
            out.append({"steps": steps, "frames": frames})
    finally:
        state_env.close()
        view_env.close()
    return out


def build(cfg: KeyStepConfig) -> KeyStepSet:
    """Extract (or load from the cache) the key-step frames of every state-pass episode of the suite."""
    from hilam.data.generate import GenerateConfig, load_state_episodes

    path = cache_path(cfg)
    if path.exists():
        with np.load(path) as z:
            return KeyStepSet(**{k: z[k] for k in KeyStepSet.__dataclass_fields__})
    rows = {k: [] for k in KeyStepSet.__dataclass_fields__}
    specs = [t for t in task_specs(cfg.suite) if not cfg.tasks or t.task_id in cfg.tasks]
    demo = 0
    for task in tqdm(specs, desc="key steps", unit="task"):
        try:
            episodes = load_state_episodes(GenerateConfig(suite=cfg.suite, root=cfg.root), task)
        except FileNotFoundError as e:
            raise SystemExit(f"{e.filename}: no state pass for {task.name}; run `hilam generate --suite {cfg.suite} "
                             f"--no-render --root {cfg.root}` first") from None
        for i, d in enumerate(demo_key_frames(task, episodes, cfg)):
            for k, (t, f) in enumerate(zip(d["steps"], d["frames"])):
                for key, v in (("images", f), ("demo", demo), ("order", k), ("step", t), ("task", task.task_id),
                               ("test", i >= len(episodes) - cfg.test_per_task)):
                    rows[key].append(v)
            demo += 1
    data = KeyStepSet(**{k: np.asarray(v) for k, v in rows.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_savez(path, **{k: getattr(data, k) for k in rows})
    return data
