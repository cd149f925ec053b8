"""Demo recipes on the real simulator: start noise through robosuite's own reset noise, DART's clean labels under
noisy execution, the recipe recorded in every file, one recipe per data root."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hilam.data.expert.rollout import expert_episode
from hilam.data.generate import GenerateConfig, RecipeMismatch, generate, stats_path
from hilam.data.recipes import get_recipe
from hilam.data.schema import file_attrs, task_file
from hilam.envs.libero_env import LiberoEnv
from hilam.envs.suites import task_spec

pytestmark = pytest.mark.sim  # every test here runs the simulator (make test-fast skips them)

TASK = ("libero_object", 3)


def test_start_noise_moves_the_arm_joints_at_each_reset_and_only_then():
    task = task_spec(*TASK)
    clean, noisy = LiberoEnv(task, render=False), LiberoEnv(task, render=False, start_noise=0.02)
    joints = {name: [env.reset(seed=s)["joint_states"] for s in (1, 2)] for name, env in (("clean", clean),
                                                                                          ("noisy", noisy))}
    np.testing.assert_allclose(*joints["clean"], atol=1e-6)  # one start pose, whatever the placement seed
    spread = np.abs(joints["noisy"][0] - joints["noisy"][1])
    assert 0.002 < spread.mean() < 0.1  # ~0.02 rad per joint, twice
    np.testing.assert_allclose(noisy.reset(seed=1)["joint_states"], joints["noisy"][0])  # seeded: reproducible


def test_dart_executes_noisy_actions_but_records_the_experts_clean_ones():
    env = LiberoEnv(task_spec(*TASK), render=False)
    clean = expert_episode(env, seed=5, max_steps=60)
    noisy = expert_episode(env, seed=5, max_steps=60, action_noise=0.2)
    np.testing.assert_array_equal(noisy.states[0], clean.states[0])
    np.testing.assert_array_equal(noisy.actions[0], clean.actions[0])  # the expert's action, not the executed one
    assert not np.allclose(noisy.states[1], clean.states[1])  # what ran was perturbed
    assert np.abs(noisy.actions).max() <= 1.0
    # replaying the recorded (clean) actions does not reproduce the noisy states: the labels are not what was run
    env.reset(seed=5)
    env.step(noisy.actions[0])
    assert not np.allclose(env.get_state(), noisy.states[1])


def test_the_recipe_is_recorded_and_a_root_of_another_recipe_is_refused(tmp_path):
    cfg = GenerateConfig(suite=TASK[0], tasks=(TASK[1],), root=str(tmp_path), demos_per_task=1, max_attempts=3,
                         workers=1, image_size=32, recipe="dart20")
    (stats,) = generate(cfg)
    task = task_spec(*TASK)
    assert json.loads(stats_path(tmp_path, task).read_text())["recipe"] == get_recipe("dart20").record()
    assert json.loads(file_attrs(task_file(tmp_path, *TASK[:1], task.name))["recipe"])["action_noise"] == 0.2
    with pytest.raises(RecipeMismatch, match="made with recipe 'dart20', this run asks for 'clean'"):
        generate(GenerateConfig(**{**cfg.__dict__, "recipe": "clean"}))
    with pytest.raises(ValueError, match="unknown demo recipe 'noisy'"):
        generate(GenerateConfig(**{**cfg.__dict__, "recipe": "noisy"}))


def test_without_jitter_the_experts_actions_depend_on_the_scene_alone():
    env = LiberoEnv(task_spec(*TASK), render=False)
    env.reset(seed=1)
    start = env.get_state()  # one placement, two expert seeds
    fixed = [expert_episode(env, seed=s, max_steps=60, init_state=start, jitter=False).actions for s in (5, 6)]
    drawn = [expert_episode(env, seed=s, max_steps=60, init_state=start).actions for s in (5, 6)]
    np.testing.assert_array_equal(*fixed)
    assert not np.array_equal(*drawn)  # the default expert draws its speed and offsets per episode
    for fixed in ("dart10", "dart20"):  # each fixed recipe is its drawn one with the choices fixed, nothing else
        assert get_recipe(f"{fixed}_fixed").record() | {"name": fixed, "jitter": True} == get_recipe(fixed).record()


def test_a_driver_shares_control_while_the_demo_records_the_experts_actions():
    """DAgger's mixing: with beta = 0 every executed arm action is the driver's (the gripper command the expert's),
    with beta = 1 none is; the recorded actions are the expert's either way, and the driver is asked at every step
    (its ensemble follows the episode)."""
    from hilam.data.expert.rollout import PolicyDriver

    class Still:  # an evaluator policy that always asks for the same action
        def __init__(self):
            self.calls, self.resets = 0, 0

        def reset(self, slot):
            self.resets += 1

        def act(self, obs, slots):
            assert obs[0]["privileged"].ndim == 1 and obs[0]["language"] == "go"
            self.calls += 1
            return np.array([[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]])  # (a gripper command that is not executed)

    env = LiberoEnv(task_spec(*TASK), render=False)
    alone = expert_episode(env, seed=5, max_steps=8)
    policy = Still()
    driven = expert_episode(env, seed=5, max_steps=8, driver=PolicyDriver(policy, "go"), beta=0.0)
    assert policy.calls == 8 and policy.resets == 1
    np.testing.assert_array_equal(driven.actions[0], alone.actions[0])  # the label is the expert's
    env.reset(seed=5)
    env.step(np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, alone.actions[0][6]]))
    np.testing.assert_array_equal(env.get_state(), driven.states[1])  # ... what ran was the driver's
    assert not np.allclose(driven.states[1], alone.states[1])
    ignored = expert_episode(env, seed=5, max_steps=8, driver=PolicyDriver(Still(), "go"), beta=1.0)
    np.testing.assert_array_equal(ignored.states, alone.states)


def test_a_recipe_with_a_driver_records_it_and_refuses_a_driver_of_another_suite(tmp_path):
    from hilam.data.generate import check_driver
    from hilam.data.recipes import DemoRecipe

    dagger = get_recipe("dart20_fixed_dagger")
    assert dagger.record()["driver"].endswith(".json") and dagger.record()["beta"] == 0.5
    assert "driver" not in get_recipe("dart20_fixed").record()  # recipes without one read as before
    with pytest.raises(ValueError, match="below 1 with a driver"):
        DemoRecipe("x", driver="cell.json")
    with pytest.raises(ValueError, match="generating libero_object needs a baku_state cell of libero_object"):
        check_driver(dagger, "libero_object")
    with pytest.raises(FileNotFoundError, match="driver cell .*missing.json does not exist"):
        check_driver(DemoRecipe("x", driver=str(tmp_path / "missing.json"), beta=0.5), "libero_10")
