"""Scripted skills for articulated fixtures (drawers, microwave door, stove knob).

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
    handle_pitch: float = 0.2  # tip the gripper down so its housing clears objects below the handle
    handle_yaw_to_base: float = 1.0  # the grasping hand points along -opening + this x (robot base -> handle), unit
    # vectors: 1 bisects them, so the forearm of a drawer that slides across the reach trails toward the robot
    handle_depth: float = 0.0  # how far past the handle centre the finger pads go
    drawer_open_margin: float = 0.012  # pull this far past the "open" threshold
    pull_lead: float = 0.028  # the pulling servo's target lies this far beyond the goal opening
    pull_slow: float = 0.03  # the pull slows down over this last stretch ...
    pull_min_speed: float = 0.3  # ... to this action norm
    fit_margin: float = 0.01  # a drawer something goes into is pulled out its footprint's length plus this
    fit_tol: float = 0.01  # accepted shortfall of that opening
    pull_speed: float = 0.8  # action-norm cap while pulling a drawer
    low_handle: float = 0.07  # a handle closer than this above the surface below is dragged, not grasped
    drag_pitch: float = 0.8  # downward tilt of the closed fingers that drag a low drawer by its handle's top
    drag_back: float = 0.008  # pads this far behind the handle bar's centre (toward the drawer)
    drag_press: float = 0.03  # the servo target lies this far below the handle's top (the pressing force)
    drag_lift: float = 0.03  # pads this far above the handle's top before pressing down
    push_contact_gap: float = 0.03  # finger-pad centre to handle centre when pushing a drawer shut
    push_standoff: float = 0.05  # descend this far in front of the handle before pushing
    push_pitch: float = 1.0  # downward tilt of the pushing gripper
    # stove knob
    knob_grip_height: float = 0.03  # finger-pad height above the knob joint
    knob_turn: float = 1.0  # target knob angle when turning on (turn-on threshold is 0.5)
    knob_off: float = -0.3  # target angle when turning off (off means < 0)
    knob_done_margin: float = 0.2  # stop turning on this close to knob_turn
    knob_rot_step: float = 0.25  # rotation lead of the servo target per step
    # microwave door
    door_push_pitch: float = 1.2  # downward tilt of the gripper pushing a door
    door_push_radius: float = 0.11  # where along the door the fingers push it shut
    door_push_lead: float = 0.25  # angular lead of the pusher target ahead of the door
    door_push_gap: float = 0.04  # pad centre to door mid-plane
    door_push_height: float = 0.04  # pad height relative to the hinge centre
    door_travel_clearance: float = 0.03  # pads above the door's bounding sphere while travelling to it
    door_pull_angle: float = 0.45  # a closed door is pulled ajar this far (rad) by its handle ...
    door_pull_lead: float = 0.15  # (angular lead of the pulling servo's target)
    door_wrist_follow: float = 0.5  # the wrist turns this fraction of the door's angle (the bar turns in the grip)
    door_handle_standoff: float = 0.06  # pre-grasp distance in front of the handle bar
    door_open_margin: float = 0.1  # ... then pushed from behind to this far past its "open" angle
    door_open_push_radius: float = 0.18  # where along the door (from the hinge) it is pushed open
    door_open_pad_depth: float = 0.03  # pads this far below the door's top while pushing it open
    door_open_pitch: float = 1.3  # downward tilt of the gripper pushing a door open (near top-down)
    # plate pushing
    pusher_height: float = 0.012  # finger-pad height above the object's base when pushing
    pusher_gap: float = 0.015  # gap between fingers and the object's rim before a stroke
    pusher_half_width: float = 0.0  # rim-to-pad offset: the rim enters between the open fingers
    pusher_lean: float = 0.2  # forward lean of the pushing gripper (rad from vertical)
    push_steer: float = 1.5  # extra sideways correction of the pusher (fraction of its miss)
    push_advance: float = 0.03  # how far into the object the pusher target is set
    push_reach: float = 0.84  # farthest pusher position from the robot base (xy) that the arm reaches low
    push_speed: float = 0.5
    push_tol: float = 0.012  # accepted distance of the object from a waypoint
    push_waypoint_steps: int = 120
    push_obstacle_margin: float = 0.01
    # putting a mug in the microwave (its interior is too low for a top-down hand)
    mug_pitch: float = 0.35  # downward tilt of the gripper that holds the mug by its handle
    mug_handle_inset: float = 0.006  # pad centre this far inside the handle's outer face
    mug_grip_height: float = 0.055  # pad height above the mug's base (the handle's middle)
    mug_standoff: float = 0.06  # pre-grasp distance back along the gripper axis
    mug_spot: tuple[float, float] = (-0.035, -0.004)  # rim-centre goal in the heating region's frame
    mug_clearance: float = 0.02  # mug base above the microwave floor while carrying it in
    mug_drop: float = 0.004  # mug base above the floor at release
    mug_close_steps: int = 14  # the fingers travel from fully open onto the thin handle
    mug_retreat: float = 0.08  # back-off along the gripper axis after release
    # after opening a drawer the hand is drawn back before it turns for the next skill
    neutral_reach: float = 0.55  # to at most this xy distance from the robot's base
    neutral_steps: int = 30
    # budgets
    close_steps: int = 8  # gripper closing steps on a handle or knob
    approach_steps: int = 100
    act_steps: int = 120


CFG = ArticulatedConfig()


# ---------------------------------------------------------------------------------- geometry
def _rot_angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(Rotation.from_matrix(a @ b.T).as_rotvec()))


def _facing(scene: Scene, direction: np.ndarray, pitch: float = 0.0, vertical_fingers: bool = True) -> np.ndarray:
    """Gripper pointing along horizontal `direction`, tipped down by `pitch`; its fingers close in
    the vertical plane or horizontally (of the two such rotations, the one nearest the current pose)."""
    h = direction / np.linalg.norm(direction)
    z = np.cos(pitch) * h - np.sin(pitch) * UP
    if vertical_fingers:
        across = UP - (UP @ z) * z
    else:
        across = np.cross(UP, h)
    across /= np.linalg.norm(across)
    options = [np.column_stack([x, np.cross(z, x), z]) for x in (across, -across)]
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


def _open_boundary(model) -> float:
    """How far (joint units, metres for a drawer) a fixture must be opened to count as open."""
    return abs(min(model.object_properties["articulation"]["default_open_ranges"], key=abs))


def _open_sign(model) -> float:
    """+1 if opening increases the joint value, -1 if it decreases it."""
    return float(np.sign(np.mean(model.object_properties["articulation"]["default_open_ranges"])))


def _drawer_frame(scene: Scene, joint: str, model) -> tuple[np.ndarray, np.ndarray]:
    """(handle centre, unit opening direction) of a sliding drawer."""
    d = _axis(scene, joint) * _open_sign(model)
    d = d - d[2] * UP
    d /= np.linalg.norm(d)
    return np.array(scene.sim.data.geom_xpos[_handle_geom(scene, joint, d)]), d


def _handle_geom(scene: Scene, joint: str, d: np.ndarray) -> int:
    """A drawer's handle: its collision geom farthest along the opening direction `d`."""
    return max(_body_geoms(scene, joint), key=lambda g: float(scene.sim.data.geom_xpos[g] @ d))


