"""The LIBERO suites by name and alias, with the evaluation protocol constants of each."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class SuiteSpec:
    """One LIBERO suite: official name, short alias and its per-episode step budget."""

    name: str
    alias: str
    max_steps: int  # common eval protocol (OpenVLA / LeRobot LIBERO evaluation: spatial 220, object 280, goal 300, libero_10 520, libero_90 400 steps)
    n_tasks: int


SUITES: dict[str, SuiteSpec] = {
    s.name: s
    for s in (
        SuiteSpec("libero_spatial", "spatial", 220, 10),
        SuiteSpec("libero_object", "object", 280, 10),
        SuiteSpec("libero_goal", "goal", 300, 10),
        SuiteSpec("libero_10", "long", 520, 10),
        SuiteSpec("libero_90", "90", 400, 90),
    )
}
ALIASES = {s.alias: s.name for s in SUITES.values()} | {"10": "libero_10"}

SETTLE_STEPS = 10  # steps of SETTLE_ACTION after each reset, before the policy acts
SETTLE_ACTION = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0)  # hold still, gripper open


def resolve_suite(name: str) -> SuiteSpec:
    """Look a suite up by official name (`libero_10`) or alias (`long`)."""
    key = ALIASES.get(name, name)
    if key not in SUITES:
        known = ", ".join(sorted(set(SUITES) | set(ALIASES)))
        raise ValueError(f"unknown LIBERO suite {name!r}; known: {known}")
    return SUITES[key]


@dataclass(frozen=True)
class TaskSpec:
    """One task of a suite: where its BDDL file is and what it asks, in words."""

    suite: str
    task_id: int
    name: str
    language: str
    bddl_file: str


@lru_cache(maxsize=None)
def _benchmark(suite: str):
    from libero.libero import benchmark

    return benchmark.get_benchmark_dict()[suite]()


def task_spec(suite: str, task_id: int) -> TaskSpec:
    """The task `task_id` of `suite` (by name or alias)."""
    from libero.libero import get_libero_path

    spec = resolve_suite(suite)
    bench = _benchmark(spec.name)
    if not 0 <= task_id < bench.n_tasks:
        raise ValueError(f"{spec.name} has tasks 0..{bench.n_tasks - 1}, not {task_id}")
    t = bench.get_task(task_id)
    bddl = os.path.join(get_libero_path("bddl_files"), t.problem_folder, t.bddl_file)
    return TaskSpec(spec.name, task_id, t.name, t.language, bddl)


def task_specs(suite: str) -> list[TaskSpec]:
    """All tasks of a suite in official order."""
    spec = resolve_suite(suite)
    return [task_spec(spec.name, i) for i in range(_benchmark(spec.name).n_tasks)]


def official_init_states(suite: str, task_id: int):
    """The official (50, D) evaluation init states of a task; never used for training demos."""
    return _benchmark(resolve_suite(suite).name).get_task_init_states(task_id)
