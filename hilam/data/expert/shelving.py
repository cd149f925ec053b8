"""Putting an object into a compartment that is roofed and open at one side (a two-layer shelf): pick it
from above, turn it so the part the hand holds points out of the opening (or, too tall to stand in it, lay
it down in the hand), lower it in front of the opening to midway between floor and roof, slide it in and
set it down. The hand stays outside."""
from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np

from hilam.data.expert.articulated import UP, _facing
from hilam.data.expert.grasps import HAND_HALF_SPAN, grasp_spec
from hilam.data.expert.motion import OPEN, Motion, top_down
from hilam.data.expert.scene import Scene
from hilam.data.expert.skills import PickPlaceConfig, pick, travel_z


@dataclass(frozen=True)
class ShelfConfig:
    """Lengths (metres) of the slide-in placement."""

    wall_probe: float = 0.04  # a side is walled if a wall stands within this beyond the region's edge
    probe_half: float = 0.01  # probe box size for walls, back and roof
    back_margin: float = 0.015  # the object's far end stops this short of the back wall
    front_margin: float = 0.02  # the object's origin goes at least this far inside the region's open edge
    stage_gap: float = 0.04  # before sliding in, the object's far end waits this far outside the opening
    min_clearance: float = 0.005  # the object slides in midway between floor and roof, at least this far from each
    drop: float = 0.006  # object bottom above the floor at release ...
    finger_under: float = 0.015  # ... or this, when laid down in the hand (a finger is under it)
    hand_inside: float = 0.02  # the eef goes at most this far past the open edge (the hand is 3 cm behind it)
    slide_speed: float = 0.4  # action-norm cap while sliding in and setting down
    lateral_jitter: float = 0.015  # random sideways offset of the goal (demo diversity)
    carry_clearance: float = 0.05  # object bottom above everything on the way to the opening
    lift: float = 0.1  # integral gain against the arm's sag under the held object's weight (see `Motion.track`)
    settle_steps: int = 20  # hold still once lifted and turned, then read the object's pose in the hand
    retreat: float = 0.1  # the hand backs out this far along the opening, then rises


def opening(scene: Scene, region: str, cfg: ShelfConfig | None = None) -> np.ndarray | None:
    """Unit xy direction into `region` through its open side, if the region is a compartment of a fixed
    (joint-free) fixture, roofed over its centre and walled on its other sides; else None."""
    cfg = cfg or ShelfConfig()
    if not scene.is_site(region) or scene.object(scene.site_parent(region)).joints:
        return None  # drawers and doors have their own skills
    center, half = scene.pos(region), scene.region_half_extents(region)
    if scene.surface_z(center[:2], exclude=tuple(scene.env.objects_dict)) <= center[2] + half[2]:
        return None  # open-topped (movable objects do not count: a can already standing in a basket)
    open_sides = []  # probed along the world axes, as the region's half extents are (LIBERO's shelves stand square)
    for out in (np.array(v, dtype=float) for v in ((1, 0), (-1, 0), (0, 1), (0, -1))):
        edge = np.array([*(center[:2] + float(half[:2] @ np.abs(out)) * out), center[2]])
        if _clear_run(scene, edge, np.array([*out, 0.0]), cfg.wall_probe, None, cfg) >= cfg.wall_probe:
            open_sides.append(out)
    if not open_sides:
        return None
    base = scene.robot_base()[:2] - center[:2]
    return -max(open_sides, key=lambda out: float(out @ base))  # the open side facing the robot


@dataclass(frozen=True)
class Compartment:
    """A roofed region open at one side: the way in, floor and roof heights, centre and world half extents."""

    into: np.ndarray  # unit xy direction from the opening towards the back
    floor: float
    ceiling: float
    center: np.ndarray
    half: np.ndarray

    @property
    def depth(self) -> float:
        """Half-depth of the region along `into`."""
        return float(self.half[:2] @ np.abs(self.into))


def compartment(scene: Scene, region: str, obj: str, cfg: ShelfConfig) -> Compartment:
    """The geometry of a region for which `opening` is not None (`obj`, the object to put in, is ignored)."""
    center = scene.pos(region)
    floor = scene.surface_z(center[:2], 0.0, exclude=(obj,), top=float(center[2]))
    start = np.array([*center[:2], floor + cfg.probe_half])
    ceiling = float(start[2] + _clear_run(scene, start, UP, 1.0, obj, cfg))
    return Compartment(opening(scene, region, cfg), floor, ceiling, center, scene.region_half_extents(region))


def slide_in(scene: Scene, motion: Motion, obj: str, region: str, rng: np.random.Generator,
             cfg: ShelfConfig | None = None) -> Iterator[np.ndarray]:
    """Put `obj` in the roofed `region` through its opening; re-grasps once if the object was not lifted.

    An object too tall for the compartment as it stands (a book standing up) is laid down in the hand: picked
    by its top edge, it is turned with the gripper until the gripper points into the opening, fingers above
    and below, so that it lies flat ahead of the hand. Nothing is tried if it fits neither way."""
    cfg, pp = cfg or ShelfConfig(), PickPlaceConfig()
    spec, box = grasp_spec(scene.kind(obj)), compartment(scene, region, obj, cfg)
    shape = scene.shape(obj)
    lay_down = shape.height + 2 * cfg.min_clearance > box.ceiling - box.floor
    if lay_down and not (spec.mode == "center" and _fits_lying(scene, box, shape.short, obj, cfg)):
        return
    for _ in range(1 + pp.retries):
        if scene.holds(["in", obj, region]):
            return
        if (yield from pick(scene, motion, obj, spec, rng, pp, place_xy=scene.pos(region)[:2])):
            yield from _carry_in(scene, motion, obj, box, lay_down, rng, cfg, pp)
            return


