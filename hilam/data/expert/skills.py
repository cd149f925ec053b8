"""Pick-and-place skills as closed-loop action generators (they re-read the scene every step)."""
from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np

from hilam.data.expert.grasps import FINGERTIP_BELOW, HAND_ABOVE, GraspSpec, grasp_spec, plan_grasp, wrap_yaw
from hilam.data.expert.motion import CLOSED, OPEN, Motion, top_down
from hilam.data.expert.scene import Scene, Shape


@dataclass(frozen=True)
class PickPlaceConfig:
    """Speeds, tolerances and retry policy of pick and place (lengths in metres)."""

    travel_tol: float = 0.015  # waypoint tolerance in free space
    fine_tol: float = 0.006  # tolerance at the grasp and release points
    fine_speed: float = 0.5  # action-norm cap when descending onto an object or a target ...
    slow_above: float = 0.04  # ... over this last stretch before the release point
    close_steps: int = 10
    open_steps: int = 6
    lift_check: float = 0.03  # after lifting the object must have risen this much ...
    retries: int = 1  # ... (and stay in the hand while raised to carry height) else re-grasp this many times
    retreat: float = 0.08  # gripper rise after releasing
    place_jitter: float = 0.005  # random offset of the release point (demo diversity)
    waypoint_jitter: float = 0.01  # random offset of pre-grasp / carry waypoints
    max_carry_z: float = 0.45  # object bottom never carried higher than this above the pick surface
    path_samples: int = 12  # points checked for obstacles between pick and place
    finger_radius: float = 0.05  # reach of the open fingers around the eef
    hand_radius: float = 0.11  # reach of the hand around the eef (it spans the finger axis)
    # a region some other object already stands on: put the object at the free spot farthest from it
    region_margin: float = 0.012  # spot (object origin) at least this far inside the region's edges
    shared_place_jitter: float = 0.0  # release-point jitter there (the spot leaves little room)
    region_grid: int = 7  # candidate spots per region axis
    # something overhanging a lifted object (an open drawer above the table): slide it out first
    overhang_margin: float = 0.01  # kept around the object's footprint and above its bottom
    overhang_step: float = 0.01  # candidate slide distances: multiples of this ...
    overhang_max: float = 0.15  # ... up to this
    overhang_dirs: int = 16  # candidate slide directions
    # an open-topped container (caddy compartment, basket): centre the held object between its walls
    wall_rise: float = 0.02  # a wall stands at least this far above the container's floor ...
    wall_probe: float = 0.0025  # ... and is looked for in steps of this along the region's axes ...
    wall_reach: float = 0.03  # ... up to this beyond the region's edge


@dataclass
class Place:
    """Where the held object goes (xy: its origin, or its footprint centre when `by_center`) and how low its
    bottom goes (z) before release."""

    xy: np.ndarray
    bottom_z: float
    carry_bottom_z: float
    yaw: float | None  # target world yaw of the object's long axis (None: keep as held)
    shared: bool = False  # a spot beside other objects already on the target region
    by_center: bool = False  # xy is for the footprint's centre (between a container's walls), not the origin


def held_xy(scene: Scene, obj: str, shape: Shape, by_center: bool) -> np.ndarray:
    """The point of `obj` (whose current `shape` the caller has) that a `Place.xy` is for: its footprint's
    centre or its origin."""
    return shape.center if by_center else scene.pos(obj)[:2]


def pick_and_place(scene: Scene, motion: Motion, obj: str, target: str, relation: str,
                   rng: np.random.Generator, cfg: PickPlaceConfig | None = None) -> Iterator[np.ndarray]:
    """Pick `obj` and put it `relation` ('on' / 'in') `target`; re-grasps if the object was not lifted
    or slipped out of the hand before it was carried."""
    cfg = cfg or PickPlaceConfig()
    spec = grasp_spec(scene.kind(obj))
    for _ in range(1 + cfg.retries):
        held = yield from pick(scene, motion, obj, spec, rng, cfg, place_xy=scene.pos(target)[:2])
        if held and (yield from place(scene, motion, obj, target, relation, spec, rng, cfg)):
            return


