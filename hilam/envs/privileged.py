"""What state-based policies observe: the flattened MuJoCo state plus the gripper's pose and every object's pose
relative to the gripper, all computed from one state.

The flattened state alone holds joint angles, not where the gripper is: a network must learn the arm's forward
kinematics to millimetres before it can grasp, which an MLP on that state did not (5% on libero_10 where the expert
succeeds 95%). The scripted expert acts on exactly these derived quantities (gripper pose, object poses); robomimic's
low-dimensional observations (Mandlekar et al., CoRL 2021) give a policy the same: eef position and orientation,
gripper joints, object poses and object-to-eef positions. Fixtures (stove, cabinet, basket ...) count as objects:
LIBERO places them by writing the model, outside the state, so their poses here are the only place a state-based
policy can learn where they stand.

Which of these a policy reads is a named feature set (`STATE_FEATURES`): "all", or "poses", the robomimic-style
subset (gripper fingers, gripper pose, object offsets and rotations) without joint angles and without any velocity.
"""
from __future__ import annotations

import mujoco
import numpy as np


# the gripper's two finger joints in a LIBERO scene's qpos: robosuite builds the arm (7 joints) first, its gripper next
GRIPPER_QPOS = (7, 8)
# named subsets of a feature vector a state-based policy may read (`feature_mask`)
STATE_FEATURES = ("all", "poses")


def check_state_features(kind: str) -> str:
    """`kind` if it names a feature set, else a ValueError naming the known ones."""
    if kind not in STATE_FEATURES:
        raise ValueError(f"unknown state feature set {kind!r}; known: {', '.join(STATE_FEATURES)}")
    return kind


def feature_mask(kind: str, sim_width: int, width: int) -> np.ndarray:
    """(width,) float32, 1 where feature set `kind` reads a task's feature vector (`PrivilegedView.__call__`, `width`
    numbers for a scene whose qpos and qvel hold `sim_width` = nq + nv; zero padding past them may follow) and 0
    elsewhere. "poses" keeps of the flattened state only the finger joints: no joint angles, no velocities (as
    robomimic's low-dimensional observations)."""
    check_state_features(kind)
    keep = np.ones(width, np.float32)
    if kind == "poses":
        keep[:sim_width] = 0
        keep[list(GRIPPER_QPOS)] = 1
    return keep


def rot6(mat: np.ndarray) -> np.ndarray:
    """A rotation as the first two columns of its matrix (..., 6): continuous, unlike a quaternion's sign (Zhou et
    al., CVPR 2019, "On the Continuity of Rotation Representations in Neural Networks")."""
    return mat.reshape(*mat.shape[:-1], 3, 3)[..., :2].swapaxes(-1, -2).reshape(*mat.shape[:-1], 6)


class PrivilegedView:
    """Privileged features of a LIBERO scene at any flattened state, computed on scratch `MjData` (forward
    kinematics only), so reading them never touches the live simulation. It shares the live model, so fixtures
    are where the latest reset or `LiberoEnv.place_fixtures` put them."""

    def __init__(self, sim_env):
        self.model = sim_env.sim.model._model
        self.data = mujoco.MjData(self.model)
        self.eef_site = sim_env.robots[0].eef_site_id
        self.bodies = np.array(list(sim_env.obj_body_id.values()))  # objects, then fixtures, in the BDDL's order
        self.names = list(sim_env.obj_body_id)

    @property
    def width(self) -> int:
        """Length of a feature vector of this scene."""
        return self.model.nq + self.model.nv + 9 + 9 * len(self.bodies)

    def object_offsets(self, features: np.ndarray) -> np.ndarray:
        """(objects, 3): each object's and fixture's position minus the eef's, read back from a feature vector (in
        the order of `names`)."""
        at, n = self.model.nq + self.model.nv + 9, len(self.bodies)
        return np.asarray(features[at:at + 3 * n]).reshape(n, 3)

    def __call__(self, state: np.ndarray) -> np.ndarray:
        """(width,) float32: qpos and qvel (the state without its time field), the eef's position (3) and rotation
        (6), every object's and fixture's position minus the eef's (3 each), then their rotations (6 each)."""
        state = np.asarray(state, np.float64)
        nq, nv = self.model.nq, self.model.nv
        if state.shape != (1 + nq + nv,):
            raise ValueError(f"a flattened state of this scene has {1 + nq + nv} numbers (time, qpos, qvel), "
                             f"got shape {state.shape}")
        self.data.qpos[:] = state[1:1 + nq]
        mujoco.mj_kinematics(self.model, self.data)
        eef = self.data.site_xpos[self.eef_site].copy()
        parts = [state[1:], eef, rot6(self.data.site_xmat[self.eef_site]),
                 (self.data.xpos[self.bodies] - eef).ravel(), rot6(self.data.xmat[self.bodies]).ravel()]
        return np.concatenate(parts).astype(np.float32)
