"""Scripted demonstrations in two passes: a fast state-only pass, then a render pass.

Pass 1 runs the scripted expert without cameras from fresh random resets (never the official init
states) and keeps successful episodes' `states` and `actions`. Pass 2 replays `states` in a
rendering env, so observation t is the one action t was chosen from (LIBERO#54), and writes the
official HDF5 layout. Only the demos a data fraction needs are rendered. Both passes cache their
output (per task, and per rendered demo) and skip what is already done, so an interrupted run resumes
where it stopped. Worker processes run with pinned CPU math (`hilam.envs.cpu_math`), so the expert's episodes, and
with them the demo set, do not depend on the host's CPU.
"""
from __future__ import annotations

import functools
import json
import multiprocessing as mp
import os
import shutil
import time
import traceback
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hilam.atomic import atomic_savez, write_json
from hilam.data.fractions import select_demos
from hilam.data.recipes import DEFAULT_RECIPE, LEGACY, DemoRecipe, get_recipe
from hilam.data.schema import (IMAGE_KEYS, LOW_DIM_KEYS, SCRIPTED, SOURCE, Demo, DemoFileError, file_attrs,
                               libero_env_args, read_task_file, source_of, stored_demo_ids, task_file, write_task_file)
from hilam.envs.cpu_math import math_in_use, pinned_math
from hilam.envs.render_mode import LIBERO, check_render_mode, recorded_mode
from hilam.envs.suites import TaskSpec, resolve_suite, task_specs
from hilam.provenance import git_commit


@dataclass
class GenerateConfig:
    """What to generate and where; the defaults make the official 50 demos per task at 128 px."""

    suite: str = "libero_10"
    root: str = "data/demos"  # official layout root: <root>/<suite>/<TASK>_demo.hdf5
    demos_per_task: int = 50
    max_attempts: int = 100  # state-pass episodes per task before giving up on reaching demos_per_task
    frac: float = 1.0  # render only the demos this data fraction selects (nested, see fractions.py)
    render: bool = True
    image_size: int = 128
    workers: int = 0  # 0 = number of CPU cores
    seed: int = 0
    tasks: tuple[int, ...] = ()  # empty = every task of the suite
    recipe: str = DEFAULT_RECIPE  # how the expert's episodes are made (hilam.data.recipes); recorded in every file
    # how the render pass draws (hilam.envs.render_mode: libero or fast); recorded in every file. A task file of
    # another mode is rendered again from the cached states (the state pass is the same in every mode)
    render_mode: str = LIBERO


def episode_seed(seed: int, task: TaskSpec, attempt: int) -> int:
    """The seed of one state-pass episode: reproducible and distinct per suite, task and attempt."""
    return zlib.crc32(f"{seed}/{task.suite}/{task.name}/{attempt}".encode())


def states_path(root: str | os.PathLike, task: TaskSpec) -> Path:
    """The state pass's episodes of one task (npz: states_i, actions_i, seed_i; fixtures_i, the pose of each body of
    `fixture_bodies` in episode i, pos + quat)."""
    return Path(root) / task.suite / "states" / f"{task.name}.npz"


def stats_path(root: str | os.PathLike, task: TaskSpec) -> Path:
    return Path(root) / task.suite / "states" / f"{task.name}.json"


def _pass_done(stats: dict, cfg: GenerateConfig) -> bool:
    return stats["successes"] >= cfg.demos_per_task or stats["attempts"] >= cfg.max_attempts


class RecipeMismatch(ValueError):
    """Demos under a root were made with another recipe than the one asked for."""


def _cached_pass(task: TaskSpec, cfg: GenerateConfig) -> dict | None:
    """The stats of the task's cached state pass (episodes and stats both written), else None. A pass made with
    another demo recipe is refused: one root holds the demos of one recipe."""
    stats_file = stats_path(cfg.root, task)
    if not (states_path(cfg.root, task).exists() and stats_file.exists()):
        return None
    stats = json.loads(stats_file.read_text())
    made = stats.get("recipe", {}).get("name", LEGACY)
    if made != cfg.recipe:
        raise RecipeMismatch(f"{stats_file}: the demos under {cfg.root} were made with recipe {made!r}, this run asks "
                             f"for {cfg.recipe!r}; give this recipe its own data root (--data)")
    return stats