def pick(scene: Scene, motion: Motion, obj: str, spec: GraspSpec, rng: np.random.Generator,
         cfg: PickPlaceConfig, place_xy: np.ndarray | None = None) -> Generator[np.ndarray, None, bool]:
    """Grasp `obj` from above and lift it a little; returns whether it came up in the hand.

    `place_xy`, where the object goes next, lets the grasp favour a hand pose that reaches there.
    """
    if motion.gripper != OPEN:
        yield from motion.set_gripper(OPEN, cfg.open_steps)
    grasp, obj_at_plan = plan_grasp(scene, obj, spec, rng, place_xy), scene.pos(obj)
    rot = top_down(grasp.yaw)
    above = grasp.pos + np.array([*rng.uniform(-1, 1, 2) * cfg.waypoint_jitter, spec.approach])
    safe = travel_z(scene, above[:2], cfg)
    if safe > above[2] + cfg.travel_tol:  # something tall on the way: go over it, then down
        if scene.eef_pos()[2] < safe - cfg.travel_tol:
            yield from motion.move_to(np.array([*scene.eef_pos()[:2], safe]), rot, tol=cfg.travel_tol * 2,
                                      max_steps=30, stall=True)
        yield from motion.move_to(np.array([*above[:2], safe]), rot, tol=cfg.travel_tol * 2, max_steps=60,
                                  stall=True)
    yield from motion.move_to(above, rot, tol=cfg.travel_tol, max_steps=60, stall=True)
    grasp_pos = grasp.pos + scene.pos(obj) - obj_at_plan  # follow the object if it was nudged
    yield from motion.move_to(grasp_pos + [0, 0, 0.02], rot, tol=cfg.travel_tol, max_steps=30, stall=True)
    yield from motion.move_to(grasp_pos, rot, tol=cfg.fine_tol, max_steps=25, speed=cfg.fine_speed, stall=True)
    z0 = scene.shape(obj).lo[2]
    yield from motion.set_gripper(CLOSED, cfg.close_steps)
    lift = scene.eef_pos() + [0, 0, cfg.lift_check + 0.03]
    yield from motion.move_to(lift, rot, tol=cfg.travel_tol, max_steps=15, stall=True)
    return bool(scene.grasped(obj) and scene.shape(obj).lo[2] > z0 + cfg.lift_check)


def place(scene: Scene, motion: Motion, obj: str, target: str, relation: str, spec: GraspSpec,
          rng: np.random.Generator, cfg: PickPlaceConfig) -> Generator[np.ndarray, None, bool]:
    """Carry the held `obj` over `target`, lower it and let go, then move the gripper up; returns
    False (without letting go) if the object slipped out of the hand while it was being raised."""
    goal = place_target(scene, obj, target, relation, spec, cfg)
    jitter = cfg.shared_place_jitter if goal.shared else cfg.place_jitter
    goal.xy = goal.xy + rng.uniform(-1, 1, 2) * jitter
    rot = _carry_rotation(scene, obj, goal.yaw)

    def eef_for(bottom_z: float) -> np.ndarray:
        """Eef position that puts the held object over the goal with its bottom at `bottom_z`."""
        eef, shape = scene.eef_pos(), scene.shape(obj)
        offset = eef[:2] - held_xy(scene, obj, shape, goal.by_center)
        return np.array([*(goal.xy + offset), bottom_z + eef[2] - shape.lo[2]])

    shift = overhang_exit(scene, obj, goal.carry_bottom_z, cfg)
    if shift is not None:  # rising straight up would hit something above the object
        side = scene.eef_pos() + [*shift, 0.0]
        yield from motion.move_to(side, rot, tol=cfg.travel_tol, max_steps=40, stall=True)
    up = scene.eef_pos()
    up[2] = eef_for(goal.carry_bottom_z)[2]
    yield from motion.move_to(up, rot, tol=cfg.travel_tol * 2, max_steps=40, stall=True)
    if not scene.grasped(obj):
        return False  # dropped on the way up: the caller may pick it again
    jitter = np.array([*rng.uniform(-1, 1, 2) * cfg.waypoint_jitter, 0.0])
    yield from motion.track(lambda: eef_for(goal.carry_bottom_z) + jitter * 0.5, rot, tol=cfg.travel_tol,
                            max_steps=80, stall=True)
    yield from motion.track(lambda: eef_for(goal.bottom_z + cfg.slow_above), rot, tol=cfg.travel_tol,
                            max_steps=40, stall=True)
    yield from motion.track(lambda: eef_for(goal.bottom_z), rot, tol=cfg.fine_tol, max_steps=30,
                            speed=cfg.fine_speed, stall=True)
    yield from motion.set_gripper(OPEN, cfg.open_steps)
    away = scene.eef_pos() + [0, 0, cfg.retreat]
    yield from motion.move_to(away, None, tol=cfg.travel_tol * 2, max_steps=15, stall=True)
    return True


