"""The benchmark cell behind `make bench`: demos for (suite, fraction), then train and evaluate each
(method, seed) and write one results cell JSON per combination. Finished cells are skipped unless forced;
training resumes from its last checkpoint. Under `accelerate launch` the same code trains each cell on every
rank (data parallel) and spreads its evaluation episodes over the ranks; rank 0 writes the cell."""
from __future__ import annotations

import atexit
import json
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState

from hilam.atomic import write_json
from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.data.fractions import n_selected
from hilam.data.generate import GenerateConfig, generate, rendered_modes
from hilam.data.recipes import DEFAULT_RECIPE, LEGACY, DemoRecipe, get_recipe
from hilam.data.schema import SCRIPTED, source_of, task_file
from hilam.envs.render_mode import LIBERO, check_mode_mix
from hilam.envs.suites import LIBERO_DEMOS, resolve_suite, task_specs
from hilam.envs.workers import core_share
from hilam.evaluate import EvalConfig, evaluate, shard_journal
from hilam.lock import CellLock
from hilam.methods import CellContext, Configured, Method, configure, get_method
from hilam.overrides import overrides_suffix
from hilam.profiles import Profile, get_profile
from hilam.provenance import provenance


@dataclass
class CellConfig:
    suite: str = "libero_10"
    method: str = "baku"
    frac: float = 0.1
    seed: int = 0
    profile: str = "cpu"
    workers: int = 0
    data: str = "data/demos"  # demo root (official layout); official files placed here are used as they are
    video: str = "data/video"  # rendered action-free video corpus (HiLAM's pretraining data)
    runs: str = "runs"  # checkpoints and TensorBoard logs
    # where the cell JSON goes: a user's own runs by default, never over the committed reference cells (results/runs,
    # written only when asked for by name)
    results: str = "runs/cells"
    tasks: tuple[int, ...] = ()  # empty = all tasks (subsets are for tests and quick checks)
    demos_per_task: int = LIBERO_DEMOS  # size of the demo pool the fractions choose from
    recipe: str = DEFAULT_RECIPE  # how the expert's demos are made (hilam.data.recipes); one recipe per data root
    keep_every: int = 0  # keep the last training phase's checkpoints at multiples of this step (0: only the last)
    force: bool = False
    # the benchmark the trained policy is evaluated on: any registered LIBERO benchmark with its files ("" = suite;
    # e.g. libero_10_lan for a policy trained on libero_10); recorded in the cell and in its file name
    eval_suite: str = ""
    # train on official files for some tasks and the scripted expert's demos for the others; refused unless asked
    mixed_sources: bool = False
    # train on demos drawn in one render mode (official files: libero) and evaluate in the profile's; refused unless
    # asked, and then the cell records both
    allow_mode_mix: bool = False
    # settings changed by name (`--set key=value`): the profile's (train.steps, baku.head.loss, ...) or the method's
    # own (hilam.skill_level, ...); recorded in the cell, and a cell with any is another cell (`-set<hash>`)
    overrides: dict[str, Any] = field(default_factory=dict)

    def evaluated_on(self) -> str:
        return resolve_suite(self.eval_suite or self.suite).name

    def configured(self) -> Configured:
        """The cell's method on its profile, after its variant's and the cell's overrides."""
        return configure(self.method, self.profile, self.overrides)

    def _stem(self) -> str:
        recipe = "" if self.recipe == LEGACY else f"-{self.recipe}"  # cells from before recipes keep their names
        # a larger demo pool is other training data under the same fraction: another cell (LIBERO's 50: no suffix)
        pool = "" if self.demos_per_task == LIBERO_DEMOS else f"-pool{self.demos_per_task}"
        conf = self.configured()
        return (f"frac{self.frac:g}-seed{self.seed}-{self.profile}{recipe}{pool}{self.render_suffix(conf)}"
                f"{self.set_suffix(conf)}")

    def render_suffix(self, conf: Configured | None = None) -> str:
        """'-fast' for a cell whose frames are drawn in the fast render mode: never the same cell as one drawn
        by LIBERO ('': cells from before render modes keep their names; state-only cells draw nothing). The mode is
        the profile's unless `--set render_mode=...` changes it (named here, so not in the `-set` hash)."""
        conf = conf or self.configured()
        mode = conf.profile.render_mode
        return f"-{mode}" if mode != LIBERO and conf.observation == "images" else ""

    def set_suffix(self, conf: Configured | None = None) -> str:
        """'-set<8 hex>' for a cell whose overrides change anything besides the render mode ('' without any)."""
        conf = conf or self.configured()
        return overrides_suffix({k: v for k, v in conf.overrides.items() if k != "render_mode"})

    def path(self) -> Path:
        suite = resolve_suite(self.suite).name
        on = "" if self.evaluated_on() == suite else f"-on-{self.evaluated_on()}"
        return Path(self.results) / suite / self.method / f"{self._stem()}{on}.json"

    def run_dir(self) -> Path:
        """Checkpoints, logs and the evaluation journal of this cell; a cell evaluated on another benchmark shares the
        training (and lock) of the cell evaluated on its own suite, with a journal and videos of its own."""
        return Path(self.runs) / resolve_suite(self.suite).name / self.method / self._stem()

    def eval_files(self) -> tuple[str, str]:
        """(journal, video folder) names in the run directory for the benchmark evaluated on."""
        on = "" if self.evaluated_on() == resolve_suite(self.suite).name else f"-{self.evaluated_on()}"
        return f"eval_journal{on}.jsonl", f"videos{on}"


