"""Scripted-expert planning logic without the simulator: step order, prerequisites, gripper yaw."""
from __future__ import annotations

import numpy as np
import pytest

from hilam.data.expert import planner
from hilam.data.expert.grasps import HOME_YAW, wrap_yaw


class FakeScene:
    """Just enough of `Scene` for the planner: a goal and which names are region sites."""

    def __init__(self, goal: list[list[str]], sites: set[str]):
        self._goal, self._sites = goal, sites

    def goal(self) -> list[list[str]]:
        return self._goal

    def is_site(self, name: str) -> bool:
        return name in self._sites

    def site_parent(self, name: str) -> str:
        return name.rsplit("_", 2)[0]  # "stove_1_cook_region" -> "stove_1"

    def kind(self, name: str) -> str:
        return {"pan": "Chefmate8Frypan"}.get(name.split("_")[0], "MokaPot")


class FakeArticulated:
    """Stands in for the articulated skills: every drawer region starts closed."""

    @staticmethod
    def needs_opening(scene, region: str) -> bool:
        return "drawer" in region


@pytest.fixture(autouse=True)
def fake_articulated(monkeypatch):
    monkeypatch.setattr(planner, "articulated", FakeArticulated)


def test_steps_run_open_then_place_then_close_then_switch():
    scene = FakeScene(
        [["turnon", "stove_1"], ["close", "cab_drawer_region"], ["in", "bowl_1", "cab_drawer_region"],
         ["on", "pot_1", "stove_1_cook_region"]],
        sites={"cab_drawer_region", "stove_1_cook_region"},
    )
    steps = planner.plan(scene)
    assert [s.predicate[0] for s in steps] == ["open", "in", "on", "close", "turnon"]
    assert steps[0].prerequisite and steps[0].predicate == ("open", "cab_drawer_region")
    assert steps[0].fit == "bowl_1"  # the drawer is opened just far enough for the bowl


def test_a_stove_is_switched_on_before_a_pan_goes_on_it():
    """Once on the stove, a pan's handle would overhang the knob; a pot on it still waits for the switch."""
    goal = [["turnon", "stove_1"], ["on", "pan_1", "stove_1_cook_region"], ["on", "pot_1", "stove_1_cook_region"]]
    steps = planner.plan(FakeScene(goal, {"stove_1_cook_region"}))
    assert [s.predicate[:2] for s in steps] == [("turnon", "stove_1"), ("on", "pan_1"), ("on", "pot_1")]
    goal = [["turnon", "stove_1"], ["on", "pot_1", "stove_1_cook_region"]]
    steps = planner.plan(FakeScene(goal, {"stove_1_cook_region"}))
    assert [s.predicate[0] for s in steps] == ["on", "turnon"]


def test_placements_keep_goal_order_and_need_no_opening_on_open_targets():
    scene = FakeScene([["in", "soup_1", "basket_region"], ["in", "sauce_1", "basket_region"]], {"basket_region"})
    assert [s.predicate[1] for s in planner.plan(scene)] == ["soup_1", "sauce_1"]


def test_unknown_predicate_is_an_error():
    with pytest.raises(ValueError):
        planner.plan(FakeScene([["stack", "a", "b"]], set()))


@pytest.mark.parametrize("yaw", np.linspace(-2 * np.pi, 2 * np.pi, 17))
def test_wrap_yaw_is_an_equivalent_gripper_yaw_near_home(yaw):
    w = wrap_yaw(yaw)
    assert abs(w - HOME_YAW) <= np.pi / 2 + 1e-9
    assert np.isclose(np.sin(2 * (w - yaw)), 0.0, atol=1e-9)  # same up to a half turn


def test_a_stated_opening_waits_for_a_closing_of_the_same_fixture():
    """An open drawer above would hang over the handle the hand pushes shut below; other openings go first."""
    top, bottom = "cabinet_1_top_region", "cabinet_1_bottom_region"
    steps = planner.plan(FakeScene([["open", top], ["close", bottom]], {top, bottom}))
    assert [s.predicate for s in steps] == [("close", bottom), ("open", top)]
    steps = planner.plan(FakeScene([["close", bottom], ["open", "microwave_1"]], {bottom}))
    assert [s.predicate for s in steps] == [("open", "microwave_1"), ("close", bottom)]
