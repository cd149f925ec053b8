"""The LIBERO suites by name and alias, with the evaluation protocol constants of each: the classic five, and any
other benchmark of the installed registry (`libero.libero.benchmark.get_benchmark_dict()`: LIBERO-PRO's perturbed
suites `*_lan`, `*_swap`, `*_object`, `*_task`, `*_with_*`, ...) whose BDDL files and init states are all installed."""
from __future__ import annotations

import contextlib
import io
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

LIBERO_DEMOS = 50  # demonstrations per task in LIBERO's datasets (Liu et al., NeurIPS 2023)
SETTLE_STEPS = 10  # steps of SETTLE_ACTION after each reset, before the policy acts
SETTLE_ACTION = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0)  # hold still, gripper open


def resolve_suite(name: str) -> SuiteSpec:
    """Look a suite up by official name (`libero_10`), alias (`long`) or the name of any other registered LIBERO
    benchmark that has all its files (`libero_10_lan`, `libero_goal_swap`); anything else is refused with the reason
    (not registered, no tasks, or which BDDL / init-state file is missing).

    Step budget of a benchmark beyond the classic five: that of the classic suite it derives from, the longest
    classic name its own starts with followed by "_" (`libero_10_lan` -> libero_10's 520, `libero_spatial_with_mug`
    -> 220, `libero_object_swap` -> 280); one that derives from none (`libero_mine`, `libero_study_table`) gets the
    longest classic budget, 520, so none of its episodes is cut shorter than a classic suite would allow."""
    key = ALIASES.get(name, name)
    if key in SUITES:
        return SUITES[key]
    return _registered_suite(str(key).lower())


def base_suite(name: str) -> str | None:
    """The classic suite a registered benchmark derives from (`libero_10_lan` -> `libero_10`; a classic suite is its
    own), or None (`libero_mine`)."""
    if name in SUITES:
        return name
    return next((c for c in sorted(SUITES, key=len, reverse=True) if name.startswith(c + "_")), None)


@lru_cache(maxsize=None)
def _registered_suite(name: str) -> SuiteSpec:
    from libero.libero import benchmark

    if name not in benchmark.get_benchmark_dict():
        known = ", ".join(sorted(set(SUITES) | set(ALIASES)))
        raise ValueError(f"unknown LIBERO suite {name!r}; known: {known}, or any benchmark registered in "
                         f"libero.libero.benchmark.get_benchmark_dict() that has its files")
    bench = _benchmark(name)
    if not bench.n_tasks:
        raise ValueError(f"LIBERO benchmark {name!r} is registered but has no tasks")
    missing = _missing_files(bench)
    if missing:
        raise ValueError(f"LIBERO benchmark {name!r} cannot be run: {len(missing)} of its files are not installed, "
                         f"e.g. {missing[0]}")
    base = base_suite(name)
    return SuiteSpec(name, name, SUITES[base].max_steps if base else max(s.max_steps for s in SUITES.values()),
                     bench.n_tasks)


def _missing_files(bench) -> list[str]:
    """The BDDL and init-state files of a benchmark's tasks that are not installed."""
    from libero.libero import get_libero_path

    out = []
    for i in range(bench.n_tasks):
        t = bench.get_task(i)
        bddl = os.path.join(get_libero_path("bddl_files"), t.problem_folder, t.bddl_file)
        init = os.path.join(get_libero_path("init_states"), t.problem_folder, t.init_states_file)
        out += [p for p in (bddl,) if not os.path.exists(p)]
        out += [] if any(os.path.exists(init + ext) for ext in ("", ".npz", ".npy")) else [init + ".npz"]
    return out


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

    with contextlib.redirect_stdout(io.StringIO()):  # it prints which task order it applied
        return benchmark.get_benchmark_dict()[suite]()


@lru_cache(maxsize=None)
def bddl_language(bddl_file: str) -> str:
    """The `(:language ...)` of a BDDL file as LIBERO reads it (`get_problem_info`: comments dropped, lower-cased,
    words joined by single spaces)."""
    from bddl.parsing import scan_tokens

    for group in scan_tokens(filename=bddl_file):
        if isinstance(group, list) and group and group[0] == ":language":
            return " ".join(group[1:])
    return ""


def _bddl_path(t) -> str:
    from libero.libero import get_libero_path

    return os.path.join(get_libero_path("bddl_files"), t.problem_folder, t.bddl_file)


@lru_cache(maxsize=None)
def _base_wording(base: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """For a classic suite: task name -> (its BDDL language, the registry's instruction), and BDDL language -> the
    registry's instruction of the first task that has it."""
    bench = _benchmark(base)
    by_name = {t.name: (bddl_language(_bddl_path(t)), t.language) for t in bench.tasks}
    by_text: dict[str, str] = {}
    for text, words in by_name.values():
        by_text.setdefault(text, words)
    return by_name, by_text


def instruction(suite: str, t) -> str:
    """What a registered task (`libero.libero.benchmark.Task`) asks, in the words its classic suite's policies were
    given.

    The instruction is the BDDL file's `(:language ...)`: in the language- and task-perturbed suites it lives only
    there (the registry derives `Task.language` from the file name, which is the classic task's). The classic suites'
    policies, though, are told the registry's words (LIBERO's benchmark, OpenVLA and LeRobot feed `Task.language`),
    which differ from their own BDDL text on 29 of 130 tasks ("pick up the black bowl ..." vs "pick the akita black
    bowl ..."). So a BDDL text that the classic suite's BDDL files hold too is given in that suite's registry words
    (the same-named task's, else the first task's with that text): the classic suites keep their instructions,
    `*_swap` and `*_object` tasks tell a policy what it was trained on, a `*_task` task a known instruction of
    another task; any other text (`*_lan` paraphrases, new tasks) is given as the BDDL file says it."""
    text = bddl_language(_bddl_path(t))
    base = base_suite(suite)
    if base is None:
        return text or t.language
    by_name, by_text = _base_wording(base)
    if t.name in by_name and by_name[t.name][0] == text:
        return by_name[t.name][1]
    return by_text.get(text, text or t.language)


def task_spec(suite: str, task_id: int) -> TaskSpec:
    """The task `task_id` of `suite` (by name or alias)."""
    spec = resolve_suite(suite)
    bench = _benchmark(spec.name)
    if not 0 <= task_id < bench.n_tasks:
        raise ValueError(f"{spec.name} has tasks 0..{bench.n_tasks - 1}, not {task_id}")
    t = bench.get_task(task_id)
    return TaskSpec(spec.name, task_id, t.name, instruction(spec.name, t), _bddl_path(t))


def task_specs(suite: str) -> list[TaskSpec]:
    """All tasks of a suite in official order."""
    spec = resolve_suite(suite)
    return [task_spec(spec.name, i) for i in range(_benchmark(spec.name).n_tasks)]


def official_init_states(suite: str, task_id: int):
    """The official (50, D) evaluation init states of a task; never used for training demos."""
    return _benchmark(resolve_suite(suite).name).get_task_init_states(task_id)