def check_sources(data: str, suite: str, tasks: tuple[int, ...] = (), mixed: bool = False) -> dict[str, str]:
    """task -> where a cell's demos of it come from: "official file <path>" (a user's file under `data`, used as is)
    or "scripted expert" (ours, made where no file is). Official files for some tasks and not for others are refused,
    naming the tasks of each, unless `mixed` (--mixed-sources): a cell trains on one source unless asked."""
    suite = resolve_suite(suite).name
    sources = {t.name: source_of(task_file(data, suite, t.name)) for t in task_specs(suite)
               if not tasks or t.task_id in tasks}
    scripted = [name for name, src in sources.items() if src == SCRIPTED]
    official = [name for name, src in sources.items() if src != SCRIPTED]
    if scripted and official and not mixed:
        raise ValueError(f"{Path(data) / suite} holds official files for {len(official)} task(s) ({', '.join(official)}) "
                         f"but none for {len(scripted)} ({', '.join(scripted)}), which the scripted expert would make: "
                         f"one cell trains on one source; add the missing files, remove the others, or pass "
                         f"--mixed-sources to train on both")
    return sources


def check_eval_suite(suite: str, eval_suite: str, method: str, tasks: tuple[int, ...] = (), profile: str = "cpu",
                     overrides: dict[str, Any] | None = None) -> None:
    """Refuse an evaluation benchmark the cell cannot run: one without the cell's task ids, or one that words a task
    otherwise than the training suite (e.g. libero_10_lan) for a method whose policy cannot embed new instructions
    (as configured on `profile` with `overrides`)."""
    train, target = resolve_suite(suite), resolve_suite(eval_suite or suite)
    if target.name == train.name:
        return
    if bad := [i for i in tasks if not 0 <= i < target.n_tasks]:
        raise ValueError(f"{target.name} has tasks 0..{target.n_tasks - 1}, not {bad}")
    known = {t.language for t in task_specs(train.name)}
    unseen = [t.language for t in task_specs(target.name) if (not tasks or t.task_id in tasks) and t.language not in known]
    if unseen and not configure(method, profile, overrides).new_instructions:
        raise ValueError(f"{target.name} words {len(unseen)} task(s) otherwise than {train.name} (e.g. {unseen[0]!r}) "
                         f"and {method}'s policy cannot embed instructions it was not trained on")


def trained_cell(cell_file: str | os.PathLike) -> tuple[dict, CellConfig, DemoDataset, Method]:
    """A finished cell's record, config, demos and trained method, rebuilt from the `cell_config` it recorded (its
    training is loaded from the last checkpoint; a cell whose run directory is gone is trained again)."""
    cell = json.loads(Path(cell_file).read_text())
    known = {f.name for f in fields(CellConfig)}
    cfg = CellConfig(**{k: v for k, v in cell["cell_config"].items() if k in known} | {"force": False})
    data, method, run_dir, _ = prepare_cell(cfg)
    method.fit(data, run_dir, cfg.seed)
    return cell, cfg, data, method


