"""HMA as a simulator for policies: episodes start from real first observations (the official init states the
real evaluation uses), then the world model generates every later frame of both cameras and the proprio from
the policy's actions, and the success judge reads the frames.

The world model moves `frame_stride` control steps per frame, so the policy is asked for that many actions per
frame on the same observation (its temporal ensemble steps on as in the simulator); this is stated with the
results.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from baselines.hma.config import HMAConfig
from baselines.hma.dynamics import WorldModel
from baselines.hma.run import frame_codes, frame_views
from baselines.hma.success import SuccessJudge
from baselines.hma.tokenizer import ImageTokenizer
from hilam.data.dataset import proprio_of, resize_images, split_proprio
from hilam.evaluate import (
    EvalConfig,
    Policy,
    episode_seed,
    plan_episodes,
    wilson_interval,
)


def first_observations(cfg: EvalConfig) -> list[dict]:
    """The first observation of each episode the real evaluation with `cfg` runs (same init states, same
    seeds), rendered once in this process; tagged with language, task id and episode index."""
    from hilam.envs.libero_env import LiberoEnv

    out, env = [], None
    for ep in plan_episodes(cfg):
        if env is None or env.task != ep.task:
            if env is not None:
                env.close()
            env = LiberoEnv(ep.task, image_size=cfg.image_size, render_mode=cfg.render_mode)
        obs = env.reset(ep.init_state, seed=episode_seed(cfg, ep))
        out.append(obs | {"language": ep.task.language, "task_id": ep.task.task_id, "episode": ep.index})
    if env is not None:
        env.close()
    return out


class WorldModelSim:
    """A batch of episodes inside the world model: `reset` from real observations, `step` with each episode's
    next `frame_stride` actions; observations come back in the simulator's keys."""

    def __init__(self, cfg: HMAConfig, tok: ImageTokenizer, model: WorldModel, space: str = "libero_osc"):
        self.cfg, self.tok, self.model, self.space = cfg, tok, model, space
        self.codes = self.actions = None
        self.tags: list[dict] = []

    def reset(self, first: list[dict]) -> list[dict]:
        size = self.cfg.tokenizer.image_size
        views = np.stack([np.stack([resize_images(o[c][None], size)[0] for c in self.cfg.cameras]) for o in first])
        self.codes = torch.as_tensor(frame_codes(self.tok, views))[:, None]  # (B, 1, V * N)
        self.actions = torch.zeros(len(first), 0, self.model.stems[self.space].mean.numel())
        self.tags = [{k: o[k] for k in ("language", "task_id", "episode")} for o in first]
        return self._observe(np.stack([proprio_of(o) for o in first]))

    def step(self, actions: np.ndarray) -> list[dict]:
        """actions (B, frame_stride, A) -> the observations one world-model frame later."""
        acts = torch.cat([self.actions, torch.as_tensor(actions, dtype=torch.float32).flatten(1)[:, None]], 1)
        new, state = self.model.next_frame(self.codes, acts, self.space, with_state=True)
        window = torch.cat([self.codes, new[:, None]], 1)
        self.codes = window[:, -(self.model.cfg.frames - 1):]  # the context the next frame is generated from
        self.actions = acts[:, acts.shape[1] - (self.codes.shape[1] - 1):]  # the actions between those frames
        return self._observe(state.cpu().numpy())

    def keep(self, rows: np.ndarray) -> None:
        """Go on with these episodes of the batch only (the others have ended)."""
        self.codes, self.actions = self.codes[rows], self.actions[rows]
        self.tags = [self.tags[i] for i in rows]

    def _observe(self, proprio: np.ndarray) -> list[dict]:
        views = frame_views(self.tok, self.codes[:, -1], len(self.cfg.cameras))
        return [{cam: v[i] for i, cam in enumerate(self.cfg.cameras)} | split_proprio(p) | tag
                for v, p, tag in zip(views, proprio, self.tags)]


def evaluate_in_world_model(policy: Policy, sim: WorldModelSim, judge: SuccessJudge, first: list[dict],
                            max_steps: int, batch: int = 50) -> dict:
    """Roll the policy out in the world model from these first observations for up to `max_steps` control
    steps; an episode succeeds at the first frame the judge calls done. Returns the success rate (Wilson
    interval), per-task rates and per-episode outcomes."""
    stride = sim.model.cfg.frame_stride
    success = np.zeros(len(first), bool)
    t0, frames = time.perf_counter(), 0
    for lo in tqdm(range(0, len(first), batch), desc="world-model episodes", unit="batch", dynamic_ncols=True):
        part = first[lo:lo + batch]
        live = np.arange(len(part))  # the episodes still running; also their policy slots
        for s in live:
            policy.reset(int(s))
        obs = sim.reset(part)
        task = np.asarray([o["task_id"] for o in part])
        for _ in range(max_steps // stride):
            slots = live.tolist()
            actions = np.stack([policy.act(obs, slots) for _ in range(stride)], 1)  # (B, stride, A)
            obs = sim.step(actions)
            frames += len(live)
            done = judge(np.stack([o[sim.cfg.cameras[0]] for o in obs]), task[live])
            success[lo + live[done]] = True
            if done.all():
                break
            if done.any():
                sim.keep(np.flatnonzero(~done))
                live, obs = live[~done], [o for o, d in zip(obs, done) if not d]
    per_task: dict[int, list[bool]] = {}
    for o, ok in zip(first, success):
        per_task.setdefault(int(o["task_id"]), []).append(bool(ok))
    k, n = int(success.sum()), len(success)
    return {"success_rate": k / n if n else 0.0, "ci95": wilson_interval(k, n), "episodes": n,
            "per_task": {t: float(np.mean(v)) for t, v in sorted(per_task.items())},
            "outcomes": success.tolist(), "seconds": time.perf_counter() - t0,
            "generated_frames_per_s": frames / max(time.perf_counter() - t0, 1e-9)}

