"""One LIBERO task environment with the suite's observation convention.

Create it inside the process that uses it (never before a fork: inherited EGL contexts crash) and
reuse it across episodes: `reset()` re-samples object placements without rebuilding the simulator.
"""
from __future__ import annotations

import numpy as np

from hilam.envs.privileged import PrivilegedView
from hilam.envs.render_mode import LIBERO, apply_scene_flags, check_render_mode, scene_hook
from hilam.envs.suites import SETTLE_ACTION, SETTLE_STEPS, TaskSpec, task_spec

CAMERAS = {"agentview_rgb": "agentview", "eye_in_hand_rgb": "robot0_eye_in_hand"}
IMAGE_CONVENTION = "opencv"  # images are stored and fed to policies upright (row 0 = top)


def to_upright(image: np.ndarray, convention: str) -> np.ndarray:
    """Return an image (..., H, W, C) in our upright convention given the convention it was made in.

    robosuite renders with OpenGL's convention (row 0 = bottom); official LIBERO files store that
    and say so in `data.attrs["macros_image_convention"]`. This is the only place images flip.
    """
    if convention == "opengl":
        return np.ascontiguousarray(image[..., ::-1, :, :])
    if convention == "opencv":
        return image
    raise ValueError(f"unknown image convention {convention!r} (expected 'opengl' or 'opencv')")