def prepare_cell(cell: CellConfig) -> tuple[DemoDataset, Method, Path, dict]:
    """A cell's demos (generated if missing), its untrained method and run directory, and where the demos came
    from (the tasks the expert made none for, the commits of the expert that made them); `method.fit(data,
    run_dir, seed)` then trains the method, or loads it when training finished."""
    suite = resolve_suite(cell.suite).name
    conf = cell.configured()
    profile, observation = conf.profile, conf.observation
    sources = check_sources(cell.data, suite, cell.tasks, cell.mixed_sources)  # before any demo is made
    check_eval_suite(suite, cell.eval_suite, cell.method, cell.tasks, cell.profile, cell.overrides)
    stats = generate(GenerateConfig(suite=suite, root=cell.data, frac=cell.frac, workers=cell.workers, tasks=cell.tasks,
                                    demos_per_task=cell.demos_per_task, max_attempts=2 * cell.demos_per_task,
                                    render=observation == "images", recipe=cell.recipe,
                                    render_mode=profile.render_mode))
    with_demos = tuple(s["task_id"] for s in stats if s.get("successes"))
    without = [s["task"] for s in stats if not s.get("successes")]
    if not with_demos:
        raise SystemExit(f"[bench] the expert made no demos for {suite}; see {cell.data}/{suite}/states/*.json")
    if without:  # train on what exists; those tasks are still evaluated (and recorded) as they are
        print(f"[bench] WARNING: no expert demos for {without}; training without them", file=sys.stderr)
    demo_mode = None  # demos without images: nothing rendered
    if observation == "images":  # before training: a mode mix is refused now, not after hours
        modes = rendered_modes(cell.data, suite, [t for t in task_specs(suite) if t.task_id in with_demos])
        check_mode_mix(set(modes.values()), profile.render_mode, cell.allow_mode_mix)
        demo_mode = modes[next(iter(modes))] if len(set(modes.values())) == 1 else modes  # one mode, or per task
    data = DemoDataset(DatasetConfig(root=cell.data, suite=suite, frac=cell.frac, seed=0, tasks=with_demos,
                                     chunk=profile.baku.head.chunk, image_size=profile.image_size,
                                     observation=observation))
    method = conf.build(data.instructions)
    # what the method shares between cells (pretrained stages, corpora) lives beside this cell's runs and data
    method.place(CellContext(runs=cell.runs, video=cell.video, workers=cell.workers))
    method.keep_every = cell.keep_every
    made_by = {g for s in stats for g in (s.get("git"), s.get("extended_from", {}).get("git")) if g}
    kinds = set(sources.values()) == {SCRIPTED}, any(src != SCRIPTED for src in sources.values())
    origin = {"source": {(True, False): "scripted expert (hilam)", (False, True): "official files"}.get(
                  kinds, "mixed: official files and scripted expert (--mixed-sources)"),
              "sources": sources, "obs_alignment": data.obs_alignment,
              "render_mode": demo_mode,
              "tasks_without_demos": without, "expert_git": sorted(made_by)}  # no commits: a user's files
    return data, method, cell.run_dir(), origin


def plan(cell: CellConfig, profile: Profile) -> str:
    """One line saying what a cell will do, printed before it starts (each phase then has its own progress bar)."""
    suite, target = resolve_suite(cell.suite), resolve_suite(cell.evaluated_on())
    n_tasks = len(cell.tasks) or target.n_tasks
    conf = cell.configured()
    observation = conf.observation
    return (f"[bench] {cell.path()}: {suite.name}, {n_selected(cell.frac, cell.demos_per_task)} of "
            f"{cell.demos_per_task} demos per task (recipe {cell.recipe}{', rendered' if observation == 'images' else ''}"
            f"); {cell.method} on {observation}, profile {cell.profile}; evaluation "
            f"{n_tasks * profile.eval_episodes_per_task} episodes of <= "
            f"{profile.eval_max_steps or target.max_steps} steps from the official init states"
            + (f" of {target.name}" if target.name != suite.name else "")
            + (f"; settings changed: {_sets(conf.overrides)}" if conf.overrides else ""))