def overhang_exit(scene: Scene, obj: str, carry_bottom_z: float, cfg: PickPlaceConfig) -> np.ndarray | None:
    """Shortest sideways shift (xy) of the held `obj`, at its height, after which nothing stands above
    it up to the carry height (an open drawer over the table); None if none is needed or none within
    `overhang_max` works. Bounding boxes, not rays: a drawer's front panel is only 3 mm thick."""
    shape = scene.shape(obj)
    lo, hi = shape.lo[:2] - cfg.overhang_margin, shape.hi[:2] + cfg.overhang_margin
    top = carry_bottom_z + shape.height

    def blocked(shift: np.ndarray) -> bool:
        above = scene.obstructed([*(lo + shift), shape.hi[2]], [*(hi + shift), top], (obj,))
        on_way = scene.obstructed([*np.minimum(lo, lo + shift), shape.lo[2] + cfg.overhang_margin],
                                  [*np.maximum(hi, hi + shift), shape.hi[2]], (obj,))
        return above or on_way

    if not blocked(np.zeros(2)):
        return None
    angles = np.linspace(0, 2 * np.pi, cfg.overhang_dirs, endpoint=False)
    dirs = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    reach = scene.robot_base()[:2] - shape.center
    for dist in np.arange(cfg.overhang_step, cfg.overhang_max + 1e-9, cfg.overhang_step):
        shifts = [d for d in dist * dirs if not blocked(d)]
        if shifts:
            return min(shifts, key=lambda d: float(np.linalg.norm(reach - d)))  # the one nearest the base
    return None


def place_target(scene: Scene, obj: str, target: str, relation: str, spec: GraspSpec,
                 cfg: PickPlaceConfig) -> Place:
    """Release point for `obj` on / in `target` (an object or a region site) and a safe carry height."""
    shape = scene.shape(obj)
    # `On` a region another object already stands on: a free spot instead of the (taken) centre
    others = _standing_on(scene, obj, target) if relation == "on" and scene.is_site(target) else []
    xy = free_spot(scene, target, others, cfg) if others else scene.pos(target)[:2]
    radius = 0.5 * min(shape.long, 0.08)
    surface = scene.surface_z(xy, radius, exclude=(obj,))
    bottom = surface + spec.drop
    yaw, by_center = None, False
    if scene.is_site(target):
        region_top = scene.pos(target)[2] + scene.region_half_extents(target)[2]
        if relation == "in" and scene.surface_z(xy, 0.0, exclude=(obj,)) < region_top:
            # open-topped container (basket, caddy): release just above its walls, midway between them
            bottom = max(bottom, region_top + spec.into_clearance)
            xy, by_center = between_walls(scene, target, obj, cfg), True
        if spec.align_to_region:
            yaw = scene.region_long_yaw(target)
    eef = scene.eef_pos()
    hold = eef[2] - shape.lo[2]
    eef_goal = xy + eef[:2] - held_xy(scene, obj, shape, by_center)
    carry = max(travel_z(scene, eef_goal, cfg, held=obj, clearance=spec.carry_clearance) - hold, bottom + 0.03)
    carry = min(carry, shape.lo[2] + cfg.max_carry_z)
    return Place(xy=xy, bottom_z=bottom, carry_bottom_z=carry, yaw=yaw, shared=bool(others), by_center=by_center)


