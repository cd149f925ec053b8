"""End-effector motion primitives for OSC_POSE control, written as action generators.

Each primitive yields 7-D actions (3 delta position, 3 delta axis-angle, gripper) in [-1, 1] until
its target is reached or its step budget runs out; skills chain them with `yield from`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from hilam.data.expert.scene import Scene

OPEN, CLOSED = -1.0, 1.0


@dataclass
class MotionConfig:
    """Gains and tolerances of the servo loop (OSC scales actions by 0.05 m and 0.5 rad per step)."""

    pos_scale: float = 0.05
    rot_scale: float = 0.5
    pos_gain: float = 1.0  # far from the target: the OSC goal is the target itself (no overshoot)
    near_gain: float = 3.0  # at the target: high enough to beat the OSC's steady-state lag at far reach
    near_dist: float = 0.03  # the gain blends linearly from near_gain to pos_gain over this distance
    rot_gain: float = 1.0
    max_speed: float = 1.0  # cap on the position action norm (fraction of full speed)
    pos_tol: float = 0.01
    rot_tol: float = 0.05
    gripper_steps: int = 12
    stall_steps: int = 5  # a servo with `stall=True` gives up after this many steps in a row that
    stall_dist: float = 0.001  # each moved less than this and turned less than `stall_angle`
    stall_angle: float = 0.005  # (blocked, or the rest of the way is out of reach)


def top_down(yaw: float = 0.0) -> np.ndarray:
    """Gripper rotation pointing straight down, rotated by `yaw` about world z."""
    return Rotation.from_euler("z", yaw).as_matrix() @ np.diag([1.0, -1.0, -1.0])


class Motion:
    """Servo the end effector to positions / orientations in the world frame."""

    def __init__(self, scene: Scene, cfg: MotionConfig | None = None):
        self.scene = scene
        self.cfg = cfg or MotionConfig()
        self.gripper = OPEN

    def action(self, pos: np.ndarray, rot: np.ndarray | None = None, speed: float | None = None) -> np.ndarray:
        """One servo action toward `pos` (and rotation matrix `rot` if given), current gripper command."""
        c = self.cfg
        err = np.asarray(pos) - self.scene.eef_pos()
        gain = c.near_gain + (c.pos_gain - c.near_gain) * min(np.linalg.norm(err) / c.near_dist, 1.0)
        dp = err / c.pos_scale * gain
        cap = c.max_speed if speed is None else speed
        n = np.linalg.norm(dp)
        if n > cap:
            dp *= cap / n
        dr = np.zeros(3)
        if rot is not None:
            dr = Rotation.from_matrix(rot @ self.scene.eef_mat().T).as_rotvec() / c.rot_scale * c.rot_gain
        return np.clip(np.concatenate([dp, dr, [self.gripper]]), -1.0, 1.0)

    def reached(self, pos: np.ndarray, rot: np.ndarray | None = None, tol: float | None = None) -> bool:
        ok = np.linalg.norm(np.asarray(pos) - self.scene.eef_pos()) < (self.cfg.pos_tol if tol is None else tol)
        if rot is not None:
            ok &= np.linalg.norm(Rotation.from_matrix(rot @ self.scene.eef_mat().T).as_rotvec()) < self.cfg.rot_tol
        return bool(ok)

    def move_to(self, pos, rot=None, tol: float | None = None, max_steps: int = 80,
                speed: float | None = None, stall: bool = False, lift: float = 0.0) -> Iterator[np.ndarray]:
        """Servo until within tolerance (or out of steps, or, with `stall`, blocked or creeping).

        `lift` > 0 adds an integral term on the height error with that gain: a heavy held object (a pan by
        its handle) makes the arm sag under OSC by a centimetre or two, which the proportional servo keeps."""
        yield from self.track(lambda: pos, rot, tol, max_steps, speed, stall, lift)

    def track(self, target: Callable[[], np.ndarray], rot=None, tol: float | None = None, max_steps: int = 80,
              speed: float | None = None, stall: bool = False, lift: float = 0.0) -> Iterator[np.ndarray]:
        """Servo toward a moving target `target()` (re-evaluated every step), as `move_to`."""
        c = self.cfg
        still = 0  # consecutive steps without motion
        last = None
        sag = 0.0  # integrated height error (with `lift`)
        for _ in range(max_steps):
            pos = target()
            if self.reached(pos, rot, tol):
                return
            now = (self.scene.eef_pos(), self.scene.eef_mat())
            if last is not None:
                turned = np.linalg.norm(Rotation.from_matrix(now[1] @ last[1].T).as_rotvec())
                still = still + 1 if np.linalg.norm(now[0] - last[0]) < c.stall_dist and turned < c.stall_angle else 0
            last = now
            if stall and still >= c.stall_steps:
                return
            sag += lift * (pos[2] - now[0][2])
            yield self.action(np.asarray(pos) + [0.0, 0.0, sag], rot, speed)

    def hold(self, steps: int, pos: np.ndarray | None = None, rot: np.ndarray | None = None,
             lift: float = 0.0) -> Iterator[np.ndarray]:
        """Servo toward `pos` (default: where the eef is now) for exactly `steps` steps, reached or not."""
        pos = self.scene.eef_pos() if pos is None else pos
        yield from self.track(lambda: pos, rot, tol=0.0, max_steps=steps, lift=lift)

    def set_gripper(self, value: float, steps: int | None = None) -> Iterator[np.ndarray]:
        """Open (-1) or close (+1) the gripper while holding the current pose."""
        self.gripper = value
        yield from self.hold(steps or self.cfg.gripper_steps, rot=self.scene.eef_mat())