def _sets(overrides: dict[str, Any]) -> str:
    """'a=1 b=x,y': overrides as `--set` takes them."""
    return " ".join(f"{k}={_as_text(v)}" for k, v in overrides.items())


def _as_text(value: Any) -> str:
    """A typed setting as `--set` reads it back (tuples comma-separated, booleans lower case)."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(_as_text, value))
    return str(value).lower() if isinstance(value, bool) or value is None else str(value)


def run_cell(cell: CellConfig) -> dict:
    """Train and evaluate one (suite, method, frac, seed, profile) cell; returns the cell JSON."""
    out = cell.path()
    if out.exists() and not cell.force:
        print(f"[bench] {out} exists; skipping (--force to redo)")
        return json.loads(out.read_text())
    origin = provenance()  # taken before the (hours-long) run, so later edits to the tree cannot mislabel it
    profile = cell.configured().profile
    recipe = get_recipe(cell.recipe)  # refused before any work if unknown
    print(plan(cell, profile))
    # one process, or one rank of `accelerate launch` (training and episodes shared); cpu as in the trainer
    procs = PartialState(cpu=not torch.cuda.is_available())
    if procs.num_processes > 1:
        atexit.unregister(_close_ranks)  # registered once per process, however many cells it runs
        atexit.register(_close_ranks)
    rank = "" if procs.num_processes == 1 else f".rank{procs.process_index}"
    with CellLock(cell.run_dir(), name=f".lock{rank}"):  # one run of a cell at a time (each rank its own lock)
        return _run_cell(cell, procs, profile, recipe, origin)


def _run_cell(cell: CellConfig, procs: PartialState, profile: Profile, recipe: DemoRecipe, origin: dict) -> dict:
    """run_cell's work, under the cell's lock."""
    suite, out = resolve_suite(cell.suite).name, cell.path()
    t_prep = time.perf_counter()
    with procs.local_main_process_first():  # one process per node makes the demos and corpus, the rest reuse them
        data, method, run_dir, data_origin = prepare_cell(cell)
        method.prepare()
    t0 = time.perf_counter()
    prepare_seconds = t0 - t_prep  # demos (and any corpus) this run had to generate; near 0 when cached
    train = method.fit(data, run_dir, cell.seed)
    journal_name, video_name = cell.eval_files()
    journal = run_dir / journal_name  # finished episodes survive an interruption
    rank, world = procs.process_index, procs.num_processes
    if cell.force:
        Path(shard_journal(str(journal), rank, world)).unlink(missing_ok=True)
    workers = cell.workers or core_share(int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    ev = evaluate(method.policy(), EvalConfig(suite=cell.evaluated_on(),
                                              episodes_per_task=profile.eval_episodes_per_task,
                                              max_steps=profile.eval_max_steps,
                                              tasks=cell.tasks, workers=workers, seed=cell.seed,
                                              journal=str(journal), render=method.observation == "images",
                                              video_dir=str(run_dir / video_name) if method.observation == "images" else "",
                                              rank=rank, world=world, render_mode=profile.render_mode))
    conf = cell.configured()
    result = {
        "suite": suite, "eval_suite": cell.evaluated_on(), "method": cell.method, "frac": cell.frac, "seed": cell.seed,
        "profile": cell.profile,
        # settings changed by name: the cell's own (`--set`, typed) and, for a variant, what it changes in its method
        "overrides": conf.overrides,
        "variant": {"of": conf.spec.base, "overrides": conf.spec.variant} if conf.spec.variant else None,
        "success_rate": ev["success_rate"], "ci95": ev["ci95"], "episodes": ev["episodes"],
        "goal_progress": ev["goal_progress"],
        "per_task": {name: t["success_rate"] for name, t in ev["per_task"].items()},
        "protocol": ev["protocol"] | {"tasks": list(cell.tasks) or "all"},
        "train": train,
        "eval": {"seconds": ev["seconds"], "env_steps_per_s": ev["env_steps_per_s"], "workers": ev["workers"],
                 "rendered": method.observation == "images",
                 "render_mode": profile.render_mode if method.observation == "images" else None,
                 "per_task": ev["per_task"], "errors": ev["errors"]},
        "data": {"root": cell.data, "demos_per_task": data.demos_per_task,
                 "recipe": recipe.record(), "observation": method.observation,
                 **data_origin, "fingerprint": data.fingerprint(),
                 "samples": len(data), "image_size": profile.image_size, "prepare_seconds": prepare_seconds},
        "method_config": method.describe(),
        "wall_seconds": time.perf_counter() - t0,
        "command": f"hilam bench --suite {suite} --frac {cell.frac:g} --methods {cell.method} --seeds {cell.seed} "
                   f"--profile {cell.profile} --recipe {cell.recipe} --data {cell.data}"
                   + (f" --eval-suite {cell.evaluated_on()}" if cell.evaluated_on() != suite else "")
                   + (" --mixed-sources" if cell.mixed_sources else "")
                   + (" --allow-mode-mix" if cell.allow_mode_mix else "")
                   + (f" --demos-per-task {cell.demos_per_task}" if cell.demos_per_task != LIBERO_DEMOS else "")
                   + (f" --set {_sets(conf.overrides)}" if conf.overrides else ""),
        "cell_config": asdict(cell),
        **origin,
    }
    if procs.is_main_process:
        write_json(out, result)
        (cell.run_dir() / "failed.json").unlink(missing_ok=True)  # an earlier failure of this cell is over
    return result


def _close_ranks() -> None:
    """Destroy the process group before interpreter teardown, as torch.distributed asks (suspected cause of one
    rank-0 SIGABRT at exit, 'terminate called without an active exception', under 3x CPU oversubscription)."""
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def table(rows: list[dict]) -> str:
    """A plain-text table of results cells (goals: share of goal predicates holding at the end); the name columns
    are as wide as their longest entry."""
    su, me, pr = (max([len(k), *(len(r[k]) for r in rows)]) + 2 for k in ("suite", "method", "profile"))
    head = (f"{'suite':<{su}}{'method':<{me}}{'frac':>6}{'seed':>6}{'profile':>{pr}}{'success':>9}  {'95% CI':<15}"
            f"{'goals':>6}{'train s':>9}{'eval s':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        goals = f"{r['goal_progress']['end']:.2f}" if r.get("goal_progress") else "-"  # cells from before it was kept
        lines.append(f"{r['suite']:<{su}}{r['method']:<{me}}{r['frac']:>6g}{r['seed']:>6}{r['profile']:>{pr}}"
                     f"{r['success_rate']:>9.3f}  [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]   {goals:>6}"
                     f"{r['train']['seconds']:>9.0f}{r['eval']['seconds']:>8.0f}")
    return "\n".join(lines)


FOUR_SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10")


def parse_list(text: str, kind=str) -> list:
    """'a,b,c' -> [a, b, c]; for suites 'all' means the four LIBERO suites of the paper's tables."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if kind is str and items == ["all"]:
        return list(FOUR_SUITES)
    return [kind(t) for t in items]


