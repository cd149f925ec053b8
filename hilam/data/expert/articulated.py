"""Scripted skills for articulated fixtures (drawers, microwave door, stove knob) and plate pushing.

Each skill is a generator of 7-D OSC_POSE actions that reads the joint state every step and stops
as soon as the BDDL predicate it serves holds; the public entry points retry once on failure.
Geometry (handle, hinge, knob) is read from the simulator, so any LIBERO cabinet, microwave or
stove works whatever its placement and yaw.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from hilam.data.expert.motion import CLOSED, OPEN, Motion, top_down
from hilam.data.expert.scene import Scene

UP = np.array([0.0, 0.0, 1.0])


@dataclass
class ArticulatedConfig:
    """Distances (m), angles (rad) and step budgets of the articulated skills."""

    jitter: float = 0.008  # seeded variation of contact points
    travel_clearance: float = 0.08  # height above a contact point to approach from
    # drawers
    handle_standoff: float = 0.10  # pre-grasp distance in front of a drawer handle
    narrow_steps: int = 4  # closing steps from fully open to a ~4 cm finger gap
    handle_depth: float = 0.008  # how far past the handle centre the finger pads go
    drawer_open_margin: float = 0.012  # pull this far past the "open" threshold
    push_contact_gap: float = 0.022  # finger-pad centre to handle centre when pushing a drawer shut
    # stove knob
    knob_grip_height: float = 0.03  # finger-pad height above the knob joint
    knob_turn: float = 1.0  # target knob angle when turning on (turn-on threshold is 0.5)
    knob_off: float = -0.3  # target angle when turning off (off means < 0)
    knob_done_margin: float = 0.2  # stop turning on this close to knob_turn
    knob_rot_step: float = 0.25  # rotation lead of the servo target per step
    # microwave door
    door_push_radius: float = 0.14  # where along the door the fingers push it shut
    door_push_lead: float = 0.25  # angular lead of the pusher target ahead of the door
    door_push_gap: float = 0.035  # pad centre to door mid-plane
    door_push_height: float = 0.0  # pad height relative to the hinge centre
    # plate pushing
    pusher_height: float = 0.012  # finger-pad height above the object's base when pushing
    pusher_gap: float = 0.02  # gap between pads and the object's rim before a stroke
    push_speed: float = 0.5
    push_tol: float = 0.012  # accepted distance of the object from a waypoint
    push_waypoint_steps: int = 160
    push_obstacle_margin: float = 0.015
    # budgets
    approach_steps: int = 100
    act_steps: int = 120


CFG = ArticulatedConfig()


# ---------------------------------------------------------------------------------- geometry
def _rot_angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(Rotation.from_matrix(a @ b.T).as_rotvec()))


def _facing(scene: Scene, direction: np.ndarray) -> np.ndarray:
    """Gripper pointing horizontally along `direction`, fingers closing vertically (min. rotation)."""
    z = direction / np.linalg.norm(direction)
    options = []
    for x in (UP, -UP):
        options.append(np.column_stack([x, np.cross(z, x), z]))
    return min(options, key=lambda r: _rot_angle(r, scene.eef_mat()))


def _top_down_across(scene: Scene, across: np.ndarray) -> np.ndarray:
    """Top-down gripper whose fingers close along the horizontal direction `across`."""
    yaw = np.arctan2(across[1], across[0])
    return min((top_down(yaw), top_down(yaw + np.pi)), key=lambda r: _rot_angle(r, scene.eef_mat()))


def _joint(scene: Scene, name: str) -> tuple[str, object]:
    """(joint name, articulated model) for a drawer region site or an articulated fixture."""
    obj = scene.object(name)
    if scene.is_site(name):
        return obj.joints[0], scene.object(obj.parent_name)
    return obj.joints[0], obj


def _qpos(scene: Scene, joint: str) -> float:
    return float(scene.sim.data.qpos[scene.sim.model.get_joint_qpos_addr(joint)])


def _jid(scene: Scene, joint: str) -> int:
    return scene.sim.model.joint_name2id(joint)


def _axis(scene: Scene, joint: str) -> np.ndarray:
    return np.array(scene.sim.data.xaxis[_jid(scene, joint)])


def _anchor(scene: Scene, joint: str) -> np.ndarray:
    return np.array(scene.sim.data.xanchor[_jid(scene, joint)])


def _body_geoms(scene: Scene, joint: str) -> list[int]:
    m = scene.sim.model
    body = m.jnt_bodyid[_jid(scene, joint)]
    return [g for g in range(m.ngeom) if m.geom_bodyid[g] == body and (m.geom_contype[g] or m.geom_conaffinity[g])]


def _open_sign(model) -> float:
    """+1 if opening increases the joint value, -1 if it decreases it."""
    return float(np.sign(np.mean(model.object_properties["articulation"]["default_open_ranges"])))


def _drawer_frame(scene: Scene, joint: str, model) -> tuple[np.ndarray, np.ndarray]:
    """(handle centre, unit opening direction) of a sliding drawer."""
    d = _axis(scene, joint) * _open_sign(model)
    d = d - d[2] * UP
    d /= np.linalg.norm(d)
    xpos = scene.sim.data.geom_xpos
    handle = max(_body_geoms(scene, joint), key=lambda g: float(xpos[g] @ d))
    return np.array(xpos[handle]), d


def _is_slide(scene: Scene, joint: str) -> bool:
    return int(scene.sim.model.jnt_type[_jid(scene, joint)]) == 2  # mjJNT_SLIDE


def _jitter(rng: np.random.Generator, *dirs: np.ndarray) -> np.ndarray:
    """Seeded offset of up to CFG.jitter along each given direction."""
    return sum((rng.uniform(-CFG.jitter, CFG.jitter) * v for v in dirs), np.zeros(3))


# ---------------------------------------------------------------------------------- motion helpers
def _approach(motion: Motion, target: np.ndarray, rot: np.ndarray, tol: float = 0.015) -> Iterator[np.ndarray]:
    """Rise to a safe height, travel above `target`, then descend to it."""
    scene = motion.scene
    above = target + CFG.travel_clearance * UP
    z = max(scene.eef_pos()[2], above[2])
    yield from motion.move_to(np.array([*scene.eef_pos()[:2], z]), None, tol=0.03, max_steps=40)
    yield from motion.move_to(np.array([*above[:2], z]), rot, tol=0.02, max_steps=CFG.approach_steps)
    yield from motion.move_to(above, rot, tol=0.02, max_steps=CFG.approach_steps)
    yield from motion.move_to(target, rot, tol=tol, max_steps=CFG.approach_steps)


def _narrow(motion: Motion) -> Iterator[np.ndarray]:
    """Half-close an open gripper and hold it there (action 0 keeps the fingers' target).

    The Panda gripper target moves a fixed amount per step toward the sign of the command, so a few
    closing steps from fully open leave a ~4 cm gap: enough for a handle bar, narrow enough for the
    open fingers to clear the neighbouring drawer handles.
    """
    yield from motion.set_gripper(CLOSED, steps=CFG.narrow_steps)
    motion.gripper = 0.0


def _retreat(motion: Motion, direction: np.ndarray, dist: float = 0.08) -> Iterator[np.ndarray]:
    """Back away from a fixture along `direction` with the gripper open, then rise."""
    start = motion.scene.eef_pos()
    rot = motion.scene.eef_mat()
    yield from motion.set_gripper(OPEN, steps=6)
    yield from motion.move_to(start + dist * direction, rot, tol=0.02, max_steps=30)
    yield from motion.move_to(start + dist * direction + 0.06 * UP, rot, tol=0.02, max_steps=30)


# ---------------------------------------------------------------------------------- drawers
def _open_drawer(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Grasp the handle from the front (fingers vertical) and pull it out along the slide."""
    joint, model = _joint(scene, name)
    handle, d = _drawer_frame(scene, joint, model)
    side = np.cross(UP, d)
    handle = handle + _jitter(rng, side)
    rot = _facing(scene, -d)
    pre = handle + CFG.handle_standoff * d
    motion.gripper = OPEN
    z = max(scene.eef_pos()[2], pre[2] + 0.05)
    yield from motion.move_to(np.array([*pre[:2], z]), rot, tol=0.03, max_steps=CFG.approach_steps)
    yield from motion.move_to(pre, rot, tol=0.015, max_steps=CFG.approach_steps)
    yield from _narrow(motion)
    yield from motion.move_to(handle - CFG.handle_depth * d, rot, tol=0.008, max_steps=60)
    yield from motion.set_gripper(CLOSED)
    sign = _open_sign(model)
    boundary = abs(min(model.object_properties["articulation"]["default_open_ranges"], key=abs))
    start = scene.eef_pos()
    for _ in range(CFG.act_steps):
        if sign * _qpos(scene, joint) >= boundary + CFG.drawer_open_margin:
            break
        yield motion.action(start + (boundary + 0.04) * d, rot, speed=0.5)
    yield from _retreat(motion, d)


def _close_drawer(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Push the handle with closed top-down fingers until the drawer is shut."""
    joint, model = _joint(scene, name)
    handle, d = _drawer_frame(scene, joint, model)
    side = np.cross(UP, d)
    rot = _top_down_across(scene, side)
    contact = handle + CFG.push_contact_gap * d + _jitter(rng, side)
    motion.gripper = CLOSED
    yield from _approach(motion, contact, rot)
    for _ in range(CFG.act_steps):
        if scene.holds(["close", name]):
            break
        yield motion.action(handle - 0.2 * d, rot, speed=0.6)
    for _ in range(4):  # settle against the stop
        yield motion.action(handle - 0.2 * d, rot, speed=0.3)
    yield from _retreat(motion, d, dist=0.05)


# ---------------------------------------------------------------------------------- hinged door
def _door_angle_point(scene: Scene, joint: str, radius: float, lead: float) -> tuple[np.ndarray, np.ndarray]:
    """A point on the door at `radius` from the hinge, rotated `lead` ahead, and the closing tangent."""
    anchor, axis = _anchor(scene, joint), _axis(scene, joint)
    body = scene.sim.model.jnt_bodyid[_jid(scene, joint)]
    xmat = np.array(scene.sim.data.body_xmat[body]).reshape(3, 3)
    along = xmat[:, 0]  # the door extends along its body x axis from the hinge
    along = Rotation.from_rotvec(axis * lead).apply(along)
    tangent = np.cross(axis, along)
    return anchor + radius * along, tangent / np.linalg.norm(tangent)


def _close_door(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Swing a hinged door shut by pushing its outer face along the arc with closed fingers."""
    joint, model = _joint(scene, name)
    sign = -_open_sign(model)  # closing direction of the joint value
    radius = CFG.door_push_radius + rng.uniform(-CFG.jitter, CFG.jitter)
    height = CFG.door_push_height * UP
    point, t = _door_angle_point(scene, joint, radius, 0.0)
    t *= sign
    rot = _top_down_across(scene, t)
    motion.gripper = CLOSED
    yield from _approach(motion, point - CFG.door_push_gap * t - 0.03 * t + height, rot, tol=0.02)
    for _ in range(2 * CFG.act_steps):
        if scene.holds(["close", name]):
            break
        point, t = _door_angle_point(scene, joint, radius, sign * CFG.door_push_lead)
        t *= sign
        yield motion.action(point - CFG.door_push_gap * t + height, _top_down_across(scene, t), speed=0.6)
    yield from _retreat(motion, -t, dist=0.06)


# ---------------------------------------------------------------------------------- knobs
def _turn_knob(scene: Scene, motion: Motion, name: str, target: float, done) -> Iterator[np.ndarray]:
    """Pinch the knob's ridge from above and twist the wrist about the knob axis toward `target`."""
    joint, _ = _joint(scene, name)
    axis = _axis(scene, joint)
    body = scene.sim.model.jnt_bodyid[_jid(scene, joint)]
    ridge_across = np.array(scene.sim.data.body_xmat[body]).reshape(3, 3)[:, 0]
    grip = _anchor(scene, joint) + CFG.knob_grip_height * UP
    rot = _top_down_across(scene, ridge_across)
    motion.gripper = OPEN
    yield from _approach(motion, grip, rot, tol=0.008)
    yield from motion.set_gripper(CLOSED)
    start_q, start_rot = _qpos(scene, joint), scene.eef_mat()
    direction = np.sign(target - start_q)
    for _ in range(CFG.act_steps):
        q = _qpos(scene, joint)
        if done(q):
            break
        turn = Rotation.from_rotvec(axis * (q - start_q + direction * CFG.knob_rot_step)).as_matrix()
        yield motion.action(grip, turn @ start_rot)
    yield from motion.set_gripper(OPEN, steps=6)
    yield from motion.move_to(scene.eef_pos() + 0.08 * UP, scene.eef_mat(), tol=0.02, max_steps=30)


# ---------------------------------------------------------------------------------- public skills
def _with_retry(skill, scene: Scene, motion: Motion, name: str, rng, predicate: str) -> Iterator[np.ndarray]:
    """Run `skill` and, if the predicate still fails, run it once more."""
    for _ in range(2):
        if scene.holds([predicate, name]):
            return
        yield from skill(scene, motion, name, rng)


def open_articulated(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Open a drawer (by its region site name) or a hinged door (microwave)."""
    joint, _ = _joint(scene, name)
    if not _is_slide(scene, joint):
        raise NotImplementedError(f"opening hinged doors ({name}) is not scripted")
    yield from _with_retry(_open_drawer, scene, motion, name, rng, "open")


def close_articulated(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Close a drawer (by its region site name) or a hinged door (microwave)."""
    joint, _ = _joint(scene, name)
    skill = _close_drawer if _is_slide(scene, joint) else _close_door
    yield from _with_retry(skill, scene, motion, name, rng, "close")


def turn_on(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Turn a stove knob on (twist it past the turn-on angle)."""
    del rng  # the grip point is the knob axis; nothing to vary
    for _ in range(2):
        if scene.holds(["turnon", name]):
            return
        yield from _turn_knob(scene, motion, name, CFG.knob_turn,
                              lambda q: q >= CFG.knob_turn - CFG.knob_done_margin)


def turn_off(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Turn a stove knob off (twist it back to its stop)."""
    del rng
    for _ in range(2):
        if scene.holds(["turnoff", name]):
            return
        yield from _turn_knob(scene, motion, name, CFG.knob_off, lambda q: scene.holds(["turnoff", name]))


def needs_opening(scene: Scene, region_name: str) -> bool:
    """True if `region_name` lies inside a closed drawer or behind a closed door."""
    obj = scene.object(region_name)
    parent_name = getattr(obj, "parent_name", None)
    if parent_name is None or parent_name not in scene.env.fixtures_dict:
        return False
    parent = scene.object(parent_name)
    if not hasattr(parent, "is_open"):
        return False
    if obj.joints:  # a drawer region moves with its own slide joint
        return not scene.holds(["open", region_name])
    hinged = [j for j in parent.joints or [] if not _is_slide(scene, j)]
    return bool(hinged) and not scene.holds(["open", parent_name])