def _top(scene: Scene, geoms: list[int]) -> float:
    """Highest point of the given geoms (boxes exactly, other shapes by their bounding sphere)."""
    m, d = scene.sim.model, scene.sim.data
    tops = []
    for g in geoms:
        if m.geom_type[g] == 6:  # mjGEOM_BOX
            half = float(np.abs(np.array(d.geom_xmat[g]).reshape(3, 3)[2]) @ m.geom_size[g])
        else:
            half = float(m.geom_rbound[g])
        tops.append(float(d.geom_xpos[g][2]) + half)
    return max(tops)


def _is_slide(scene: Scene, joint: str) -> bool:
    return int(scene.sim.model.jnt_type[_jid(scene, joint)]) == 2  # mjJNT_SLIDE


def _jitter(rng: np.random.Generator, *dirs: np.ndarray) -> np.ndarray:
    """Seeded offset of up to CFG.jitter along each given direction."""
    return sum((rng.uniform(-CFG.jitter, CFG.jitter) * v for v in dirs), np.zeros(3))


# ---------------------------------------------------------------------------------- motion helpers
def _approach(motion: Motion, target: np.ndarray, rot: np.ndarray, tol: float = 0.015,
              min_z: float = -np.inf) -> Iterator[np.ndarray]:
    """Rise to a safe height (at least `min_z`), travel above `target`, then descend to it."""
    scene = motion.scene
    above = target + CFG.travel_clearance * UP
    z = max(scene.eef_pos()[2], above[2], min_z)
    up = np.array([*scene.eef_pos()[:2], z])
    yield from motion.move_to(up, None, tol=0.03, max_steps=40)
    if min_z > -np.inf:  # an obstacle to clear: reach the height, then turn in place before travelling
        yield from motion.move_to(up, rot, tol=0.015, max_steps=40)
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
def _open_drawer(scene: Scene, motion: Motion, name: str, rng: np.random.Generator,
                 depth: float | None = None) -> Iterator[np.ndarray]:
    """Grasp the handle from the front (fingers vertical; the hand turned halfway toward the robot, so that
    its forearm stays clear of what stands beside a drawer sliding across the reach) and pull it out along
    the slide, `depth` metres or (if None) past its "open" threshold."""
    joint, model = _joint(scene, name)
    handle, d = _drawer_frame(scene, joint, model)
    if handle[2] - scene.surface_z((handle + CFG.handle_standoff * d)[:2], top=handle[2]) < CFG.low_handle:
        yield from _drag_drawer(scene, motion, name, rng, depth)
        return
    side = np.cross(UP, d)
    handle = handle + _jitter(rng, side)
    toward = handle[:2] - scene.robot_base()[:2]
    face = -d + CFG.handle_yaw_to_base * np.array([*toward / np.linalg.norm(toward), 0.0])
    face /= np.linalg.norm(face)
    rot = _facing(scene, face, CFG.handle_pitch)
    pre = handle - CFG.handle_standoff * face
    motion.gripper = OPEN
    z = max(scene.eef_pos()[2], pre[2] + 0.05)
    yield from motion.move_to(np.array([*pre[:2], z]), rot, tol=0.03, max_steps=CFG.approach_steps)
    yield from motion.move_to(pre, rot, tol=0.015, max_steps=CFG.approach_steps)
    yield from _narrow(motion)
    yield from motion.move_to(handle - CFG.handle_depth * d, rot, tol=0.008, max_steps=60)
    yield from motion.set_gripper(CLOSED, steps=CFG.close_steps)
    yield from _pull_out(scene, motion, joint, model, scene.eef_pos(), d, rot, depth)
    yield from _retreat(motion, d)
    yield from _to_neutral(scene, motion)