class LiberoEnv:
    """A reusable LIBERO env for one task, with or without camera rendering."""

    def __init__(self, task: TaskSpec, render: bool = True, image_size: int = 128, seed: int = 0,
                 cameras: tuple[str, ...] = tuple(CAMERAS), start_noise: float = 0.0, render_mode: str = LIBERO):
        """`cameras`: which official image keys to render (each costs ~45 ms a frame on a CPU). `start_noise`: std
        (rad) of robosuite's Gaussian noise on the arm joints at each random reset (LIBERO turns it off; demo
        recipes turn it on; evaluation envs keep it off, so their seeded resets draw what they always drew).
        `render_mode`: `libero` (LIBERO's rendering) or `fast` (hilam.envs.render_mode: same physics, cheaper
        pixels); a state-only env (render=False) is the same in both."""
        from libero.libero.envs.env_wrapper import ControlEnv

        self.task = task
        self.render = render
        self.render_mode = check_render_mode(render_mode)
        self.image_size = image_size
        self.cameras = {k: CAMERAS[k] for k in cameras}
        with scene_hook(render_mode if render else LIBERO):
            self._env = ControlEnv(
                bddl_file_name=task.bddl_file,
                has_offscreen_renderer=render,
                use_camera_obs=render,
                camera_names=list(self.cameras.values()),
                camera_heights=image_size,
                camera_widths=image_size,
                hard_reset=False,  # reset() resamples placements in the same simulator
                initialization_noise={"magnitude": start_noise, "type": "gaussian"} if start_noise else None,
            )
        self._env.seed(seed)
        self._fixture_frames = self._xml_fixture_frames()
        self._env.reset()  # makes robosuite's offscreen render context, which holds the mode's scene flags
        apply_scene_flags(self.sim, render_mode)
        self.privileged_view = PrivilegedView(self._env.env)

    @classmethod
    def for_task(cls, suite: str, task_id: int, **kw) -> "LiberoEnv":
        return cls(task_spec(suite, task_id), **kw)

    # ------------------------------------------------------------------ access for experts
    @property
    def sim_env(self):
        """The underlying BDDL domain env (privileged state: objects, sites, predicates)."""
        return self._env.env

    @property
    def sim(self):
        return self._env.env.sim

    # ------------------------------------------------------------------ episode control
    def reset(self, init_state: np.ndarray | None = None, seed: int | None = None,
              settle: int = SETTLE_STEPS) -> dict:
        """Start an episode: from `init_state` (official evaluation) or a fresh random placement.

        LIBERO's placement samplers draw from NumPy's global RNG, so `seed` makes a random reset
        reproducible.
        """
        if seed is not None:
            np.random.seed(seed)
        self._draw_here()
        self._restore_fixture_frames()
        self._env.reset()
        if init_state is not None:
            self._env.set_init_state(np.asarray(init_state, dtype=np.float64))
        self._fresh_controllers()
        for _ in range(settle):
            self._env.step(np.asarray(SETTLE_ACTION))
        return self.observe()

    def _xml_fixture_frames(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Body id -> (pos, quat) of each fixture as written in the model XML, before any placement."""
        env = self._env.env
        frames = {}
        for fixture in env.fixtures_dict.values():
            body = env.model.worldbody.find(f".//body[@name='{fixture.root_body}']")
            pos = np.array((body.get("pos") or "0 0 0").split(), dtype=np.float64)
            quat = np.array((body.get("quat") or "1 0 0 0").split(), dtype=np.float64)
            frames[env.sim.model.body_name2id(fixture.root_body)] = (pos, quat)
        return frames

    def fixture_poses(self) -> dict[str, np.ndarray]:
        """Where this episode's reset put each fixture: root body name -> pos + quat (7 numbers). LIBERO writes them
        into the model, outside the flattened state, so replaying an episode's states needs them too."""
        model = self.sim.model
        return {model.body_id2name(b): np.concatenate([model.body_pos[b], model.body_quat[b]])
                for b in self._fixture_frames}

    def place_fixtures(self, poses: dict[str, np.ndarray]) -> None:
        """Put the fixtures where `fixture_poses` found them (kept until the next `reset`)."""
        model = self.sim.model
        for name, pose in poses.items():
            body = model.body_name2id(name)
            model.body_pos[body], model.body_quat[body] = pose[:3], pose[3:]

    def _restore_fixture_frames(self) -> None:
        """Put fixtures back where a freshly loaded model has them before a soft reset.

        LIBERO places objects that start on a fixture (bowl on the stove, in a drawer) at the fixture's
        sampled pose plus the site's world position, which equals the site's local offset only in a
        freshly loaded model. A soft reset (hard_reset=False) keeps last episode's fixture pose there,
        counting it twice: the object starts in mid-air far away and falls off the table.
        """
        model = self._env.env.sim.model
        for body_id, (pos, quat) in self._fixture_frames.items():
            model.body_pos[body_id] = pos
            model.body_quat[body_id] = quat

    def _fresh_controllers(self) -> None:
        """Clear controller state a soft reset keeps, so a reused env behaves like a rebuilt one.

        robosuite's Panda gripper ramps its command from `current_action`, and OSC caches the last
        end-effector pose; both would otherwise carry over from the previous episode.
        """
        for robot in self._env.env.robots:
            robot.gripper.current_action = np.zeros(robot.gripper.dof)
            robot.controller.update(force=True)
            robot.controller.reset_goal()

    def step(self, action: np.ndarray) -> dict:
        """Apply one 7-D action in [-1, 1] and return the new observation."""
        self._draw_here()
        self._env.step(np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0))
        return self.observe()

    def success(self) -> bool:
        return bool(self._env.check_success())

    def goal_status(self) -> list[bool]:
        """Which predicates of the task's goal hold now (LIBERO's goal is their conjunction: success is all)."""
        from hilam.keysteps import goal_predicates, holds

        return holds(self, goal_predicates(self))

    def get_state(self) -> np.ndarray:
        """The flattened MuJoCo state (LIBERO's `states` row)."""
        return np.asarray(self._env.get_sim_state(), dtype=np.float64).copy()

    def privileged(self, state: np.ndarray | None = None) -> np.ndarray:
        """What state-based policies observe (`hilam.envs.privileged`) at `state` (default: now), with the fixtures
        where this episode has them; the live simulation is not touched."""
        return self.privileged_view(self.get_state() if state is None else state)

    def set_state(self, state: np.ndarray) -> dict:
        """Jump to a flattened MuJoCo state and return the observation there (render pass)."""
        self._draw_here()
        self._env.regenerate_obs_from_state(np.asarray(state, dtype=np.float64))
        return self.observe()

    def jump(self, state: np.ndarray) -> None:
        """Set a flattened MuJoCo state and recompute kinematics and contacts, nothing else: enough for the goal
        predicates, and much cheaper than `set_state` (no observation)."""
        self._env.set_state(np.asarray(state, dtype=np.float64))
        self.sim.forward()

    def close(self) -> None:
        self._env.close()

    # ------------------------------------------------------------------ observations
    def _draw_here(self) -> None:
        """Make this env's GL context current: robosuite makes it current only when it creates it, so with two
        rendering envs in one process (render pass beside a live env, a benchmark of two modes) the first would
        draw into the second's context."""
        ctx = self.render and getattr(self.sim, "_render_context_offscreen", None)
        if ctx:
            ctx.gl_ctx.make_current()

    def observe(self) -> dict:
        """Observation in the official LIBERO key names; images upright, uint8 (H, W, 3)."""
        env = self._env.env
        robot = env.robots[0]
        data = env.sim.data
        joints = np.array([data.qpos[i] for i in robot._ref_joint_pos_indexes])
        gripper = np.array([data.qpos[i] for i in robot._ref_gripper_joint_pos_indexes])
        eef_pos = np.array(data.site_xpos[robot.eef_site_id])
        from robosuite.utils.transform_utils import convert_quat, mat2quat, quat2axisangle

        eef_quat = mat2quat(np.array(data.site_xmat[robot.eef_site_id]).reshape(3, 3))  # the grip site's frame
        # robosuite's robot0_eef_quat observable (the hand body's frame): LIBERO's ee_ori and robot_states use it
        hand_quat = convert_quat(np.array(data.get_body_xquat(robot.robot_model.eef_name)), to="xyzw")
        ee_ori = quat2axisangle(hand_quat.copy())
        state = self.get_state()
        obs = {
            "joint_states": joints,
            "gripper_states": gripper,
            "ee_pos": eef_pos,
            "ee_ori": ee_ori,
            "ee_states": np.concatenate([eef_pos, ee_ori]),
            "eef_quat": eef_quat,
            "hand_quat": hand_quat,
            "sim_state": state,  # for recording and replay; never a policy input
            "privileged": self.privileged_view(state),  # what state-based policies observe
        }
        if self.render:
            raw = env._get_observations()
            for key, cam in self.cameras.items():
                obs[key] = to_upright(np.asarray(raw[f"{cam}_image"]), "opengl")
        return obs