def _fits_lying(scene: Scene, box: Compartment, thickness: float, obj: str, cfg: ShelfConfig) -> bool:
    """Whether an object of this thickness, held flat with a finger under it, goes in: under the roof, and with
    the hand (which reaches HAND_HALF_SPAN below the eef) above whatever stands in front of the opening."""
    outside = scene.surface_z(box.center[:2] - (box.depth + cfg.stage_gap) * box.into, 0.0, exclude=(obj,))
    release_eef = box.floor + cfg.finger_under + thickness / 2
    return (thickness + cfg.finger_under + cfg.min_clearance <= box.ceiling - box.floor
            and release_eef - HAND_HALF_SPAN >= outside + cfg.min_clearance)


def _carry_in(scene: Scene, motion: Motion, obj: str, box: Compartment, lay_down: bool,
              rng: np.random.Generator, cfg: ShelfConfig, pp: PickPlaceConfig) -> Generator[np.ndarray, None, None]:
    """Turn the held object so the hand is on its outer side (or lay it down ahead of the hand), carry it in
    front of the opening, slide it in, set it down, back out."""
    into, depth = box.into, box.depth
    if lay_down:
        rot = _facing(scene, np.array([*into, 0.0]), 0.0, vertical_fingers=True)
    else:
        hand = scene.eef_pos()[:2] - scene.pos(obj)[:2]
        turn = wrap_angle(np.arctan2(-into[1], -into[0]) - np.arctan2(hand[1], hand[0]))
        x = scene.eef_mat()[:, 0]
        rot = top_down(float(np.arctan2(x[1], x[0])) + turn)  # not wrapped: the object turns with the hand
    rest = scene.surface_z(scene.shape(obj).center, 0.0, exclude=(obj,))
    up = scene.eef_pos()
    up[2] += max(travel_z(scene, up[:2], pp, held=obj) - up[2], rest + cfg.carry_clearance - scene.shape(obj).lo[2], 0)
    yield from motion.move_to(up, rot, tol=pp.travel_tol * 2, max_steps=40, stall=True)

    # the object's pose in the hand, read once it hangs still (re-reading it while moving would chase its sway)
    held = np.zeros(3)

    def eef_for(xy: np.ndarray, bottom: float) -> np.ndarray:
        """Eef position that puts the held object's origin over `xy` with its bottom at `bottom`."""
        return np.array([*xy, bottom]) + held

    def hang_still(at: np.ndarray) -> Iterator[np.ndarray]:
        nonlocal held
        yield from motion.hold(cfg.settle_steps, at, rot, lift=cfg.lift)
        held = scene.eef_pos() - np.array([*scene.pos(obj)[:2], scene.shape(obj).lo[2]])

    yield from hang_still(up)
    if not scene.grasped(obj) and scene.shape(obj).lo[2] < rest + pp.lift_check:
        return  # dropped

    # the origin goes as deep as the back wall allows, inside the region's open edge, the hand outside it
    ext = float(np.max((scene.vertices(obj)[:, :2] - scene.pos(obj)[:2]) @ into))  # the object's far end
    back = _clear_run(scene, box.center, np.array([*into, 0.0]), depth + cfg.wall_probe, obj, cfg)
    s = min(back - cfg.back_margin - ext, depth, -depth + cfg.hand_inside - float(held[:2] @ into))
    s = max(s, -depth + cfg.front_margin)
    lateral = box.center[:2] + rng.uniform(-1, 1) * cfg.lateral_jitter * np.array([-into[1], into[0]])
    goal = lateral + s * into
    stage = lateral - (depth + cfg.stage_gap + ext) * into  # the far end outside the open edge
    slide = (box.floor + box.ceiling - scene.shape(obj).height) / 2  # bottom midway between floor and roof
    release = box.floor + (cfg.finger_under if lay_down else cfg.drop)

    carry = max(travel_z(scene, eef_for(stage, 0.0)[:2], pp, held=obj, clearance=cfg.carry_clearance) - held[2],
                slide)
    for xy, bottom, steps in ((stage, carry, 80), (stage, slide, 40)):
        yield from motion.move_to(eef_for(xy, bottom), rot, tol=pp.travel_tol, max_steps=steps, stall=True,
                                  lift=cfg.lift)
    yield from hang_still(eef_for(stage, slide))
    for bottom in (slide, release):
        yield from motion.move_to(eef_for(goal, bottom), rot, tol=pp.fine_tol, max_steps=80, speed=cfg.slide_speed,
                                  stall=True, lift=cfg.lift)
    yield from motion.set_gripper(OPEN, pp.open_steps)
    out = scene.eef_pos() - cfg.retreat * np.array([*into, 0.0])
    yield from motion.move_to(out, rot, tol=pp.travel_tol * 2, max_steps=30, stall=True)
    yield from motion.move_to(out + [0, 0, pp.retreat], rot, tol=pp.travel_tol * 2, max_steps=20, stall=True)


def _clear_run(scene: Scene, start: np.ndarray, direction: np.ndarray, limit: float, obj: str | None,
               cfg: ShelfConfig) -> float:
    """How far a small probe box moves from `start` along `direction` before it meets a geom other than
    `obj`'s or the robot's (`limit` if it never does)."""
    r = cfg.probe_half / 2
    for d in np.arange(0.0, limit, 0.005):
        p = start + d * direction
        if scene.obstructed(p - r, p + r, (obj,) if obj else ()):
            return float(d)
    return limit


def wrap_angle(a: float) -> float:
    """`a` in [-pi, pi)."""
    return float((a + np.pi) % (2 * np.pi) - np.pi)
