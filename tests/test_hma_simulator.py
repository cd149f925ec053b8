"""HMA as a simulator: the success judge's examples and learning, the world model stepped like an env, and the
policy-evaluation loop's bookkeeping."""
from __future__ import annotations

import numpy as np
import pytest

from baselines.hma.config import JudgeConfig, preset
from baselines.hma.run import Demo, episodes_from_demos, fit
from baselines.hma.simulator import WorldModelSim, evaluate_in_world_model
from baselines.hma.success import fit_judge, judge_accuracy, success_examples
from hilam.scripted_policies import ConstantPolicy
from tests.test_hma import synthetic_demos


def test_success_examples_take_the_last_frames_as_done_and_skip_the_margin():
    demo = Demo(np.zeros((40, 1, 8, 8, 3), np.uint8), np.zeros((40, 7)), np.zeros((40, 9)), task=1)
    cfg = JudgeConfig(success_steps=4, margin_steps=8, negative_every=4)
    images, labels, task = success_examples([demo], cfg, 8, tasks=3)
    assert labels.tolist() == [1] * 4 + [3] * 7  # frames 36-39 done; 0, 4, ..., 24 not yet (28-35 left out)
    assert images.shape == (11, 8, 8, 3) and set(task.tolist()) == {1}


def square_demo(task: int, rng: np.random.Generator, length: int = 24, size: int = 16) -> Demo:
    """A square slides in from the left; it ends in the task's own corner (0: top right, 1: bottom right)."""
    views = np.full((length, 1, size, size, 3), 40, np.uint8)
    end_y = 1 if task == 0 else size - 6
    for t in range(length):
        x = round((size - 6) * t / (length - 1))
        y = round(size // 2 - 2 + (end_y - (size // 2 - 2)) * t / (length - 1))
        views[t, 0, y:y + 5, x:x + 5] = (230, 200, 60)
    views = np.clip(views.astype(int) + rng.integers(-10, 10, views.shape), 0, 255).astype(np.uint8)
    return Demo(views, np.zeros((length, 7), np.float32), np.zeros((length, 9), np.float32), task)


def test_judge_learns_which_task_is_done(tmp_path):
    rng = np.random.default_rng(0)
    cfg = preset("smoke", judge=JudgeConfig(widths=(8, 16), groups=4, shift=1, success_steps=2, margin_steps=6,
                                            negative_every=1, threshold=0.5, reconstructed=False))
    cfg.judge.train.steps, cfg.judge.train.lr = 600, 3e-3
    demos = [square_demo(t, rng) for t in (0, 1) for _ in range(4)]
    judge, info = fit_judge(cfg, demos, tasks=2, out_dir=tmp_path)
    assert info["success_examples"] == 16
    held = [square_demo(t, rng) for t in (0, 1) for _ in range(2)]
    acc = judge_accuracy(judge, held, cfg, tasks=2)
    assert acc["balanced"] > 0.9
    last = np.stack([d.views[-1, 0] for d in held])
    own, other = np.asarray([d.task for d in held]), np.asarray([1 - d.task for d in held])
    assert judge(last, own).all() and not judge(last, other).any()  # the other task's goal is not reached
    cfg.judge.reconstructed, cfg.judge.train.steps = True, 1
    with pytest.raises(ValueError, match="reconstruct"):
        fit_judge(cfg, demos, tasks=2, out_dir=tmp_path / "r")
    _, both = fit_judge(cfg, demos, tasks=2, out_dir=tmp_path / "r", reconstruct=lambda x: x // 2)
    assert both["examples"] == 2 * info["examples"] and both["success_examples"] == 32  # real + reconstructed


def first_obs(demos: list[Demo], cameras: tuple[str, ...]) -> list[dict]:
    return [{cam: d.views[0, v] for v, cam in enumerate(cameras)} | {
        "joint_states": d.states[0, :7], "gripper_states": d.states[0, 7:], "language": f"task {d.task}",
        "task_id": d.task, "episode": i} for i, d in enumerate(demos)]


@pytest.fixture(scope="module")
def smoke_world(tmp_path_factory):
    cfg = preset("smoke")
    demos = synthetic_demos()
    tok, model, _ = fit(cfg, episodes_from_demos(demos, cfg), tmp_path_factory.mktemp("hma"))
    return cfg, tok, model, demos


def test_world_model_steps_like_an_env(smoke_world):
    cfg, tok, model, demos = smoke_world
    sim = WorldModelSim(cfg, tok, model)
    obs = sim.reset(first_obs(demos[:3], cfg.cameras))
    assert [o["episode"] for o in obs] == [0, 1, 2] and obs[0]["agentview_rgb"].shape == (16, 16, 3)
    for _ in range(4):  # longer than the model's window: the context stays bounded
        obs = sim.step(np.random.default_rng(0).uniform(-1, 1, (3, cfg.dynamics.frame_stride, 7)))
        assert sim.codes.shape[1] <= cfg.dynamics.frames - 1 and sim.actions.shape[1] == sim.codes.shape[1] - 1
    o = obs[2]
    assert o["eye_in_hand_rgb"].dtype == np.uint8 and o["joint_states"].shape == (7,) and o["gripper_states"].shape == (2,)
    assert o["language"] == "task 1" and o["task_id"] == 1


class JudgeAfter:
    """A test double: says task 1 is done from the `k`-th frame it is shown on, never task 0."""

    def __init__(self, k: int):
        self.k, self.calls = k, 0

    def __call__(self, images: np.ndarray, task: np.ndarray) -> np.ndarray:
        self.calls += 1
        return (task == 1) & (self.calls >= self.k)


def test_policy_evaluation_in_the_world_model_counts_judged_successes(smoke_world):
    cfg, tok, model, demos = smoke_world
    sim = WorldModelSim(cfg, tok, model)
    first = first_obs(demos, cfg.cameras)  # tasks 0, 0, 1, 1
    judge = JudgeAfter(k=3)
    r = evaluate_in_world_model(ConstantPolicy(), sim, judge, first, max_steps=5 * cfg.dynamics.frame_stride)
    assert r["outcomes"] == [False, False, True, True] and r["per_task"] == {0: 0.0, 1: 1.0}
    assert r["success_rate"] == 0.5 and r["episodes"] == 4 and judge.calls == 5  # task 0 never ends early
    late = evaluate_in_world_model(ConstantPolicy(), sim, JudgeAfter(k=9), first, max_steps=5 * cfg.dynamics.frame_stride)
    assert late["success_rate"] == 0.0  # done only after the step limit: a failure
