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


def test_an_object_something_is_stacked_on_is_placed_first():
    """Stack-then-carry puts a finger into the inner bowl; carrying the base first and stacking after does not."""
    goal = [["on", "bowl_1", "bowl_2"], ["in", "bowl_2", "tray_1_contain_region"]]
    steps = planner.plan(FakeScene(goal, {"tray_1_contain_region"}))
    assert [s.predicate for s in steps] == [("in", "bowl_2", "tray_1_contain_region"), ("on", "bowl_1", "bowl_2")]


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


class SiteFrame:
    """A region site's rotation and size, for `Scene`'s region geometry."""

    def __init__(self, mat: np.ndarray, size: tuple[float, float, float]):
        self._mat, self._size = np.asarray(mat, dtype=float), np.asarray(size, dtype=float)

    def mat(self, name: str) -> np.ndarray:
        return self._mat

    def site_size(self, name: str) -> np.ndarray:
        return self._size


def test_region_geometry_follows_a_site_whose_size_z_is_not_vertical():
    """A desk caddy's front compartment (libero_90 73): its site's y axis points down, so the compartment is
    5.6 cm across x, 12.4 cm along y and 7.2 cm tall, the box LIBERO's `In` test checks."""
    from hilam.data.expert.scene import Scene

    front = SiteFrame([[1, 0, 0], [0, 0, 1], [0, -1, 0]], (0.028, 0.036, 0.062))
    np.testing.assert_allclose(Scene.region_half_extents(front, "r"), [0.028, 0.062, 0.036])
    assert np.isclose(abs(Scene.region_long_yaw(front, "r")), np.pi / 2)
    c, s = np.cos(0.5), np.sin(0.5)
    turned = SiteFrame([[c, -s, 0], [s, c, 0], [0, 0, 1]], (0.1, 0.05, 0.02))  # upright, yawed 0.5 rad
    assert np.isclose(Scene.region_half_extents(turned, "r")[2], 0.02)
    assert np.isclose(Scene.region_long_yaw(turned, "r"), 0.5)


def test_midpoints_draws_the_middle_of_every_range_in_the_shape_asked():
    from hilam.data.expert.rollout import Midpoints

    m = Midpoints()
    assert m.uniform(0.85, 1.0) == pytest.approx(0.925) and isinstance(m.uniform(-1, 1), float)
    assert m.uniform(-1, 1, 2).tolist() == [0.0, 0.0]
    assert m.uniform(0, np.pi / 12) == pytest.approx(np.pi / 24)
