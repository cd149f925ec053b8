"""The evaluator's bookkeeping without a simulator: the order episodes run in, and Wilson intervals."""
from __future__ import annotations

from hilam.envs.suites import task_spec
from hilam.evaluate import Episode, run_order, wilson_interval


def test_run_order_covers_every_task_evenly_when_cut_short():
    tasks = [task_spec("libero_object", t) for t in (0, 1, 2)]
    eps = [Episode(t, i, None) for t in tasks for i in range(4)]
    first_half = [(e.task.task_id, e.index) for e in run_order(eps, rounds=2)[:6]]
    assert first_half == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert run_order(eps, rounds=1) == eps  # task after task
    # resumed: task 0 finished its first round, so its remaining two episodes split over the two new rounds
    left = [e for e in eps if not (e.task.task_id == 0 and e.index < 2)]
    assert [(e.task.task_id, e.index) for e in run_order(left, rounds=2)[:5]] == [(0, 2), (1, 0), (1, 1), (2, 0),
                                                                                    (2, 1)]


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(45, 50)
    assert abs(lo - 0.7864) < 1e-3 and abs(hi - 0.9565) < 1e-3
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
