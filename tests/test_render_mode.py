"""Render modes (hilam.envs.render_mode): the fast mode changes pixels only (physics bit for bit LIBERO's), its
decimated meshes are cached by content and remade when missing, the render pass re-renders a task file of another
mode from the cached states, a cell refuses demos of one mode evaluated in another, and the render pass draws the
fixtures where the episode had them."""
from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from hilam.data.expert.rollout import ExpertEpisode
from hilam.data.generate import (GenerateConfig, episode_seed, load_fixture_poses, render_episode, render_pass,
                                 state_pass, states_path)
from hilam.data.schema import file_attrs, read_task_file, task_file
from hilam.envs import render_mode as rm
from hilam.envs.gl import select_gl_backend
from hilam.envs.libero_env import LiberoEnv
from hilam.envs.suites import SETTLE_ACTION, task_spec

SIZE = 32
OBJECT_TASK = ("libero_object", 3)
STOVE_TASK = ("libero_10", 2)  # kitchen: the stove is a fixture LIBERO places at each reset
ROBOSUITE = Path(__import__("robosuite").__file__).parent / "models" / "assets"
HAND = ROBOSUITE / "grippers" / "meshes" / "panda_gripper" / "hand_vis.stl"  # 7078 faces, no texture
FINGER = ROBOSUITE / "grippers" / "meshes" / "panda_gripper" / "finger_vis.stl"  # 624 faces: left alone


@pytest.fixture(autouse=True)
def _mesh_cache(tmp_path_factory, monkeypatch):
    """One decimated-mesh cache per test run (never the user's ~/.cache), shared by this file's tests."""
    monkeypatch.setenv(rm.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "meshes"))
    select_gl_backend()


def test_only_meshes_no_collision_or_inertia_uses_are_visual():
    xml = """<mujoco><compiler inertiagrouprange="0 0"/><asset>
      <mesh name="vis" file="/a.stl"/><mesh name="shared" file="/b.stl"/><mesh name="col" file="/c.stl"/>
      <mesh name="heavy" file="/d.stl"/><mesh name="implicit" file="/e.stl"/></asset><worldbody>
      <geom type="mesh" mesh="vis" contype="0" conaffinity="0" group="1"/>
      <geom type="mesh" mesh="shared" contype="0" conaffinity="0" group="1"/><geom type="mesh" mesh="shared"/>
      <geom type="mesh" mesh="col" group="1"/>
      <geom type="mesh" mesh="heavy" contype="0" conaffinity="0" group="0"/>
      <geom type="mesh" mesh="implicit" contype="0" conaffinity="0"/></worldbody></mujoco>"""
    assert rm.visual_only_meshes(ET.fromstring(xml)) == {"vis"}  # group 0 counts for inertia; so does no group


def test_decimated_meshes_are_cached_by_content_and_remade_when_missing(tmp_path):
    cache = tmp_path / "cache"
    copy = tmp_path / "hand_vis.stl"
    shutil.copy(HAND, copy)
    first = rm.decimated_mesh(copy, cache=cache)
    made = first.read_bytes()
    source, small = rm.read_mesh(copy), rm.read_mesh(first)
    assert 0.05 < len(small.faces) / len(source.faces) < 0.2  # ~10% of the faces
    extent = np.ptp(source.vertices, axis=0).max()  # same place and size (the file's frame), within 5%
    assert np.allclose(small.vertices.min(0), source.vertices.min(0), atol=0.05 * extent)
    assert np.allclose(small.vertices.max(0), source.vertices.max(0), atol=0.05 * extent)
    first.unlink()  # a cache entry gone (a fresh machine, a cleaned cache): made again, the same
    assert rm.decimated_mesh(copy, cache=cache) == first and first.read_bytes() == made
    edited = bytearray(HAND.read_bytes())
    edited[-24] ^= 1  # one vertex of the last triangle moved a little: other content, same name
    copy.write_bytes(bytes(edited))
    assert rm.decimated_mesh(copy, cache=cache) != first  # keyed by content, not by name
    assert rm.decimated_mesh(FINGER, cache=cache) is None  # under min_faces: drawn as it is
    assert rm.decimated_mesh(copy, rm.FastRenderConfig(keep=0.2), cache=cache) not in (None, first)


@pytest.mark.sim
def test_fast_mode_draws_cheaper_frames_of_the_same_physics():
    """Same seeded reset, same actions, both modes: every state equal bit for bit; masses and inertias too."""
    task = task_spec(*OBJECT_TASK)
    envs = {mode: LiberoEnv(task, image_size=SIZE, render_mode=mode) for mode in rm.RENDER_MODES}
    lib, fast = envs[rm.LIBERO].sim.model, envs[rm.FAST].sim.model
    assert fast.mesh_facenum.sum() < 0.5 * lib.mesh_facenum.sum()
    assert lib.vis.quality.offsamples == 4 and fast.vis.quality.offsamples == 0
    import mujoco

    flag = mujoco.mjtRndFlag.mjRND_REFLECTION
    assert [e.sim._render_context_offscreen.scn.flags[flag] for e in envs.values()] == [1, 0]
    for name in ("body_mass", "body_inertia", "body_ipos", "body_iquat", "geom_contype", "geom_conaffinity"):
        assert np.array_equal(getattr(lib, name), getattr(fast, name)), name
    collides = (lib.geom_contype | lib.geom_conaffinity) != 0
    for name in ("geom_size", "geom_pos", "geom_quat", "geom_dataid"):  # visual geoms' sizes follow their meshes
        assert np.array_equal(getattr(lib, name)[collides], getattr(fast, name)[collides]), name
    obs = {mode: [env.reset(seed=5)] for mode, env in envs.items()}
    actions = np.random.default_rng(0).uniform(-1, 1, (15, 7))
    for a in actions:
        for mode, env in envs.items():
            obs[mode].append(env.step(a))
    for t, (a, b) in enumerate(zip(obs[rm.LIBERO], obs[rm.FAST])):
        assert np.array_equal(a["sim_state"], b["sim_state"]), f"state {t} differs"
    frames = {mode: np.stack([o["agentview_rgb"] for o in seq]).astype(int) for mode, seq in obs.items()}
    diff = np.abs(frames[rm.LIBERO] - frames[rm.FAST]).mean()
    assert 0 < diff < 20  # other pixels, the same scene


