"""benchmarks/label_ambiguity.py: a step's neighbour is always from another demo, and label gaps are measured right."""
from __future__ import annotations

import numpy as np

from benchmarks.label_ambiguity import gaps, nearest_other_demo


def test_the_nearest_step_is_taken_from_another_demo_only():
    x = np.array([[0.0], [0.1], [5.0], [0.3]], np.float32)
    demo = np.array([0, 0, 1, 1])
    idx, dist = nearest_other_demo(x, demo, block=3)  # blocks smaller than the data
    assert idx.tolist() == [3, 3, 1, 1]  # step 1: its own demo holds step 0 at 0.1, not eligible
    np.testing.assert_allclose(dist, [0.3, 0.2, 4.9, 0.2], atol=1e-6)


def test_label_gaps_average_the_arm_and_count_gripper_disagreements():
    a = np.zeros((2, 7))
    b = np.zeros((2, 7))
    a[:, 6], b[:, 6] = [1, -1], [1, 1]
    b[0, :6] = 0.6
    assert gaps(a, b) == {"arm_l1": 0.3, "gripper_disagree": 0.5}
    assert gaps(a[:0], b[:0]) == {"arm_l1": None, "gripper_disagree": None}
