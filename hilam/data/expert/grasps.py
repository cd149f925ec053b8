"""How to grasp, carry and release each kind of LIBERO object, and where the gripper goes to do it.

A `GraspSpec` per LIBERO object class (with a default) holds the few numbers that differ between
kinds; `plan_grasp` turns a spec and the object's current shape into a gripper pose.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hilam.data.expert.scene import Scene, Shape

FINGER_SPAN = (0.039, 0.065)  # each open finger spans these distances from the eef site along its axis
FINGERTIP_BELOW = 0.0095  # fingertips reach this far below the eef site
HAND_ABOVE = 0.03  # the hand's underside is this far above the eef site ...
HAND_HALF_SPAN = 0.08  # ... and reaches about this far along the finger axis
FINGER_HALF_WIDTH = 0.012  # half-width of a finger across its axis
DESCENT_BAND = 0.1  # fingers and hand sweep this far above their grasp height on the way down
WRIST_HALF = 0.08  # the wrist (hand top, links 6-7) stays within this xy distance of the eef ...
WRIST_TOP = 0.15  # ... up to this height above it
WRIST_COST = 1.0  # rim grasps avoid a wrist box with something in it (an open drawer overhead)
ROUND_RATIO = 0.8  # footprints at least this square are grasped at any yaw
MAX_SLIDE = 0.02  # largest shift of a pinch along a box's long axis to dodge a neighbour
HOME_YAW = np.pi / 2  # gripper yaw at reset; yaws are kept within +-90 degrees of it
TURN_COST = 0.3  # rim grasps trade wrist turning (per radian) ...
REACH_COST = 5.0  # ... against the hand's distance from the robot base (per metre, at pick and place)


@dataclass(frozen=True)
class GraspSpec:
    """Grasp and release parameters for one kind of object (lengths in metres)."""

    mode: str = "center"  # "center": pinch across the narrow footprint axis; "rim": straddle a cup wall;
    # "handle": pinch across a handle that rises to the object's highest point (a frying pan)
    height_frac: float = 0.5  # center mode: grasp height as a fraction of the object height ...
    finger_reach: float = 0.035  # ... but no deeper than this below the top (the palm must clear it)
    floor_clearance: float = 0.004  # fingertips at least this far above the object's resting surface
    rim_depth: float = 0.02  # rim mode: grasp this far below the top edge
    rim_inset: float = 0.008  # rim mode: eef this far inside the outer rim radius
    handle_insets: tuple[float, float] = (0.015, 0.09)  # handle mode: grasp this far in from the handle's tip ...
    handle_grip: float = 0.05  # ... preferably this far (near the tip the pan's weight twists it out of the hand)
    approach: float = 0.08  # pre-grasp height above the grasp point
    carry_clearance: float = 0.05  # object bottom above obstacles while carrying
    drop: float = 0.015  # object bottom above the target surface at release
    into_clearance: float = 0.02  # object bottom above a container's rim at release (In an open container)
    align_to_region: bool = False  # turn the object's long axis along the target region's long axis
    yaw_jitter: float = np.radians(6)  # random yaw variation (demo diversity)


_BOX = GraspSpec(yaw_jitter=np.radians(3))
_CUP = GraspSpec(mode="rim")

GRASPS: dict[str, GraspSpec] = {
    # cans and bottles: pinch at mid-height, or just under the top when tall
    "AlphabetSoup": GraspSpec(),
    "TomatoSauce": GraspSpec(),
    "Ketchup": GraspSpec(),
    "BbqSauce": GraspSpec(),
    "SaladDressing": GraspSpec(),
    "Milk": GraspSpec(),
    "OrangeJuice": GraspSpec(),
    "WineBottle": GraspSpec(finger_reach=0.04, carry_clearance=0.04),
    # flat boxes: pinch across the short side
    "CreamCheese": _BOX,
    "Butter": _BOX,
    "ChocolatePudding": _BOX,
    "BlackBook": GraspSpec(finger_reach=0.03, align_to_region=True, yaw_jitter=0.0),
    # cups and bowls: straddle the wall, away from a handle
    "AkitaBlackBowl": _CUP,
    "PorcelainMug": _CUP,
    "WhiteYellowMug": _CUP,
    "RedCoffeeMug": _CUP,
    "Plate": GraspSpec(mode="rim", rim_depth=0.008, rim_inset=0.01),
    "MokaPot": GraspSpec(height_frac=0.6),
    "Chefmate8Frypan": GraspSpec(mode="handle", rim_depth=0.012, carry_clearance=0.03, yaw_jitter=np.radians(4)),
}
DEFAULT_GRASP = GraspSpec()


def grasp_spec(kind: str) -> GraspSpec:
    """The spec for a LIBERO object class name (default when unknown)."""
    return GRASPS.get(kind, DEFAULT_GRASP)


@dataclass(frozen=True)
class Grasp:
    """Gripper pose for a grasp: eef position and yaw (fingers close along (cos yaw, sin yaw))."""

    pos: np.ndarray
    yaw: float


def wrap_yaw(yaw: float) -> float:
    """Equivalent gripper yaw (fingers are symmetric under 180 degrees) within 90 degrees of home."""
    return float((yaw - HOME_YAW + np.pi / 2) % np.pi - np.pi / 2 + HOME_YAW)


def plan_grasp(scene: Scene, name: str, spec: GraspSpec, rng: np.random.Generator,
               place_xy: np.ndarray | None = None) -> Grasp:
    """Where to put the gripper to pick `name` up now (`place_xy`: where its origin will be put down)."""
    shape = scene.shape(name)
    if spec.mode == "rim":
        return _rim_grasp(scene, name, shape, spec, rng, place_xy)
    if spec.mode == "handle":
        return _handle_grasp(scene, name, shape, spec, rng)
    return _center_grasp(scene, name, shape, spec, rng)


def _center_grasp(scene: Scene, name: str, shape: Shape, spec: GraspSpec, rng: np.random.Generator) -> Grasp:
    """Pinch across the narrow axis; slide along the long axis (or turn, if round) to keep fingers clear."""
    z = shape.lo[2] + max(spec.height_frac * shape.height, shape.height - spec.finger_reach,
                          FINGERTIP_BELOW + spec.floor_clearance)
    base_yaw = shape.short_yaw + rng.uniform(-1, 1) * spec.yaw_jitter
    round_ = shape.short > ROUND_RATIO * shape.long
    yaws = base_yaw + (np.radians(np.arange(0, 180, 15)) if round_ else np.zeros(1))
    slide = max(0.0, min(MAX_SLIDE, (shape.long - shape.short) / 2 - 0.01))
    eef_yaw = wrap_yaw(_current_yaw(scene))
    best, best_cost = None, np.inf
    for yaw in yaws:
        u = np.array([np.cos(yaw), np.sin(yaw)])
        v = np.array([-u[1], u[0]])
        for off in np.linspace(-slide, slide, 5) if slide > 0 else [0.0]:
            pos = shape.center + off * v
            cost = abs(off) + 0.05 * abs(wrap_yaw(yaw) - eef_yaw)
            if cost < best_cost and _fingers_clear(scene, name, pos, u, z):
                best, best_cost = Grasp(np.array([*pos, z]), wrap_yaw(yaw)), cost
    return best or Grasp(np.array([*shape.center, z]), wrap_yaw(base_yaw))


HANDLE_TURNS = np.radians([0, 15, -15, 30, -30, 45, -45, 60, -60])  # handle mode: fingers this far off square


def _handle_grasp(scene: Scene, name: str, shape: Shape, spec: GraspSpec, rng: np.random.Generator) -> Grasp:
    """Pinch across the handle, as near `handle_grip` and as square to it as the neighbours allow.

    The handle runs from the object's origin towards its highest point (`rim_center`, the top slice); its top
    height at each grasp point is interpolated along that line from the collision vertices."""
    tip = shape.rim_center
    u = tip - scene.pos(name)[:2]
    u /= np.linalg.norm(u)
    v = scene.vertices(name)
    v = v[np.abs((v[:, :2] - tip) @ np.array([-u[1], u[0]])) < shape.rim_radius + 0.01]  # along the handle
    steps = np.round((tip - v[:, :2]) @ u / 0.005)  # distance in from the tip, in 5 mm bins ...
    along = np.unique(steps)
    upper = np.array([v[steps == a, 2].max() for a in along])  # ... and the handle's top in each
    handle_yaw = float(np.arctan2(u[1], u[0])) + np.pi / 2 + rng.uniform(-1, 1) * spec.yaw_jitter
    eef_yaw = wrap_yaw(_current_yaw(scene))
    best, best_cost = None, np.inf
    for inset in np.arange(*spec.handle_insets, 0.01):
        pos = tip - inset * u
        top = np.interp(inset, along * 0.005, upper)
        for turn in HANDLE_TURNS:
            yaw = wrap_yaw(handle_yaw + turn)
            cost = abs(inset - spec.handle_grip) + 0.05 * abs(turn) + 0.01 * abs(yaw - eef_yaw)
            if cost < best_cost and _fingers_clear(scene, name, pos, np.array([np.cos(yaw), np.sin(yaw)]),
                                                   top - spec.rim_depth):
                best, best_cost = Grasp(np.array([*pos, top - spec.rim_depth]), yaw), cost
    return best or Grasp(np.array([*(tip - spec.handle_insets[0] * u), shape.hi[2] - spec.rim_depth]),
                         wrap_yaw(handle_yaw))


def _fingers_clear(scene: Scene, name: str, pos: np.ndarray, u: np.ndarray, z: float) -> bool:
    """Whether both open fingers can come down to height `z` at `pos` (fingers along `u`) and the hand above.

    Rays find surfaces under the fingers; bounding boxes catch thin parts the rays slip past (the
    3 mm front panel of an open drawer standing over the table)."""
    reach = (FINGER_SPAN[1] - FINGER_SPAN[0]) / 2 + 0.002
    for side in (-1.0, 1.0):
        finger = pos + side * np.mean(FINGER_SPAN) * u
        if scene.surface_z(finger, reach, exclude=(name,)) > z - FINGERTIP_BELOW - 0.002:
            return False
        hand = pos + side * HAND_HALF_SPAN * u
        if scene.surface_z(hand, 0.02, exclude=(name,)) > z + HAND_ABOVE - 0.005:
            return False
        half = np.abs(u) * reach + np.abs(u[::-1]) * FINGER_HALF_WIDTH  # u[::-1] is u turned by 90 deg, up to sign
        if scene.obstructed([*(finger - half), z - FINGERTIP_BELOW + 0.002],
                            [*(finger + half), z + DESCENT_BAND], exclude=(name,)):
            return False
    return True


def _rim_grasp(scene: Scene, name: str, shape: Shape, spec: GraspSpec, rng: np.random.Generator,
               place_xy: np.ndarray | None) -> Grasp:
    """Straddle the cup wall on a free side away from any handle, with little turning and short reach.

    Reach counts at the pick and, if `place_xy` is given, at the place: far out the arm cannot servo
    precisely, so the wall is taken on the side that keeps the hand nearer the robot's base.
    """
    c, r = shape.rim_center, shape.rim_radius
    z = shape.hi[2] - spec.rim_depth
    handle = shape.center - c
    has_handle = np.linalg.norm(handle) > 0.01
    eef_yaw = _current_yaw(scene)
    base = scene.robot_base()[:2]
    ends = [c] if place_xy is None else [c, np.asarray(place_xy)]
    best, best_cost = None, np.inf
    for a in np.linspace(0, 2 * np.pi, 24, endpoint=False) + rng.uniform(0, np.pi / 12):
        u = np.array([np.cos(a), np.sin(a)])
        if has_handle and u @ handle / np.linalg.norm(handle) > np.cos(np.radians(70)):
            continue
        pos = c + (r - spec.rim_inset) * u
        if not _fingers_clear(scene, name, pos, u, z):
            continue  # a neighbour stands where a finger or the hand must go down
        yaw = wrap_yaw(a)
        turn = abs(yaw - wrap_yaw(eef_yaw))
        reach = sum(np.linalg.norm(e + (r - spec.rim_inset) * u - base) for e in ends)
        cost = TURN_COST * turn + REACH_COST * reach + WRIST_COST * _wrist_blocked(scene, name, pos, z)
        if cost < best_cost:
            best, best_cost = Grasp(np.array([*pos, z]), yaw), cost
    if best is None:  # crowded all round: take the near side anyway
        u = np.array([-1.0, 0.0])
        best = Grasp(np.array([*(c + (r - spec.rim_inset) * u), z]), wrap_yaw(np.pi))
    return best


def _wrist_blocked(scene: Scene, name: str, pos: np.ndarray, z: float) -> bool:
    """Whether something (not `name`) stands in the space the wrist takes above a grasp at (`pos`, `z`)."""
    return scene.obstructed([*(pos - WRIST_HALF), z + HAND_ABOVE], [*(pos + WRIST_HALF), z + WRIST_TOP],
                            exclude=(name,))


def _current_yaw(scene: Scene) -> float:
    x = scene.eef_mat()[:, 0]
    return float(np.arctan2(x[1], x[0]))