def _fake_expert(steps: int = 3):
    """A stand-in for the scripted expert (its episodes take minutes): the seeded reset, then a few random actions,
    'successful'; what the state pass records of an episode is what is tested here."""
    def episode(env, seed, max_steps, init_state=None, action_noise=0.0, jitter=True, driver=None, beta=1.0):
        env.reset(init_state=init_state, seed=seed)
        actions = np.random.default_rng(seed).uniform(-1, 1, (steps, 7))
        states = []
        for a in actions:
            states.append(env.get_state())
            env.step(a)
        return ExpertEpisode(True, np.asarray(states), actions)
    return episode


@pytest.fixture
def fake_expert(monkeypatch):
    monkeypatch.setattr("hilam.data.expert.rollout.expert_episode", _fake_expert())


@pytest.mark.sim
def test_a_task_file_of_another_mode_is_rendered_again_from_the_cached_states(tmp_path, fake_expert):
    task = task_spec(*OBJECT_TASK)
    cfg = GenerateConfig(suite=task.suite, tasks=(task.task_id,), root=str(tmp_path), demos_per_task=1,
                         max_attempts=1, image_size=SIZE, render_mode=rm.LIBERO)
    state_pass(task, cfg)
    cache = states_path(cfg.root, task)
    made = cache.stat().st_mtime_ns
    out = task_file(cfg.root, task.suite, task.name)
    assert render_pass(task, cfg)["rendered"] == 1 and file_attrs(out)["render_mode"] == rm.LIBERO
    assert render_pass(task, cfg)["rendered"] == 0  # same mode: nothing to do
    before = read_task_file(out).demos[0]
    cfg.render_mode = rm.FAST
    state_pass(task, cfg)  # cached: not run again
    assert render_pass(task, cfg)["rendered"] == 1 and file_attrs(out)["render_mode"] == rm.FAST
    after = read_task_file(out).demos[0]
    assert cache.stat().st_mtime_ns == made  # the state pass's cache untouched
    assert np.array_equal(before.states, after.states) and np.array_equal(before.actions, after.actions)
    assert not np.array_equal(before.obs["agentview_rgb"], after.obs["agentview_rgb"])


@pytest.mark.sim
def test_render_pass_draws_the_fixtures_where_the_episode_had_them(tmp_path, fake_expert):
    """libero_10 task 2: the stove is placed at each reset by writing the model, outside the saved state. The render
    pass's frames of a cached episode equal the frames of the env the episode ran in, at the same states."""
    task = task_spec(*STOVE_TASK)
    cfg = GenerateConfig(suite=task.suite, tasks=(task.task_id,), root=str(tmp_path), demos_per_task=1,
                         max_attempts=1, image_size=SIZE, render_mode=rm.FAST)
    state_pass(task, cfg)
    (poses,) = load_fixture_poses(cfg.root, task)
    assert set(poses) == {"flat_stove_1_main"}
    live = LiberoEnv(task, image_size=SIZE, render_mode=cfg.render_mode)  # the episode again, seen live
    first = live.reset(seed=episode_seed(cfg.seed, task, 0))
    assert all(np.array_equal(pose, live.fixture_poses()[body]) for body, pose in poses.items())
    render_pass(task, cfg)
    demo = read_task_file(task_file(cfg.root, task.suite, task.name)).demos[0]
    seen = [live.set_state(s) for s in demo.states]  # the live env's own observation at each state
    for key in ("agentview_rgb", "eye_in_hand_rgb"):
        assert np.array_equal(demo.obs[key][0], first[key])  # the episode's first observation, as observed
        assert np.array_equal(demo.obs[key], np.stack([o[key] for o in seen])), key
    live.reset(seed=episode_seed(cfg.seed, task, 0) + 1)  # the stove elsewhere: frames without its pose differ
    moved = render_episode(live, demo.states, demo.actions).obs["agentview_rgb"]
    assert not np.array_equal(moved, demo.obs["agentview_rgb"])
    with np.load(states_path(cfg.root, task)) as z:  # a cache from before fixture poses were recorded
        old = {k: z[k] for k in z.files if not k.startswith("fixture")}
    np.savez(states_path(cfg.root, task), **old)
    os.remove(task_file(cfg.root, task.suite, task.name))
    with pytest.warns(UserWarning, match="fixture poses"):
        assert render_pass(task, cfg)["rendered"] == 1  # rendered as before, with a warning


def test_demos_of_one_mode_are_not_evaluated_in_another_unless_asked():
    rm.check_mode_mix({rm.FAST}, rm.FAST)
    with pytest.raises(rm.RenderModeMismatch, match="'libero'.*'fast'"):
        rm.check_mode_mix({rm.LIBERO}, rm.FAST)  # official files (libero) under a cpu profile (fast)
    rm.check_mode_mix({rm.LIBERO}, rm.FAST, allow=True)
    assert rm.recorded_mode({}) == rm.LIBERO and rm.recorded_mode({"render_mode": b"fast"}) == rm.FAST
    with pytest.raises(ValueError, match="unknown render mode"):
        rm.check_render_mode("pretty")