def _pull_out(scene: Scene, motion: Motion, joint: str, model, start: np.ndarray, d: np.ndarray, rot: np.ndarray,
              depth: float | None) -> Iterator[np.ndarray]:
    """Servo the hand from `start` along the opening direction `d` until the drawer is out `depth` metres
    (None: past its "open" threshold), slowing down over the last stretch so as not to overshoot."""
    sign = _open_sign(model)
    goal = _open_boundary(model) + CFG.drawer_open_margin if depth is None else depth
    opened = sign * _qpos(scene, joint)
    for _ in range(CFG.act_steps):
        rest = goal - sign * _qpos(scene, joint)
        if rest <= 0:
            break
        speed = float(np.clip(rest / CFG.pull_slow, CFG.pull_min_speed, CFG.pull_speed))
        yield motion.action(start + (goal - opened + CFG.pull_lead) * d, rot, speed=speed)


def _drag_drawer(scene: Scene, motion: Motion, name: str, rng: np.random.Generator,
                 depth: float | None = None) -> Iterator[np.ndarray]:
    """Open a drawer whose handle is too low to grasp (the hand, 20 cm across its fingers, meets the table
    or the handle above): closed fingertips, tipped down, press on the handle bar's top from the front and
    drag it out by friction."""
    joint, model = _joint(scene, name)
    handle, d = _drawer_frame(scene, joint, model)
    side = np.cross(UP, d)
    top = _top(scene, [_handle_geom(scene, joint, d)])
    pad = np.array([*(handle - CFG.drag_back * d + _jitter(rng, side))[:2], top])
    rot = _facing(scene, -d, CFG.drag_pitch, vertical_fingers=False)
    motion.gripper = CLOSED
    yield from _approach(motion, pad + CFG.drag_lift * UP + CFG.push_standoff * d, rot)
    yield from motion.move_to(pad + CFG.drag_lift * UP, rot, tol=0.008, max_steps=40)
    yield from motion.move_to(pad - CFG.drag_press * UP, rot, tol=0.004, max_steps=30, stall=True)  # onto the bar
    yield from _pull_out(scene, motion, joint, model, pad - CFG.drag_press * UP, d, rot, depth)
    yield from motion.move_to(scene.eef_pos() + 0.06 * UP, rot, tol=0.02, max_steps=30)
    yield from _to_neutral(scene, motion)


def _to_neutral(scene: Scene, motion: Motion) -> Iterator[np.ndarray]:
    """Draw the hand back within `neutral_reach` of the robot's base, so that the next skill turns it
    there and not at full stretch, where the elbow reaches its joint limit and the OSC jams."""
    eef, base = scene.eef_pos(), scene.robot_base()[:2]
    out = eef[:2] - base
    xy = base + out * min(1.0, CFG.neutral_reach / np.linalg.norm(out))
    yield from motion.move_to(np.array([*xy, eef[2]]), None, tol=0.02, max_steps=CFG.neutral_steps, stall=True)


