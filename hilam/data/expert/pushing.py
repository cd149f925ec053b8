"""Scripted pushing of flat dishes (plates) over the table into a table region, around other objects."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from hilam.data.expert.articulated import CFG, UP, _approach, _facing
from hilam.data.expert.motion import OPEN, Motion
from hilam.data.expert.scene import Scene


PUSHED_KINDS = ("Plate", "YellowPlate")  # flat dishes: pushed over the table, not lifted


def _footprint(scene: Scene, name: str) -> tuple[np.ndarray, np.ndarray]:
    shape = scene.shape(name)
    return shape.lo[:2], shape.hi[:2]


def _clearance(points: np.ndarray, radius: float, boxes: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Smallest gap between discs of `radius` at `points` (N, 2) and axis-aligned boxes (lo, hi)."""
    best = np.inf
    for lo, hi in boxes:
        d = np.linalg.norm(np.maximum(np.maximum(lo - points, points - hi), 0.0), axis=1)
        best = min(best, float(d.min()) - radius)
    return best


def _segment(a: np.ndarray, b: np.ndarray, step: float = 0.01) -> np.ndarray:
    n = max(2, int(np.linalg.norm(b - a) / step) + 1)
    return a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)


def _push_plan(scene: Scene, obj: str, region: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Waypoints (xy) for the object's origin: a goal inside the region clear of other objects, reached
    straight or via one detour point, keeping the pushed disc clear of obstacles and every pusher
    position (behind the object at the start of a leg) within the arm's reach."""
    lo, hi = _footprint(scene, obj)
    radius = 0.5 * float(np.max(hi - lo))
    names = [n for n in (*scene.env.objects_dict, *scene.env.fixtures_dict) if n != obj and scene.collision_geoms(n)]
    boxes = [b for b in (_footprint(scene, n) for n in names) if np.all(b[1] - b[0] < 0.6)]  # skip the table
    base = scene.robot_base()[:2]
    start = scene.pos(obj)[:2]
    centre, half = scene.pos(region)[:2], scene.site_size(region)[:2]
    margin = CFG.push_obstacle_margin
    grid = np.linspace(-0.6, 0.6, 7)
    goals = [centre + half * np.array([gx, gy]) for gx in grid for gy in grid]
    goal = max(goals, key=lambda g: min(_clearance(g[None], radius, boxes), margin)
               - 0.05 * float(np.linalg.norm(g - centre) + np.linalg.norm(g - start)))
    goal = goal + rng.uniform(-1, 1, 2) * 0.25 * CFG.jitter
    lo_xy, hi_xy = np.minimum(start, goal) - 0.1, np.maximum(start, goal) + 0.1
    vias = [None] + [np.array([x, y]) for x in np.linspace(lo_xy[0], hi_xy[0], 15)
                     for y in np.linspace(lo_xy[1], hi_xy[1], 15)]

    def score(via) -> float:
        legs = [start, goal] if via is None else [start, via, goal]
        pairs = list(zip(legs[:-1], legs[1:]))
        pts = np.concatenate([_segment(a, b) for a, b in pairs])
        length = sum(float(np.linalg.norm(b - a)) for a, b in pairs)
        reach = max(float(np.linalg.norm(a - (b - a) / max(np.linalg.norm(b - a), 1e-6) * (radius + 0.02) - base))
                    for a, b in pairs)
        return min(_clearance(pts, radius, boxes), margin) - 0.05 * length - max(0.0, reach - CFG.push_reach)

    via = max(vias, key=score)
    return [goal] if via is None else [via, goal]


def _push_leg(scene: Scene, motion: Motion, obj: str, waypoint: np.ndarray) -> Iterator[np.ndarray]:
    """Push `obj` in a straight line until its origin reaches `waypoint` (xy) with the open fingers
    (a two-point pusher spread across the push) kept behind the object's centre on the line to the
    waypoint; the gripper leans forward a little so its housing clears whatever stands behind."""
    lo, hi = _footprint(scene, obj)
    radius = 0.5 * float(np.max(hi - lo))
    p = scene.pos(obj)
    u0 = np.array([*(waypoint - p[:2]), 0.0])
    if np.linalg.norm(u0) < CFG.push_tol:
        return
    u0 /= np.linalg.norm(u0)
    rot = _facing(scene, -u0, np.pi / 2 - CFG.pusher_lean, vertical_fingers=False)
    z = scene.shape(obj).lo[2] + CFG.pusher_height
    behind = radius + CFG.pusher_half_width
    motion.gripper = OPEN
    yield from _approach(motion, np.array([*(p[:2] - (behind + CFG.pusher_gap) * u0[:2]), z]), rot, tol=0.012)
    for _ in range(CFG.push_waypoint_steps):
        p = scene.pos(obj)
        rest = np.array([*(waypoint - p[:2]), 0.0])
        if rest @ u0 < CFG.push_tol:
            break
        u = rest / np.linalg.norm(rest)
        off = p - scene.eef_pos()
        off = off - (off @ u) * u  # the pusher's sideways miss of the object's centre line
        off[2] = 0.0
        target = np.array([*(p[:2] - (behind - CFG.push_advance) * u[:2]), z]) + CFG.push_steer * off
        speed = float(np.clip((rest @ u0) / 0.05, 0.3, CFG.push_speed))
        yield motion.action(target, rot, speed=speed)
    yield from motion.move_to(scene.eef_pos() - 0.02 * u0 + 0.06 * UP, rot, tol=0.02, max_steps=20)


def push_to(scene: Scene, motion: Motion, obj: str, region: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Push a flat object (a plate) over the table into a table region, around other objects."""
    for _ in range(2):
        if scene.holds(["on", obj, region]):
            return
        for waypoint in _push_plan(scene, obj, region, rng):
            yield from _push_leg(scene, motion, obj, waypoint)


def should_push(scene: Scene, obj: str, target: str) -> bool:
    """True when `obj` should be pushed rather than lifted onto `target`: a plate to a table region."""
    return scene.kind(obj) in PUSHED_KINDS and scene.is_site(target) and scene.kind(target) == "TargetZone"
