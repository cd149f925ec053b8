"""Turn a BDDL goal into an ordered list of skill steps, and each step into an action generator."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from hilam.data.expert import articulated, microwave, pushing, shelving
from hilam.data.expert.grasps import grasp_spec
from hilam.data.expert.motion import Motion
from hilam.data.expert.scene import Scene
from hilam.data.expert.skills import pick_and_place

# execution order: open prerequisites < placements < closing < switching on / off (but see _switch_before_handles)
RANK = {"open": 0, "on": 1, "in": 1, "close": 2, "turnon": 3, "turnoff": 3}
PLACEMENTS = ("on", "in")
SWITCHES = ("turnon", "turnoff")


@dataclass(frozen=True)
class Step:
    """One skill to run; `predicate` is what it makes true (the step is skipped while that holds)."""

    predicate: tuple[str, ...]
    prerequisite: bool = False  # an opening step the goal needs but does not state ...
    fit: str | None = None  # ... for this object to go in

    @property
    def rank(self) -> int:
        return RANK[self.predicate[0]]


def plan(scene: Scene) -> list[Step]:
    """Ordered steps for the scene's goal, with openings of closed target containers first."""
    steps: list[Step] = []
    for pred in scene.goal():
        if pred[0] not in RANK:
            raise ValueError(f"no skill for goal predicate {pred}")
        target = pred[-1]
        if pred[0] in PLACEMENTS and scene.is_site(target) and _needs_opening(scene, target):
            steps.append(Step(("open", target), prerequisite=True, fit=pred[1]))
        steps.append(Step(tuple(pred)))
    supports = {s.predicate[2] for s in steps if s.predicate[0] in PLACEMENTS}
    # stable: goal order within a rank, except that an object the goal puts something on is placed first
    # (stacking the bowls and then carrying the stack puts a finger into the inner bowl)
    steps = sorted(steps, key=lambda s: (s.rank, not (s.predicate[0] in PLACEMENTS and s.predicate[1] in supports)))
    return _switch_before_handles(scene, _close_before_open(scene, steps))


def _fixture(scene: Scene, name: str) -> str:
    return scene.site_parent(name) if scene.is_site(name) else name


def _close_before_open(scene: Scene, steps: list[Step]) -> list[Step]:
    """A stated opening of a fixture whose other part the goal closes comes after that closing: a drawer
    left open above hangs over the handle of the one below that the hand has to push shut."""
    closing = {_fixture(scene, s.predicate[1]) for s in steps if s.predicate[0] == "close"}
    late = [s for s in steps if s.predicate[0] == "open" and not s.prerequisite
            and _fixture(scene, s.predicate[1]) in closing]
    return [s for s in steps if s not in late] + late


def _switch_before_handles(scene: Scene, steps: list[Step]) -> list[Step]:
    """A fixture is switched before anything held by a handle is put on it: once there, a pan's handle
    overhangs the stove's knobs. Other switching stays last."""
    out: list[Step] = []
    for step in steps:
        if step in out:
            continue
        name, *args = step.predicate
        if name in PLACEMENTS and scene.is_site(args[1]) and grasp_spec(scene.kind(args[0])).mode == "handle":
            fixture = scene.site_parent(args[1])
            out += [s for s in steps if s.predicate[0] in SWITCHES and s.predicate[1] == fixture and s not in out]
        out.append(step)
    return out


def satisfied(scene: Scene, step: Step) -> bool:
    """Whether the step has nothing left to do."""
    if step.prerequisite:
        return articulated.opened_for(scene, step.predicate[1], step.fit)
    return scene.holds(list(step.predicate))


def skill(scene: Scene, motion: Motion, step: Step, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The action generator that carries out one step."""
    name, *args = step.predicate
    if step.prerequisite:
        return articulated.open_for(scene, motion, args[0], step.fit, rng)
    if name in PLACEMENTS:
        obj, target = args
        if name == "in" and microwave.is_microwave_region(scene, target):
            return microwave.place_in_microwave(scene, motion, obj, target, rng)
        if name == "in" and shelving.opening(scene, target) is not None:
            return shelving.slide_in(scene, motion, obj, target, rng)
        if name == "on" and pushing.should_push(scene, obj, target):
            return pushing.push_to(scene, motion, obj, target, rng)
        return pick_and_place(scene, motion, obj, target, name, rng)
    fn = {"open": articulated.open_articulated, "close": articulated.close_articulated,
          "turnon": articulated.turn_on, "turnoff": articulated.turn_off}[name]
    return fn(scene, motion, args[0], rng)


def _needs_opening(scene: Scene, region: str) -> bool:
    return bool(articulated.needs_opening(scene, region))
