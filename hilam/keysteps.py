"""Ground-truth key steps of LIBERO demos and segmentation metrics against them (KS-Gen-style evaluation).

A key step is the first step at which a goal predicate that was false at the start becomes true and
stays true until the end. Replaying `states` in a render-free env gives them for any demo file.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def goal_predicates(env) -> list[list[str]]:
    return [[p[0].lower(), *p[1:]] for p in env.sim_env.parsed_problem["goal_state"]]


def holds(env, goal: list[list[str]]) -> list[bool]:
    """Each goal predicate's truth in the env's current state (the env's own check)."""
    return [bool(env.sim_env._eval_predicate(p)) for p in goal]


def predicate_trace(env, states: np.ndarray, ended_in_success: bool) -> tuple[list[list[str]], np.ndarray]:
    """Replay `states` in a LiberoEnv (render=False); returns the goal predicates and a (T, P) bool table.
    Demos end on the step that succeeds, so `states` lacks the final state; for a demo that `ended_in_success`
    (every demo the state pass keeps, and LIBERO's own) a row with every predicate true is appended (T + 1 rows).
    Re-simulating that last step from states[-1] is not faithful: it missed the success on 28 of 50 demos of
    libero_10 task 5, where the book settles into the caddy only on the last step."""
    goal = goal_predicates(env)
    rows = []
    for s in states:
        env.jump(s)
        rows.append(holds(env, goal))
    if ended_in_success:
        rows.append([True] * len(goal))
    return goal, np.asarray(rows, bool).reshape(len(rows), len(goal))


def key_steps(table: np.ndarray) -> list[int]:
    """Sorted key steps of a (T, P) predicate table: per predicate false at t=0 and true at the end, the start of
    its final run of true values."""
    out = []
    for p in range(table.shape[1]):
        col = table[:, p]
        if col[0] or not col[-1]:
            continue
        false_at = np.flatnonzero(~col)
        out.append(int(false_at[-1]) + 1)
    return sorted(out)


def subtask_boundaries(keys: list[int], length: int, end_margin: int = 5) -> list[int]:
    """Boundaries between subtasks: key steps that end a subtask before the episode ends (the final key step
    is the episode's success and ends the demo)."""
    return [k for k in keys if k < length - end_margin]


@dataclass
class SegmentationScores:
    f1: dict[int, float]  # tolerance -> boundary F1
    mean_abs_error: float  # mean over true boundaries of the distance to the nearest predicted one
    count_accuracy: float  # fraction of sequences with as many predicted segments as true ones


def match(pred: list[int], true: list[int], tol: int) -> int:
    """Greedy one-to-one matches between predicted and true boundaries within `tol` steps, closest first."""
    pairs = sorted((abs(p - t), i, j) for i, p in enumerate(pred) for j, t in enumerate(true) if abs(p - t) <= tol)
    used_p, used_t = set(), set()
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_p)


def score(pred: list[list[int]], true: list[list[int]], tolerances: tuple[int, ...] = (5, 10)) -> SegmentationScores:
    """Boundary F1 (pooled over sequences), mean absolute error and segment-count accuracy.
    Boundaries exclude t=0; a sequence with b boundaries has b + 1 segments."""
    f1 = {}
    for tol in tolerances:
        m = sum(match(p, t, tol) for p, t in zip(pred, true))
        n_p, n_t = sum(map(len, pred)), sum(map(len, true))
        prec, rec = m / n_p if n_p else 0.0, m / n_t if n_t else 0.0
        f1[tol] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    errors = [min(abs(np.asarray(p) - t)) for p, ts in zip(pred, true) if p for t in ts]
    return SegmentationScores(f1, float(np.mean(errors)) if errors else float("nan"),
                              float(np.mean([len(p) == len(t) for p, t in zip(pred, true)])))


def fixed_boundaries(length: int, every: float) -> list[int]:
    """The fixed-length chunking baseline: a boundary every `every` steps."""
    return [int(round(x)) for x in np.arange(every, length, every)]