def check_inputs(suites: list[str], fracs: list[float], methods: list[str], seeds: list[int], profile: str,
                 workers: int, data: str, results: str, recipe: str, eval_suite: str = "",
                 mixed_sources: bool = False, overrides: dict[str, Any] | None = None,
                 demos_per_task: int = LIBERO_DEMOS) -> None:
    """Refuse a bad sweep before any work starts (demos, training and evaluation take hours), naming the option."""
    problems = []
    for name, check in (("--suite", lambda: [resolve_suite(x) for x in suites]), ("--profile", lambda: get_profile(profile)),
                        ("--methods", lambda: [get_method(m) for m in methods]), ("--recipe", lambda: get_recipe(recipe)),
                        ("--frac", lambda: [n_selected(f, 1) for f in fracs])):
        try:
            check()
        except ValueError as e:
            problems.append(f"{name}: {e}")
    if not any(p.startswith(("--profile", "--methods")) for p in problems):  # every method takes the settings
        for m in methods:
            try:
                configure(m, profile, overrides)
            except ValueError as e:
                problems.append(f"--set ({m}): {e}")
    if not any(p.startswith(("--suite", "--methods", "--profile", "--set")) for p in problems):
        for name, check in (("--eval-suite", lambda: eval_suite and [check_eval_suite(x, eval_suite, m, (), profile,
                                                                                      overrides)
                                                                     for x in suites for m in methods]),
                            ("--data", lambda: Path(data).is_dir() and [check_sources(data, x, mixed=mixed_sources)
                                                                        for x in suites])):
            try:
                check()
            except ValueError as e:
                problems.append(f"{name}: {e}")
    if not suites or not fracs or not methods or not seeds:
        problems.append("--suite, --frac, --methods and --seeds each need at least one value")
    if any(s < 0 for s in seeds):
        problems.append(f"--seeds: seeds are >= 0, got {seeds}")
    if workers < 0:
        problems.append(f"--workers: {workers} (0 = one per core, else >= 1)")
    if demos_per_task < 1:
        problems.append(f"--demos-per-task: {demos_per_task} (the pool the fractions draw from; LIBERO has "
                        f"{LIBERO_DEMOS})")
    if Path(data).exists() and not Path(data).is_dir():
        problems.append(f"--data: {data} is a file; it must be the demo root folder (<root>/<suite>/<TASK>_demo.hdf5)")
    try:
        Path(results).mkdir(parents=True, exist_ok=True)
        probe = Path(results) / f".write_probe_{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        problems.append(f"--results: cannot write cells under {results} ({e.strerror or e})")
    if problems:
        raise SystemExit("[bench] refused before any work:\n  " + "\n  ".join(problems))


