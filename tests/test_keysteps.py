"""Ground-truth key steps (predicate replay on the real simulator) and segmentation metrics."""
from __future__ import annotations

import numpy as np
import pytest

from hilam.keysteps import fixed_boundaries, key_steps, match, score, subtask_boundaries


def test_key_step_is_the_start_of_the_final_true_run():
    table = np.array([[0, 1, 0], [1, 1, 0], [0, 1, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1]], bool)
    # predicate 0 flickers: its key step is where it becomes true for good (3); predicate 1 is true from the start
    assert key_steps(table) == [3, 4]
    assert subtask_boundaries([3, 40, 98], length=100) == [3, 40]


def test_boundary_scores_on_hand_made_segmentations():
    true = [[50, 120], [80]]
    pred = [[48, 100, 121], [200]]
    assert match(pred[0], true[0], 5) == 2 and match([50, 51], [50], 5) == 1  # one-to-one
    s = score(pred, true, tolerances=(5, 25))
    # within 5: 2 matches of 4 predicted and 3 true -> P 0.5, R 2/3
    assert s.f1[5] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert s.f1[25] == pytest.approx(s.f1[5])  # 100 is 20 from 120 but 120 is already taken by 121
    assert s.mean_abs_error == pytest.approx((2 + 1 + 120) / 3)
    assert s.count_accuracy == pytest.approx(0.5)
    perfect = score(true, true)
    assert perfect.f1[5] == 1.0 and perfect.mean_abs_error == 0.0 and perfect.count_accuracy == 1.0
    assert fixed_boundaries(100, 30) == [30, 60, 90]


@pytest.mark.sim
def test_predicate_replay_finds_the_boundaries_seen_live():
    """An expert demo of a two-predicate libero_10 task: the key steps from replaying its `states` equal the
    ones observed live while the demo was made."""
    from hilam.data.expert.expert import ScriptedExpert
    from hilam.envs.libero_env import LiberoEnv
    from hilam.keysteps import goal_predicates, holds, predicate_trace

    env = LiberoEnv.for_task("libero_10", 4, render=False)  # white mug on the left plate, yellow mug on the right
    env.reset(seed=3)
    expert = ScriptedExpert(env, np.random.default_rng(3))
    expert.reset()
    goal = goal_predicates(env)
    live, states, actions = [holds(env, goal)], [], []
    while len(actions) < 520 and not expert.done:
        states.append(env.get_state())
        actions.append(expert.act())
        env.step(actions[-1])
        live.append(holds(env, goal))
        if env.success():
            break
    assert env.success() and len(goal) == 2
    live_keys = key_steps(np.asarray(live))
    _, table = predicate_trace(env, np.asarray(states), ended_in_success=True)
    assert np.array_equal(table, np.asarray(live))  # replayed rows, then the success row
    assert key_steps(table) == live_keys
    assert len(live_keys) == 2 and 0 < live_keys[0] < live_keys[1] == len(actions)
    env.close()
