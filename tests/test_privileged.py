"""The privileged observation of state-based policies (hilam.envs.privileged): the state plus the gripper's and the
objects' poses from forward kinematics, read without touching the live simulation, recorded by the state pass with
each episode's fixtures, added to a state pass cached before it existed, and replayed for a user's file."""
from __future__ import annotations

import numpy as np
import pytest

from hilam.data.generate import (GenerateConfig, add_privileged_to_demos, cached_state_demos, episode_seed, state_pass,
                                 states_path)
from hilam.data.schema import Demo, DemoFileError
from hilam.envs.libero_env import LiberoEnv
from hilam.envs.privileged import rot6
from hilam.envs.suites import task_spec
from tests.test_render_mode import STOVE_TASK, fake_expert  # noqa: F401 (a fixture)

pytestmark = pytest.mark.sim


def test_rot6_is_the_first_two_columns():
    mat = np.arange(9.0).reshape(3, 3)
    assert rot6(mat.ravel()).tolist() == [0, 3, 6, 1, 4, 7]


def test_privileged_observation_holds_the_state_and_the_poses_and_leaves_the_physics_alone():
    env = LiberoEnv(task_spec(*STOVE_TASK), render=False)
    obs = env.reset(seed=3)
    view, state = env.privileged_view, obs["sim_state"]
    nq, nv = view.model.nq, view.model.nv
    p = obs["privileged"]
    assert p.shape == (view.width,) and p.dtype == np.float32
    np.testing.assert_array_equal(p[:nq + nv], state[1:].astype(np.float32))
    env.jump(state)  # the live sim's own kinematics at this state
    data = env.sim.data
    eef = np.array(data.site_xpos[env.sim_env.robots[0].eef_site_id])
    np.testing.assert_allclose(p[nq + nv:nq + nv + 3], eef, atol=1e-6)
    stove = env.sim_env.obj_body_id["flat_stove_1"]
    at = nq + nv + 9 + 3 * view.names.index("flat_stove_1")
    np.testing.assert_allclose(p[at:at + 3], data.body_xpos[stove] - eef, atol=1e-6)
    # reading it at another state never changes what the simulation does next
    push = np.array([0.5, 0, -0.3, 0, 0, 0, 1.0])
    runs = []
    for peek in (False, True):
        env.reset(seed=3)
        for _ in range(15):
            env.step(push)
            if peek:
                env.privileged(state)
        runs.append(env.get_state())
    assert np.array_equal(*runs)


@pytest.fixture
def stove_pass(tmp_path, fake_expert):
    """A one-episode state pass of the stove task (its fixture placed at the episode's reset): task, config, demo."""
    task = task_spec(*STOVE_TASK)
    cfg = GenerateConfig(suite=task.suite, tasks=(task.task_id,), root=str(tmp_path), demos_per_task=1,
                         max_attempts=1, render=False)
    state_pass(task, cfg)
    (demo,) = cached_state_demos(cfg.root, task)
    return task, cfg, demo


def test_state_pass_records_it_with_the_episodes_fixtures_and_adds_it_to_an_old_cache(stove_pass):
    task, cfg, demo = stove_pass
    live = LiberoEnv(task, render=False)
    live.reset(seed=episode_seed(cfg.seed, task, 0))  # the episode's reset: its stove pose
    np.testing.assert_array_equal(demo.privileged, np.stack([live.privileged(s) for s in demo.states]))
    live.reset(seed=episode_seed(cfg.seed, task, 0) + 1)  # the stove elsewhere: the observation says so
    assert not np.array_equal(live.privileged(demo.states[0]), demo.privileged[0])

    path = states_path(cfg.root, task)
    with np.load(path) as z:  # a cache from before privileged observations were recorded
        old = {k: z[k] for k in z.files if not k.startswith("privileged")}
    np.savez(path, **old)
    with pytest.raises(DemoFileError, match="predates privileged observations"):
        cached_state_demos(cfg.root, task)
    state_pass(task, cfg)  # cached and complete: only the observations are added
    (again,) = cached_state_demos(cfg.root, task)
    np.testing.assert_array_equal(again.privileged, demo.privileged)
    np.testing.assert_array_equal(again.states, demo.states)


def test_a_users_states_are_replayed_for_it_and_their_unknown_fixture_poses_are_said(stove_pass):
    task, _, ours = stove_pass
    theirs = Demo(actions=ours.actions, states=ours.states, obs={})  # an official file: states, no fixture poses
    with pytest.warns(UserWarning, match="1 episodes do not record where their fixtures stood"):
        add_privileged_to_demos(task, [theirs])
    assert theirs.privileged.shape == ours.privileged.shape
    view = LiberoEnv(task, render=False).privileged_view
    nq, nv = view.model.nq, view.model.nv
    np.testing.assert_array_equal(theirs.privileged[:, :nq + nv + 9], ours.privileged[:, :nq + nv + 9])  # robot alike
