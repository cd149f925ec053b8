"""benchmarks/demo_grasps.py: grasp sides are read from the offset and grouped into modes round the circle."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.demo_grasps import bearing, modes


def test_bearing_is_the_grippers_side_of_the_object():
    # the offset is object minus gripper: an object 1 cm in +x of the gripper has the gripper on its 180-degree side
    assert bearing(np.array([0.01, 0.0, -0.05])) == pytest.approx(180.0)
    assert bearing(np.array([0.0, 0.01, 0.0])) == pytest.approx(270.0)


def test_two_sides_far_apart_are_two_modes_largest_first():
    m = modes([20, 25, 30, 140, 145, 150, 155], gap=45)
    assert [x["n"] for x in m] == [4, 3]
    assert m[0]["mean"] == pytest.approx(147.5) and m[1]["mean"] == pytest.approx(25.0)


def test_an_arc_through_north_is_one_mode_and_one_side_is_one():
    m = modes([350, 355, 5, 10], gap=45)  # wraps through 0 degrees: one arc, not two
    assert [x["n"] for x in m] == [4] and min(m[0]["mean"], 360 - m[0]["mean"]) == pytest.approx(0.0, abs=1e-6)
    assert [x["n"] for x in modes([100, 120, 140, 160, 180], gap=45)] == [5]  # spread but no wide gap
    assert modes([], gap=45) == []