def _close_drawer(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Push the handle with closed top-down fingers until the drawer is shut."""
    joint, model = _joint(scene, name)
    handle, d = _drawer_frame(scene, joint, model)
    side = np.cross(UP, d)
    rot = _facing(scene, -d, CFG.push_pitch, vertical_fingers=False)
    contact = handle + CFG.push_contact_gap * d + _jitter(rng, side)
    motion.gripper = CLOSED
    yield from _approach(motion, contact + CFG.push_standoff * d, rot)
    yield from motion.move_to(contact, rot, tol=0.01, max_steps=40)
    for _ in range(CFG.act_steps):
        if scene.holds(["close", name]):
            break
        yield motion.action(handle - 0.2 * d, rot, speed=0.6)
    for _ in range(4):  # settle against the stop
        yield motion.action(handle - 0.2 * d, rot, speed=0.3)
    yield from _retreat(motion, d, dist=0.05)
    yield from _to_neutral(scene, motion)


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


def _door_handle(scene: Scene, joint: str) -> np.ndarray:
    """Centre of a door's handle bar: of the door's collision geoms other than its panel (the largest), the
    one farthest in front of the panel."""
    m, d = scene.sim.model, scene.sim.data
    geoms = _body_geoms(scene, joint)
    panel = max(geoms, key=lambda g: float(m.geom_rbound[g]))
    normal = np.array(d.geom_xmat[panel]).reshape(3, 3)[:, int(np.argmin(m.geom_size[panel]))]  # thinnest axis
    off = {g: float((d.geom_xpos[g] - d.geom_xpos[panel]) @ normal) for g in geoms if g != panel}
    return np.array(d.geom_xpos[max(off, key=lambda g: abs(off[g]))])


def _pull_door(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Pull a closed door ajar, to `door_pull_angle`: fingers closed horizontally round its vertical handle
    bar, the grip carried along the arc about the hinge. The wrist turns only part of the door's angle (the
    bar turns in the grip): turning with it all the way jams the arm within 0.3 rad. Farther open the handle
    leaves the arm's reach, so the hand then lets go, backs off and comes back in toward the robot."""
    joint, model = _joint(scene, name)
    sign, anchor, axis = _open_sign(model), _anchor(scene, joint), _axis(scene, joint)
    grip = _door_handle(scene, joint) + _jitter(rng, UP)
    radial = (grip - anchor) - ((grip - anchor) @ axis) * axis
    front = np.cross(axis, radial) * sign  # the way the handle moves as the door opens
    front = (front - front[2] * UP) / np.linalg.norm(front - front[2] * UP)
    rot0, q0 = _facing(scene, -front, 0.0, vertical_fingers=False), _qpos(scene, joint)
    motion.gripper = OPEN
    yield from _approach(motion, grip + CFG.door_handle_standoff * front, rot0)
    yield from motion.move_to(grip, rot0, tol=0.008, max_steps=60)
    yield from motion.set_gripper(CLOSED, steps=CFG.close_steps)
    for _ in range(CFG.act_steps):
        turned = _qpos(scene, joint) - q0
        if sign * turned >= CFG.door_pull_angle:
            break
        ahead = turned + sign * CFG.door_pull_lead
        target = anchor + Rotation.from_rotvec(axis * ahead).apply(grip - anchor)
        yield motion.action(target, Rotation.from_rotvec(axis * CFG.door_wrist_follow * ahead).as_matrix() @ rot0,
                            speed=0.5)
    away = Rotation.from_rotvec(axis * (_qpos(scene, joint) - q0)).apply(front)
    yield from _retreat(motion, away, dist=0.06)
    yield from _to_neutral(scene, motion)


def _push_door_open(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Swing an ajar door open: closed fingertips come down into the wedge behind it from above (the hand
    stays over the fixture's top; coming in sideways past the free edge knocked the door shut) and push its
    inner face along the arc, the gripper turning with the door."""
    joint, model = _joint(scene, name)
    sign = _open_sign(model)
    goal = _open_boundary(model) + CFG.door_open_margin
    radius = CFG.door_open_push_radius + rng.uniform(-CFG.jitter, CFG.jitter)
    pad_z = _top(scene, _body_geoms(scene, joint)) - CFG.door_open_pad_depth

    def pusher(lead: float) -> tuple[np.ndarray, np.ndarray]:
        point, t = _door_angle_point(scene, joint, radius, sign * lead)
        t *= sign  # the way the door's face moves as it opens
        target = point - CFG.door_push_gap * t
        return np.array([*target[:2], pad_z]), _facing(scene, t, CFG.door_open_pitch, vertical_fingers=False)

    motion.gripper = CLOSED
    start, rot = pusher(0.0)
    yield from _approach(motion, start, rot, tol=0.015, min_z=pad_z + CFG.travel_clearance)
    for _ in range(2 * CFG.act_steps):
        if sign * _qpos(scene, joint) >= goal:
            break
        target, rot = pusher(CFG.door_push_lead)
        yield motion.action(target, rot, speed=0.6)
    yield from motion.move_to(scene.eef_pos() + 0.08 * UP, scene.eef_mat(), tol=0.02, max_steps=30)


def _open_door(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Open a hinged door: pull it ajar by its handle, then push it open from behind."""
    joint, model = _joint(scene, name)
    if _open_sign(model) * _qpos(scene, joint) < CFG.door_pull_angle / 2:
        yield from _pull_door(scene, motion, name, rng)
    yield from _push_door_open(scene, motion, name, rng)


def _close_door(scene: Scene, motion: Motion, name: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Swing a hinged door shut: closed fingertips push its outer face along the arc, the gripper
    tipped down and turning with the door so that its housing stays clear of the door's top."""
    joint, model = _joint(scene, name)
    sign = -_open_sign(model)  # closing direction of the joint value
    radius = CFG.door_push_radius + rng.uniform(-CFG.jitter, CFG.jitter)
    height = CFG.door_push_height * UP

    def pusher(lead: float, gap: float) -> tuple[np.ndarray, np.ndarray]:
        point, t = _door_angle_point(scene, joint, radius, sign * lead)
        t *= sign
        return point - gap * t + height, _facing(scene, t, CFG.door_push_pitch, vertical_fingers=False)

    motion.gripper = CLOSED
    start, rot = pusher(0.0, CFG.door_push_gap + CFG.push_standoff)
    yield from _approach(motion, start, rot, tol=0.02, min_z=_top(scene, _body_geoms(scene, joint)) + CFG.door_travel_clearance)
    for _ in range(2 * CFG.act_steps):
        if scene.holds(["close", name]):
            break
        target, rot = pusher(CFG.door_push_lead, CFG.door_push_gap)
        yield motion.action(target, rot, speed=0.6)
    _, t = _door_angle_point(scene, joint, radius, 0.0)
    yield from _retreat(motion, -sign * t, dist=0.06)


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
    yield from motion.set_gripper(CLOSED, steps=CFG.close_steps)
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
    skill = _open_drawer if _is_slide(scene, joint) else _open_door
    yield from _with_retry(skill, scene, motion, name, rng, "open")


def fit_depth(scene: Scene, region: str, obj: str) -> float:
    """How far to pull out the drawer of `region` for `obj` to go in: the object's footprint length
    plus a margin, at most just past the drawer's "open" threshold."""
    shape = scene.shape(obj)
    _, model = _joint(scene, region)
    return min(max(shape.long, shape.short) + CFG.fit_margin, _open_boundary(model) + CFG.drawer_open_margin)


def opened_for(scene: Scene, region: str, obj: str) -> bool:
    """Whether `obj` can go into `region` as far as opening goes: no closed door or drawer in the way,
    or the drawer pulled out `fit_depth`."""
    if not needs_opening(scene, region):
        return True
    if not scene.object(region).joints:
        return False  # behind a closed door
    joint, model = _joint(scene, region)
    return _open_sign(model) * _qpos(scene, joint) >= fit_depth(scene, region, obj) - CFG.fit_tol


def open_for(scene: Scene, motion: Motion, region: str, obj: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Pull the drawer of `region` out just far enough for `obj` to go in (retries once): pulled out
    all the way, a drawer overhangs the table beside the cabinet, where the arm may have to reach
    down for `obj`. A region behind a hinged door (a microwave's) has its door opened all the way."""
    if not scene.object(region).joints:
        if needs_opening(scene, region):
            yield from open_articulated(scene, motion, scene.object(region).parent_name, rng)
        return
    for _ in range(2):
        if opened_for(scene, region, obj):
            return
        yield from _open_drawer(scene, motion, region, rng, depth=fit_depth(scene, region, obj))


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
    if not getattr(parent, "object_properties", {}).get("articulation", {}).get("default_open_ranges"):
        return False  # not an openable fixture (a stove, a rack, ...)
    if obj.joints:  # a drawer region moves with its own slide joint
        return not scene.holds(["open", region_name])
    hinged = [j for j in parent.joints or [] if not _is_slide(scene, j)]
    return bool(hinged) and not scene.holds(["open", parent_name])