def record_failure(cell: CellConfig, error: Exception) -> None:
    """Write why a cell failed (a diverged loss, an env that would not build, ...) to `failed.json` in its run
    directory, so a failed run is on disk as such, beside its checkpoints; a later successful run removes it."""
    try:
        write_json(cell.run_dir() / "failed.json", {"error": f"{type(error).__name__}: {error}",
                                                    "time": time.strftime("%Y-%m-%d %H:%M:%S"), "cell": str(cell.path())})
    except (OSError, ValueError):
        pass  # the cell's config itself may be what failed; the sweep's message still names it


def bench(suites: list[str], fracs: list[float], methods: list[str], seeds: list[int], profile: str = "cpu",
          workers: int = 0, data: str = "data/demos", video: str = "data/video", keep_every: int = 0,
          force: bool = False, recipe: str = DEFAULT_RECIPE, results: str = CellConfig.results, eval_suite: str = "",
          mixed_sources: bool = False, allow_mode_mix: bool = False,
          overrides: dict[str, Any] | None = None, demos_per_task: int = LIBERO_DEMOS) -> list[dict]:
    """Every (suite, fraction, method, seed) cell: finished ones are skipped, interrupted ones resume from their
    checkpoints, and a cell that fails is reported without stopping the sweep (exit status 1 at the end).
    `overrides` (`--set`) apply to every cell of the sweep; `demos_per_task` is the pool the fractions draw from."""
    check_inputs(suites, fracs, methods, seeds, profile, workers, data, results, recipe, eval_suite, mixed_sources,
                 overrides, demos_per_task)
    rows, failed = [], []
    for suite in suites:
        for frac in fracs:
            for m in methods:
                for s in seeds:
                    cell = CellConfig(suite=suite, method=m, frac=frac, seed=s, profile=profile, workers=workers,
                                      data=data, video=video, keep_every=keep_every, force=force, recipe=recipe,
                                      results=results, eval_suite=eval_suite, mixed_sources=mixed_sources,
                                      allow_mode_mix=allow_mode_mix, overrides=dict(overrides or {}),
                                      demos_per_task=demos_per_task)
                    try:
                        rows.append(run_cell(cell))
                    except Exception as e:  # noqa: BLE001 (one broken cell must not end a night-long sweep)
                        failed.append(f"{cell.path()}: {type(e).__name__}: {e}")
                        traceback.print_exc()
                        record_failure(cell, e)
    if rows:
        print(table(rows))
    if failed:
        print("[bench] FAILED cells:\n  " + "\n  ".join(failed), file=sys.stderr)
        raise SystemExit(1)
    return rows