def finished_state_pass(task: TaskSpec, cfg: GenerateConfig) -> dict | None:
    """The cached state pass's stats if it has all `cfg` asks for (or gave up trying), else None."""
    stats = _cached_pass(task, cfg)
    return stats if stats and _pass_done(stats, cfg) else None


def check_driver(recipe: DemoRecipe, suite: str) -> None:
    """A recipe's driver must be a state-based policy's results cell of this suite: else an error naming the file."""
    if not recipe.driver:
        return
    path = Path(recipe.driver)
    if not path.exists():
        raise FileNotFoundError(f"recipe {recipe.name!r}: its driver cell {path} does not exist (run from the "
                                f"repository root, where results/ is)")
    cell = json.loads(path.read_text())
    if cell.get("suite") != suite or cell.get("cell_config", {}).get("method") != "baku_state":
        raise ValueError(f"recipe {recipe.name!r}: its driver {path} is {cell.get('method')} on {cell.get('suite')}; "
                         f"generating {suite} needs a baku_state cell of {suite}")


@functools.lru_cache(maxsize=None)
def _driver_method(cell_file: str):
    """A driver cell's trained method, loaded once per process (`hilam.bench.trained_cell`: its demos, its checkpoint),
    however many tasks the process's state passes run."""
    import torch

    from hilam.bench import trained_cell

    torch.set_num_threads(1)  # one per generation worker
    return trained_cell(cell_file)[3]


def recipe_driver(recipe: DemoRecipe, task: TaskSpec):
    """The trained policy a recipe's demos share control with, for `task` (None without one): a fresh evaluator
    policy of the driver cell's method."""
    if not recipe.driver:
        return None
    from hilam.data.expert.rollout import PolicyDriver

    return PolicyDriver(_driver_method(recipe.driver).policy(), task.language)


def state_pass(task: TaskSpec, cfg: GenerateConfig, progress=None) -> dict:
    """Run the expert state-only until `demos_per_task` successes; cache episodes and stats. A cached pass that
    stopped short of a larger pool asked for now (a corpus with more episodes per task) goes on where it
    stopped, with the seeds a fresh pass would use, and keeps the episodes it has."""
    path, cached = states_path(cfg.root, task), _cached_pass(task, cfg)
    if cached and _pass_done(cached, cfg):
        add_privileged(cfg.root, task)
        return cached
    from hilam.data.expert.rollout import expert_episode
    from hilam.envs.libero_env import LiberoEnv

    max_steps = resolve_suite(task.suite).max_steps
    recipe = get_recipe(cfg.recipe)
    env = LiberoEnv(task, render=False, start_noise=recipe.start_noise)
    driver = recipe_driver(recipe, task)
    episodes, failures, attempts = [], [], 0
    if cached:
        with np.load(path) as z:
            episodes = [(z[f"states_{i}"], z[f"actions_{i}"], int(z[f"seed_{i}"])) for i in range(cached["successes"])]
        fixtures = load_fixture_poses(cfg.root, task)
        failures, attempts = cached["failures"], cached["attempts"]
    else:
        fixtures = []
    lengths = [len(a) for _, a, _ in episodes]
    steps, t0 = 0, time.perf_counter()
    while len(episodes) < cfg.demos_per_task and attempts < cfg.max_attempts:
        seed = episode_seed(cfg.seed, task, attempts)
        attempts += 1
        try:
            ep = expert_episode(env, seed, max_steps, action_noise=recipe.action_noise, jitter=recipe.jitter,
                                driver=driver, beta=recipe.beta)
            ok = ep.success
            steps += len(ep.actions)
            if not ok:
                why = ep.reason or ("max steps" if len(ep.actions) >= max_steps else "plan ended without success")
                failures.append({"seed": seed, "reason": why, "steps": len(ep.actions)})
        except Exception as e:  # an env crash fails this attempt, not the run
            ok = False
            failures.append({"seed": seed, "reason": f"{type(e).__name__}: {e}"})
        if ok:
            episodes.append((ep.states, ep.actions, seed))
            fixtures.append(env.fixture_poses())  # where this episode's reset put them (no reset since)
            lengths.append(len(ep.actions))
        if progress is not None:
            progress.put(("state", task.name, ok))
    seconds = time.perf_counter() - t0
    arrays = {}
    for i, (s, a, sd) in enumerate(episodes):
        arrays[f"states_{i}"], arrays[f"actions_{i}"], arrays[f"seed_{i}"] = s, a, np.int64(sd)
    arrays |= _fixture_arrays(fixtures)
    arrays |= {f"privileged_{i}": p for i, p in enumerate(_privileged_of(env, [s for s, _, _ in episodes], fixtures))}
    env.close()
    atomic_savez(path, **arrays)
    stats = {"task": task.name, "task_id": task.task_id, "language": task.language,
             "demos_per_task": cfg.demos_per_task, "max_attempts": cfg.max_attempts,
             "attempts": attempts, "successes": len(episodes),
             "success_rate": len(episodes) / max(attempts, 1),
             "mean_length": float(np.mean(lengths)) if lengths else None,
             "state_pass_seconds": seconds, "state_pass_steps_per_s": steps / max(seconds, 1e-9),
             "git": git_commit(), "cpu_math": math_in_use(), "recipe": recipe.record(),
             "failures": failures}
    if cached:  # the episodes it kept were made by that pass's code
        stats["extended_from"] = {k: cached.get(k) for k in ("successes", "attempts", "git")}
    write_json(stats_path(cfg.root, task), stats)
    return stats


