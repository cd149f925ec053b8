"""Scripted placement of a mug into a microwave's heating region, held by its handle."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from hilam.data.expert.articulated import CFG, UP, _approach, _facing, _jitter, _top
from hilam.data.expert.grasps import HOME_YAW
from hilam.data.expert.motion import CLOSED, OPEN, Motion, top_down
from hilam.data.expert.scene import Scene


def is_microwave_region(scene: Scene, region: str) -> bool:
    """True if `region` is a site inside a microwave (its heating region, not its top side)."""
    if not scene.is_site(region) or scene.kind(scene.site_parent(region)) != "Microwave":
        return False
    return bool(scene.pos(region)[2] < scene.shape(scene.site_parent(region)).hi[2])


def _mug_handle(scene: Scene, obj: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(xy of the handle's outer bar, unit xy direction from the cup's axis to the handle), or None
    for an object without a handle (its footprint centre then coincides with its rim centre)."""
    shape = scene.shape(obj)
    h = shape.center - shape.rim_center
    if np.linalg.norm(h) < 0.01:
        return None
    h /= np.linalg.norm(h)
    reach = float(np.max((scene.vertices(obj)[:, :2] - shape.rim_center) @ h))
    return shape.rim_center + (reach - CFG.mug_handle_inset) * h, h


def _put_mug_in(scene: Scene, motion: Motion, obj: str, region: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Hold the mug by its handle with a forward-tilted gripper (fingers closing horizontally), lift
    it just above the microwave floor, slide it in through the door opening and set it down with
    the handle towards the door, so that the hand never enters the low interior and the door can
    close in front of the handle."""
    handle = _mug_handle(scene, obj)
    if handle is None:
        return
    bar, h = handle
    into = np.array([*-h, 0.0])
    rot = _facing(scene, into, CFG.mug_pitch, vertical_fingers=False)
    grip = np.array([*bar, scene.shape(obj).lo[2] + CFG.mug_grip_height]) + _jitter(rng, UP)
    motion.gripper = OPEN
    yield from _approach(motion, grip - CFG.mug_standoff * rot[:, 2], rot, tol=0.012)
    yield from motion.move_to(grip, rot, tol=0.006, max_steps=40, speed=0.5)
    yield from motion.set_gripper(CLOSED, steps=CFG.mug_close_steps)
    if not scene.grasped(obj):
        yield from motion.move_to(grip - CFG.mug_standoff * rot[:, 2], rot, tol=0.02, max_steps=30)
        return
    frame = scene.mat(region)
    goal = scene.pos(region)[:2] + (frame[:, :2] @ np.asarray(CFG.mug_spot))[:2]
    goal = goal + _jitter(rng, frame[:, 0])[:2]
    floor = scene.surface_z(goal, 0.0, exclude=(obj,), top=float(scene.pos(region)[2]))  # under the ceiling

    # the mug's pose in the hand as grasped (re-reading it while carried would chase its sway)
    rim, bottom = scene.shape(obj).rim_center, scene.shape(obj).lo[2]
    held = scene.eef_pos() - np.array([*rim, bottom])

    def eef_for(xy: np.ndarray, base: float) -> np.ndarray:
        """Eef position that puts the mug's rim centre over `xy` with its base at height `base`."""
        return np.array([*xy, base]) + held

    carry = floor + CFG.mug_clearance
    yield from motion.move_to(eef_for(rim, carry), rot, tol=0.015, max_steps=40)
    yield from motion.move_to(eef_for(goal, carry), rot, tol=0.008, max_steps=CFG.approach_steps)
    yield from motion.move_to(eef_for(goal, floor + CFG.mug_drop), rot, tol=0.005, max_steps=30, speed=0.4)
    yield from motion.set_gripper(OPEN, steps=6)
    back = scene.eef_pos() - CFG.mug_retreat * rot[:, 2]
    yield from motion.move_to(back, rot, tol=0.02, max_steps=40)
    # leave the hand top-down above the microwave in its home yaw, the pose the other skills start
    # from (a wrist left turned by the handle grasp runs into its joint limit in the next skill)
    top = _top(scene, scene.collision_geoms(scene.site_parent(region))) + CFG.travel_clearance
    yield from motion.move_to(np.array([*back[:2], max(top, back[2])]), rot, tol=0.02, max_steps=40)
    yield from motion.move_to(scene.eef_pos(), top_down(HOME_YAW), tol=0.02, max_steps=40)


def place_in_microwave(scene: Scene, motion: Motion, obj: str, region: str,
                       rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Put a mug into a microwave's heating region (the door must be open); retries once."""
    for _ in range(2):
        if scene.holds(["in", obj, region]):
            return
        yield from _put_mug_in(scene, motion, obj, region, rng)