def between_walls(scene: Scene, region: str, obj: str, cfg: PickPlaceConfig) -> np.ndarray:
    """Midpoint between an open container's walls along both horizontal axes of its `region` site.

    A compartment's walls need not be centred on its region (the caddy's are 5 mm off), and a book fills
    its compartment's length to within 1.5 cm: aimed at the region's centre, it lands on a wall. Where no
    wall rises within the region's reach along an axis, the region's edge stands in for it.
    """
    center = scene.pos(region)
    floor = scene.surface_z(center[:2], 0.0, exclude=(obj,))
    yaw, halves = scene.region_long_yaw(region), scene.region_half_extents(region)[:2]
    mid = center[:2].copy()
    for axis in (np.array([np.cos(yaw), np.sin(yaw)]), np.array([-np.sin(yaw), np.cos(yaw)])):
        half = float(halves @ np.abs(axis))

        def wall(sign: int) -> float:
            for d in np.arange(cfg.wall_probe, half + cfg.wall_reach, cfg.wall_probe):
                if scene.surface_z(center[:2] + sign * d * axis, 0.0, exclude=(obj,)) > floor + cfg.wall_rise:
                    return d
            return half

        mid += 0.5 * (wall(1) - wall(-1)) * axis
    return mid


def _standing_on(scene: Scene, obj: str, region: str) -> list[str]:
    """Objects other than `obj` (and the region's parent) whose origin is already on `region`."""
    return [n for n in scene.env.objects_dict
            if n != obj and n != scene.site_parent(region) and scene.on_region(n, region)]


def free_spot(scene: Scene, region: str, others: list[str], cfg: PickPlaceConfig) -> np.ndarray:
    """Spot (xy of the placed object's origin) inside a region site that `others` already stand on:
    the one farthest from them, ties going to the spot nearest the robot's base. Lets several objects
    share a region (two moka pots on one cook region), where aiming at its centre would hit the first.

    LIBERO's `On` for a region needs the object's origin strictly inside the region's xy box, so the
    spots keep `region_margin` from its edges.
    """
    half = np.maximum(scene.site_size(region)[:2] - cfg.region_margin, 0.0)
    grid = np.linspace(-1.0, 1.0, cfg.region_grid)
    spots = [scene.region_point(region, [u * half[0], v * half[1], 0.0])[:2] for u in grid for v in grid]
    taken = [scene.shape(n).center for n in others]
    base = scene.robot_base()[:2]

    def score(p: np.ndarray) -> tuple[float, float]:
        clearance = min(np.linalg.norm(p - t) for t in taken)
        return round(float(clearance), 4), -float(np.linalg.norm(p - base))

    return max(spots, key=score)


def travel_z(scene: Scene, end_xy: np.ndarray, cfg: PickPlaceConfig, held: str | None = None,
             clearance: float = 0.03) -> float:
    """Lowest eef height at which fingers, hand and a `held` object clear the straight way to `end_xy`.

    `end_xy` is where the eef goes; a held object keeps its current offset from the eef.
    """
    eef = scene.eef_pos()
    exclude = (held,) if held else ()
    if held:
        shape = scene.shape(held)
        hold = eef[2] - shape.lo[2]  # eef height above the object's bottom
        offset = scene.pos(held)[:2] - eef[:2]
        obj_radius = 0.5 * min(shape.long, 0.08)
    need = -np.inf
    for p in np.linspace(eef[:2], end_xy, cfg.path_samples):
        need = max(need,
                   scene.surface_z(p, cfg.finger_radius, exclude) + FINGERTIP_BELOW + clearance,
                   scene.surface_z(p, cfg.hand_radius, exclude) - HAND_ABOVE + clearance)
        if held:
            need = max(need, scene.surface_z(p + offset, obj_radius, exclude) + hold + clearance)
    return float(need)


def _carry_rotation(scene: Scene, obj: str, long_yaw: float | None) -> np.ndarray:
    """Gripper rotation while carrying: as grasped, or turned so the object's long axis is at `long_yaw`."""
    x = scene.eef_mat()[:, 0]
    eef_yaw = float(np.arctan2(x[1], x[0]))
    if long_yaw is None:
        return top_down(eef_yaw)
    shape = scene.shape(obj)
    long_now = shape.short_yaw + np.pi / 2
    return top_down(wrap_yaw(eef_yaw + (long_yaw - long_now)))