def _fixture_arrays(fixtures: list[dict[str, np.ndarray] | None]) -> dict[str, np.ndarray]:
    """npz arrays of the episodes' fixture poses: `fixture_bodies` and one (n_fixtures, 7) array per episode that has
    them (a scene without fixtures: zero rows, so it reads as recorded, not as an old cache)."""
    bodies = next((sorted(f) for f in fixtures if f is not None), None)
    if bodies is None:
        return {}
    out = {f"fixtures_{i}": np.array([f[b] for b in bodies], np.float64).reshape(len(bodies), 7)
           for i, f in enumerate(fixtures) if f is not None}
    return out | {"fixture_bodies": np.array(bodies, dtype=str)}


def _privileged_of(env, states: list[np.ndarray], fixtures: list[dict[str, np.ndarray] | None]) -> list[np.ndarray]:
    """Per episode, what a state-based policy observes at each of its states (`LiberoEnv.privileged`), computed with
    the episode's fixtures in place (npz arrays `privileged_i`)."""
    out, unplaced = [], 0
    for s, f in zip(states, fixtures):
        if f is not None:
            env.place_fixtures(f)
        unplaced += f is None
        out.append(np.stack([env.privileged(x) for x in s]))
    if unplaced and env.fixture_poses():
        warnings.warn(f"{env.task.name}: {unplaced} episodes do not record where their fixtures stood; their privileged "
                      f"observations place the fixtures where the replay env's reset put them")
    return out


def add_privileged(root: str | os.PathLike, task: TaskSpec) -> None:
    """Give a cached state pass made before privileged observations were recorded its `privileged_i` arrays (computed
    from the stored states; nothing else in the cache changes). No-op when they are there."""
    path = states_path(root, task)
    with np.load(path) as z:
        if "privileged_0" in z.files or "states_0" not in z.files:
            return
        arrays = {k: z[k] for k in z.files}
    from hilam.envs.libero_env import LiberoEnv

    env = LiberoEnv(task, render=False)
    n = sum(1 for k in arrays if k.startswith("actions_"))
    made = _privileged_of(env, [arrays[f"states_{i}"] for i in range(n)], load_fixture_poses(root, task))
    arrays |= {f"privileged_{i}": p for i, p in enumerate(made)}
    env.close()
    atomic_savez(path, **arrays)


def add_privileged_to_demos(task: TaskSpec, demos: list[Demo]) -> None:
    """Fill in `privileged` of demos that hold states only (a user's file), by replaying them in the task's env.
    Such files do not record where their fixtures stood: they are where the replay env's reset put them."""
    missing = [d for d in demos if d.privileged is None]
    if not missing:
        return
    from hilam.envs.libero_env import LiberoEnv

    env = LiberoEnv(task, render=False)
    for d, p in zip(missing, _privileged_of(env, [d.states for d in missing], [None] * len(missing))):
        d.privileged = p
    env.close()


def load_fixture_poses(root: str | os.PathLike, task: TaskSpec) -> list[dict[str, np.ndarray] | None]:
    """Per cached episode, where its reset put each fixture (root body name -> pos + quat), or None for an
    episode cached before they were recorded. LIBERO places fixtures by writing the model, outside the flattened
    state, so an episode is drawn where it happened only with these set (`LiberoEnv.place_fixtures`)."""
    with np.load(states_path(root, task)) as z:
        n = sum(1 for k in z.files if k.startswith("actions_"))
        bodies = [str(b) for b in z["fixture_bodies"]] if "fixture_bodies" in z.files else []
        return [dict(zip(bodies, z[f"fixtures_{i}"])) if f"fixtures_{i}" in z.files else None for i in range(n)]


def load_state_episodes(cfg: GenerateConfig, task: TaskSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """(states, actions) of every episode the task's state pass cached under `cfg.root`."""
    with np.load(states_path(cfg.root, task)) as z:
        n = sum(1 for k in z.files if k.startswith("actions_"))
        return [(z[f"states_{i}"], z[f"actions_{i}"]) for i in range(n)]


def cached_state_demos(root: str | os.PathLike, task: TaskSpec) -> list[Demo] | None:
    """The task's whole state-pass pool as demos without observations (what a state-based policy needs; nothing
    rendered), or None if no pass is cached under `root`."""
    if not (states_path(root, task).exists() and stats_path(root, task).exists()):
        return None
    with np.load(states_path(root, task)) as z:
        n = sum(1 for k in z.files if k.startswith("actions_"))
        if n and "privileged_0" not in z.files:
            raise DemoFileError(f"{states_path(root, task)}: this state pass predates privileged observations; "
                                f"`hilam generate --suite {task.suite} --root {root} --no-render` adds them")
        return [Demo(actions=z[f"actions_{i}"], states=z[f"states_{i}"], obs={}, privileged=z[f"privileged_{i}"])
                for i in range(n)]


def render_episode(env, states: np.ndarray, actions: np.ndarray,
                   fixtures: dict[str, np.ndarray] | None = None) -> Demo:
    """Re-render an episode from its states: observation t is rendered from states[t], before a_t, with the
    fixtures where the episode had them (None: where the render env's own reset put them)."""
    if fixtures is not None:
        env.place_fixtures(fixtures)
    frames = [env.set_state(s) for s in states]
    obs = {k: np.stack([f[k] for f in frames]) for k in (*IMAGE_KEYS, *LOW_DIM_KEYS)}
    quat = np.stack([f["hand_quat"] for f in frames])  # robosuite's robot0_eef_quat, as LIBERO's robot_states
    robot_states = np.concatenate([obs["gripper_states"], obs["ee_pos"], quat], axis=1)
    return Demo(actions=actions, states=states, obs=obs, robot_states=robot_states,
                model_file=env.sim.model.get_xml(), init_state=states[0])


def render_pass(task: TaskSpec, cfg: GenerateConfig, progress=None) -> dict:
    """Render the demos the data fraction selects that the task file does not hold yet."""
    from hilam.envs.libero_env import LiberoEnv

    episodes = load_state_episodes(cfg, task)
    fixtures = load_fixture_poses(cfg.root, task)
    out = task_file(cfg.root, task.suite, task.name)
    wanted = select_demos(task.name, len(episodes), cfg.frac, cfg.seed) if episodes else []
    current = out.exists() and _rendered_mode(out) == cfg.render_mode  # another mode's file is rendered again
    if current and set(wanted) <= set(stored_demo_ids(out)):
        shutil.rmtree(_pending_dir(cfg, task), ignore_errors=True)  # left by a kill after the task file was written
        return {"rendered": 0, "render_fps": None}
    have: dict[int, Demo] = {}
    if current:
        try:
            td = read_task_file(out)
            have = dict(zip(td.demo_ids, td.demos))
        except DemoFileError:
            have = {}  # unreadable file: render again
    pending = _pending_dir(cfg, task)
    have |= _read_pending(pending, wanted, cfg.render_mode)
    missing = [i for i in wanted if i not in have]
    if any(fixtures[i] is None for i in missing):
        warnings.warn(f"{states_path(cfg.root, task)}: cached before fixture poses were recorded; its fixtures "
                      "(stove, cabinet, ...) are drawn where the render env's reset puts them, up to ~2 cm off",
                      stacklevel=2)
    env = LiberoEnv(task, render=True, image_size=cfg.image_size, render_mode=cfg.render_mode)
    t0, frames = time.perf_counter(), 0
    for i in missing:
        states, actions = episodes[i]
        have[i] = render_episode(env, states, actions, fixtures[i])
        _write(pending / f"demo_{i}.hdf5", {i: have[i]}, task, cfg, len(episodes))  # survives an interruption
        frames += len(states)
        if progress is not None:
            progress.put(("render", task.name, True))
    seconds = time.perf_counter() - t0
    env.close()
    _write(out, have, task, cfg, len(episodes))
    shutil.rmtree(pending, ignore_errors=True)
    fps = frames / max(seconds, 1e-9)
    stats = json.loads(stats_path(cfg.root, task).read_text())
    stats["render_pass_frames_per_s"] = fps  # frames = env steps, each with both cameras rendered
    stats["rendered_demos"] = len(have)
    stats["render_mode"] = cfg.render_mode
    write_json(stats_path(cfg.root, task), stats)
    return {"rendered": len(missing), "render_fps": fps}


def _pending_dir(cfg: GenerateConfig, task: TaskSpec) -> Path:
    """Demos rendered but not yet in the task file, one file each, so a long render pass resumes per demo."""
    return Path(cfg.root) / task.suite / "states" / f"{task.name}.rendered"


def _rendered_mode(path: Path) -> str | None:
    """The render mode a demo file records (unrecorded: libero), None if its attributes cannot be read."""
    try:
        return recorded_mode(file_attrs(path))
    except DemoFileError:
        return None


def rendered_modes(root: str | os.PathLike, suite: str, tasks: list[TaskSpec]) -> dict[str, str]:
    """Task name -> the render mode its demo file was drawn in (official and older files: libero)."""
    return {t.name: _rendered_mode(task_file(root, suite, t.name)) or LIBERO for t in tasks
            if task_file(root, suite, t.name).exists()}


def _read_pending(pending: Path, wanted: list[int], mode: str) -> dict[int, Demo]:
    have: dict[int, Demo] = {}
    for f in sorted(pending.glob("demo_*.hdf5")) if pending.is_dir() else []:
        try:
            td = read_task_file(f)
        except DemoFileError:
            continue  # unreadable: render it again
        if recorded_mode(td.attrs) != mode:
            continue  # rendered in another mode: render it again
        have |= {i: d for i, d in zip(td.demo_ids, td.demos) if i in wanted}
    return have


def _write(path: Path, demos: dict[int, Demo], task: TaskSpec, cfg: GenerateConfig, pool_size: int) -> None:
    ids = sorted(demos)
    libero = libero_env_args(task.bddl_file, cfg.image_size)  # what LIBERO's own tools read to rebuild the env
    write_task_file(path, [demos[i] for i in ids], ids=ids, language=task.language,
                    problem_name=libero["problem_info"]["problem_name"], bddl_file_name=task.bddl_file,
                    env_args=libero["env_args"],
                    extra_attrs={"pool_size": pool_size, "source": SOURCE, "generate_config": json.dumps(asdict(cfg)),
                                 "render_mode": cfg.render_mode,
                                 "recipe": json.dumps(get_recipe(cfg.recipe).record())})


def _task_worker(task: TaskSpec, cfg: GenerateConfig, progress) -> dict:
    try:
        out = task_file(cfg.root, task.suite, task.name)
        source = source_of(out)
        if source != SCRIPTED:  # a user's (official) file: use as is
            n = int(file_attrs(out).get("num_demos", 0))
            return {"task": task.name, "task_id": task.task_id, "successes": n, "attempts": n, "official": True,
                    "source": source}
        stats = state_pass(task, cfg, progress)
        if cfg.render and stats["successes"] > 0:
            stats = stats | render_pass(task, cfg, progress)
        return stats
    except Exception:
        return {"task": task.name, "error": traceback.format_exc()}


def _plan(tasks: list[TaskSpec], cfg: GenerateConfig) -> tuple[int, int, int]:
    """(expert demos cached, expert demos wanted, demos still to render) over the tasks that are ours to make."""
    have = want = to_render = 0
    for t in tasks:
        out = task_file(cfg.root, t.suite, t.name)
        try:
            if source_of(out) != SCRIPTED:
                continue  # a user's file, used as it is
        except DemoFileError:
            pass  # unreadable: the worker says so
        cached = _cached_pass(t, cfg)
        pool = cached["successes"] if cached else 0
        have, want = have + min(pool, cfg.demos_per_task), want + cfg.demos_per_task
        if cfg.render:
            wanted = select_demos(t.name, pool or cfg.demos_per_task, cfg.frac, cfg.seed)
            stored = stored_demo_ids(out) if out.exists() and _rendered_mode(out) == cfg.render_mode else []
            to_render += len(set(wanted) - set(stored))
    return have, want, to_render


def generate(cfg: GenerateConfig) -> list[dict]:
    """Generate (or complete) a suite's demos in parallel over tasks; returns per-task stats."""
    from hilam.envs.gl import render_threads, select_gl_backend, use_render_threads

    suite = resolve_suite(cfg.suite)
    check_driver(get_recipe(cfg.recipe), suite.name)  # an unknown recipe, or a driver of another suite: before any work
    check_render_mode(cfg.render_mode)
    tasks = [t for t in task_specs(suite.name) if not cfg.tasks or t.task_id in cfg.tasks]
    have, want, to_render = _plan(tasks, cfg)  # (demos of another recipe under this root are refused here)
    print(f"[generate] {suite.name}, {len(tasks)} tasks, recipe {cfg.recipe}: state pass {have}/{want} expert demos "
          f"cached" + (f", {to_render} demos to render at {cfg.image_size} px" if cfg.render else ", no rendering"))
    workers = min(cfg.workers or os.cpu_count() or 1, len(tasks))
    if cfg.render:
        select_gl_backend()  # probe once here; workers inherit the choice
    ctx = mp.get_context("spawn")  # never fork a process that may hold a GL context
    manager = ctx.Manager()
    progress = manager.Queue()
    results = []
    bar = tqdm(desc=f"{suite.name} state pass", unit="demo", total=want, initial=have, dynamic_ncols=True)
    render_bar = tqdm(desc=f"{suite.name} render pass", unit="demo", total=to_render, position=1,
                      dynamic_ncols=True) if cfg.render and to_render else None
    with pinned_math(), ProcessPoolExecutor(workers, mp_context=ctx, initializer=use_render_threads,
                                            initargs=(render_threads(workers),)) as pool:
        futures = [pool.submit(_task_worker, t, cfg, progress) for t in tasks]
        counts = {"state": 0, "success": 0, "render": 0}
        pending = set(futures)
        while pending:
            while not progress.empty():
                phase, _, ok = progress.get()
                counts[phase] += 1
                if phase == "render" and render_bar is not None:
                    render_bar.update(1)
                elif phase == "state":
                    counts["success"] += ok
                    bar.update(int(ok))
                    bar.set_postfix(expert_success=f"{counts['success']}/{counts['state']}")
            finished = {f for f in pending if f.done()}
            pending -= finished
            results += [f.result() for f in finished]
            time.sleep(0.2)
    bar.close()
    if render_bar is not None:
        render_bar.close()
    manager.shutdown()
    broken = [r for r in results if "error" in r]
    if broken:  # a task that could not be made is an error of the run, never a task silently left out
        raise RuntimeError("demo generation failed for " + "; ".join(
            f"{r['task']}: {r['error'].strip().splitlines()[-1]}" for r in broken) + f" (root {cfg.root})")
    return sorted(results, key=lambda r: r.get("task_id", -1))
