"""The evaluation protocol: parallel LIBERO rollouts of a batched policy, per-task success, Wilson CI.

Default protocol (OpenVLA / LeRobot): one episode per official init state, 50 per task, 10 settle
steps, the suite's max steps. An env failure ends that episode as a failure with its reason.
Beside success, each episode records how many of its goal's predicates hold (LIBERO's goal is their
conjunction): a graded measure of progress that still separates policies when success is near zero.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from hilam.envs.render_mode import LIBERO
from hilam.envs.suites import SETTLE_STEPS, TaskSpec, official_init_states, resolve_suite, task_specs
from hilam.envs.workers import EnvWorkers


class Policy(Protocol):
    """What the evaluator needs from a method: batched actions and a per-slot episode reset."""

    def reset(self, slot: int) -> None: ...

    def act(self, obs: list[dict], slots: list[int]) -> np.ndarray: ...


@dataclass
class EvalConfig:
    """Which episodes to run and how; `protocol()` is what a results cell records."""

    suite: str = "libero_10"
    episodes_per_task: int = 50  # one per official init state (at most 50)
    tasks: tuple[int, ...] = ()  # empty = all tasks
    init_states: str = "official"  # "official" or "random" (seeded fresh resets, BAKU's protocol)
    max_steps: int = 0  # 0 = the suite's table value
    workers: int = 0  # 0 = number of CPU cores
    image_size: int = 128
    render: bool = True  # False: no cameras (state-based policies); physics and outcomes are the same either way
    render_mode: str = LIBERO  # how the cameras draw (hilam.envs.render_mode: libero or fast); same physics
    video_dir: str = ""  # if set: mp4 of the first episode of each task
    seed: int = 0
    journal: str = ""  # if set: a JSON-lines record of finished episodes; a rerun skips them (resumable)
    # run order: round r runs the r-th share of every task's episodes, so an evaluation cut short has covered every
    # task about equally; 1 = task after task (fewest env rebuilds: each task switch rebuilds a worker's env, ~5 s)
    rounds: int = 2
    rank: int = 0  # this process's share of the episodes when `world` processes evaluate together
    world: int = 1  # (ranks of `accelerate launch`: every world-th episode, results gathered at the end)

    def protocol(self) -> dict:
        spec = resolve_suite(self.suite)
        return {"episodes_per_task": self.episodes_per_task, "init_states": self.init_states,
                "max_steps": self.max_steps or spec.max_steps, "settle_steps": SETTLE_STEPS,
                "image_size": self.image_size, "render_mode": self.render_mode if self.render else None}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95% interval of a binomial rate."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class Episode:
    task: TaskSpec
    index: int
    init_state: np.ndarray | None
    steps: int = 0
    success: bool = False
    reason: str = ""
    goals: tuple[int, int, int, int] | None = None  # goal predicates holding (at reset, at the end, most at once), of N

    def saw(self, holding: tuple[bool, ...]) -> None:
        """Track the goal predicates holding after a reset or a step."""
        if not holding:
            return
        n = sum(holding)
        start, _, peak, total = self.goals or (n, n, n, len(holding))
        self.goals = (start, n, max(peak, n), total)


def plan_episodes(cfg: EvalConfig) -> list[Episode]:
    """The episodes an evaluation with `cfg` runs, in order."""
    suite = resolve_suite(cfg.suite)
    out = []
    for task in task_specs(suite.name):
        if cfg.tasks and task.task_id not in cfg.tasks:
            continue
        if cfg.init_states == "official":
            states = official_init_states(suite.name, task.task_id)
            if cfg.episodes_per_task > len(states):
                raise ValueError(f"{suite.name} task {task.task_id} has {len(states)} official init states, "
                                 f"{cfg.episodes_per_task} episodes asked")
            out += [Episode(task, i, np.asarray(states[i])) for i in range(cfg.episodes_per_task)]
        elif cfg.init_states == "random":
            out += [Episode(task, i, None) for i in range(cfg.episodes_per_task)]
        else:
            raise ValueError(f"init_states must be 'official' or 'random', not {cfg.init_states!r}")
    return out


def run_order(episodes: list[Episode], rounds: int) -> list[Episode]:
    """The episodes in the order they run: in `rounds` rounds, each holding an equal share of every task's
    episodes (tasks in order within a round). Outcomes do not depend on the order (resets are seeded per
    episode); a journal cut short does: task after task, it holds the first tasks only."""
    of_task: dict[int, list[Episode]] = defaultdict(list)
    for ep in episodes:
        of_task[ep.task.task_id].append(ep)
    key = {id(ep): (i * max(1, rounds) // len(eps), task_id, ep.index)
           for task_id, eps in of_task.items() for i, ep in enumerate(eps)}
    return sorted(episodes, key=lambda ep: key[id(ep)])


def _identity(header: dict) -> dict:
    """What must match for a journal's episodes to be reused: not which tasks or how many episodes each. Journals
    from before render modes, and state-only ones (same physics in every mode), count as drawn by LIBERO."""
    protocol = {k: v for k, v in header["protocol"].items() if k != "episodes_per_task"}
    return {k: v for k, v in header.items() if k != "tasks"} | {
        "protocol": protocol | {"render_mode": protocol.get("render_mode") or LIBERO}}


def episode_seed(cfg: EvalConfig, ep: Episode) -> int:
    """LIBERO samples placements (fixtures too, even under an init state) from NumPy's global RNG: the reset
    of each episode is seeded with this, so every evaluation is reproducible."""
    return cfg.seed * 100003 + ep.task.task_id * 1009 + ep.index


class Journal:
    """Finished episodes, one JSON line each, appended and flushed as they end, so an interrupted evaluation
    resumes where it stopped. The first line holds the protocol and seed; a journal of another one is refused.
    The tasks and the number of episodes per task are not part of that identity: an episode's outcome does not
    depend on them, so an evaluation of more (or fewer) episodes reuses the ones already run."""

    def __init__(self, path: str, cfg: EvalConfig):
        self.path = Path(path) if path else None
        self.header = {"protocol": cfg.protocol(), "seed": cfg.seed, "suite": resolve_suite(cfg.suite).name,
                       "tasks": list(cfg.tasks)}
        self.done: dict[tuple[int, int], dict] = {}
        self.seconds = 0.0  # evaluation time spent by earlier runs
        if self.path is None:
            return
        if self.path.exists() and self.path.stat().st_size:  # an empty file (cut at creation) starts over
            header, records = read_journal(self.path)
            if _identity(header) != _identity(self.header):
                raise ValueError(f"{self.path}: journal of another evaluation ({header}); delete it to start over")
            self.add(records)
            _cut_torn_tail(self.path)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.header) + "\n")

    def add(self, records: list[dict]) -> None:
        """Take finished episodes' records (as a journal file holds them) as done."""
        for r in records:
            self.done[(r["task_id"], r["index"])] = r
            self.seconds = max(self.seconds, r["elapsed"])

    def restore(self, episodes: list[Episode]) -> tuple[list[Episode], list[Episode]]:
        """(episodes still to run, episodes already finished with their recorded outcome)."""
        todo, finished = [], []
        for ep in episodes:
            r = self.done.get((ep.task.task_id, ep.index))
            if r is None:
                todo.append(ep)
            else:
                ep.steps, ep.success, ep.reason = r["steps"], r["success"], r["reason"]
                ep.goals = tuple(r["goals"]) if r.get("goals") else None  # journals before goals were kept
                finished.append(ep)
        return todo, finished

    def record(self, ep: Episode, elapsed: float) -> None:
        if self.path is None:
            return
        line = {"task_id": ep.task.task_id, "index": ep.index, "steps": ep.steps, "success": ep.success,
                "reason": ep.reason, "goals": ep.goals, "elapsed": self.seconds + elapsed}
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")
            f.flush()
            os.fsync(f.fileno())


def read_journal(path: str | Path) -> tuple[dict, list[dict]]:
    """(header, finished episodes' records) of a journal file; a file that is not one is refused, naming it. A torn
    last line (what a kill mid-write leaves) is dropped with a warning; a corrupt line elsewhere is refused."""
    lines = [(n, x) for n, x in enumerate(Path(path).read_text().splitlines(), 1) if x.strip()]
    first = lines[0][1] if lines else ""
    try:
        header = json.loads(first) if lines else None
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or not {"protocol", "seed", "suite"} <= header.keys():
        raise ValueError(f"{path}: first line is not an evaluation journal's header: {first[:200]!r}")
    records = []
    for n, x in lines[1:]:
        try:
            records.append(json.loads(x))
        except json.JSONDecodeError as e:
            if n != lines[-1][0]:
                raise ValueError(f"{path}: line {n} is not an episode record ({e}): {x[:200]!r}") from None
            warnings.warn(f"{path}: dropped its torn last line {n} (cut mid-write): {x[:200]!r}", stacklevel=2)
    return header, records


def _cut_torn_tail(path: Path) -> None:
    """End a journal on a whole line before appending to it: a torn last line (read_journal drops it) is cut off, so
    the next record starts a line of its own instead of being glued to it into a corrupt line."""
    data = path.read_bytes()
    start = data.rstrip().rfind(b"\n") + 1
    try:
        json.loads(data[start:])
    except json.JSONDecodeError:
        os.truncate(path, start)
        return
    if not data.endswith(b"\n"):  # a whole record that lost only its newline
        with open(path, "ab") as f:
            f.write(b"\n")


def journal_summary(path: str) -> dict:
    """The summary (as `evaluate` returns it) of the episodes a journal holds so far: the interim result of an
    evaluation still running or cut short, with the episodes its first run planned (`planned`) beside them."""
    header, records = read_journal(path)
    p = header["protocol"]
    mode = p.get("render_mode", LIBERO)  # None: a state-only evaluation
    cfg = EvalConfig(suite=header["suite"], episodes_per_task=p["episodes_per_task"], init_states=p["init_states"],
                     max_steps=p["max_steps"], image_size=p["image_size"], seed=header["seed"],
                     tasks=tuple(header.get("tasks", ())), render=mode is not None, render_mode=mode or LIBERO)
    journal = Journal("", cfg)  # in memory: the records read above, nothing written
    journal.add(records)
    planned = plan_episodes(cfg)
    _, finished = journal.restore(planned)
    out = summarize(finished, cfg, journal.seconds, sum(e.steps for e in finished), workers=0)
    return out | {"planned": len(planned)}


def _write_video(path: Path, frames: list[np.ndarray]) -> None:
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimwrite(path, frames, fps=20, macro_block_size=1)


def shard_journal(path: str, rank: int, world: int) -> str:
    """The journal of one rank: each process appends only to its own (nodes need not share a filesystem)."""
    return path if world == 1 or not path else str(Path(path).with_suffix(f".rank{rank}of{world}.jsonl"))


def evaluate(policy: Policy, cfg: EvalConfig) -> dict:
    """Roll the policy out on the configured episodes; returns the `eval` part of a results cell. With
    world > 1 this process runs its share and every rank returns the gathered result of all of them."""
    journal = Journal(shard_journal(cfg.journal, cfg.rank, cfg.world), cfg)
    planned = plan_episodes(cfg)
    todo, finished = journal.restore(planned[cfg.rank::cfg.world])
    resumed = len(finished)
    max_steps = cfg.max_steps or resolve_suite(cfg.suite).max_steps
    n_workers = max(1, min(cfg.workers or os.cpu_count() or 1, len(todo) or 1))
    queue = list(reversed(run_order(todo, cfg.rounds)))
    slot_ep: dict[int, Episode] = {}
    obs: dict[int, dict] = {}
    videos: dict[int, list] = {}
    filmed: set[int] = set()
    env_steps, t0 = 0, time.perf_counter()
    bar = tqdm(total=len(todo) + len(finished), initial=len(finished), desc=f"eval {resolve_suite(cfg.suite).name}",
               unit="ep", dynamic_ncols=True)

    with EnvWorkers(n_workers, image_size=cfg.image_size, render=cfg.render, render_mode=cfg.render_mode) as workers:

        def start(slots: list[int]) -> None:
            """Reset idle slots onto the next queued episodes (in parallel); a failed reset fails its episode."""
            while slots and queue:
                started = []
                for s in slots:
                    if queue:
                        ep = slot_ep[s] = queue.pop()
                        workers.send_reset(s, ep.task, ep.init_state, episode_seed(cfg, ep))
                        started.append(s)
                slots = []
                for s in started:
                    r = workers.recv(s)
                    if r.error:
                        finish(s, False, f"reset failed: {r.error}")
                        slots.append(s)
                        continue
                    obs[s] = _tag(r.obs, slot_ep[s])
                    slot_ep[s].saw(r.goals)
                    policy.reset(s)
                    if cfg.video_dir and slot_ep[s].task.task_id not in filmed:
                        filmed.add(slot_ep[s].task.task_id)
                        videos[s] = [obs[s]["agentview_rgb"]]

        def finish(s: int, success: bool, reason: str = "") -> None:
            ep = slot_ep.pop(s)
            ep.success, ep.reason = success, reason
            finished.append(ep)
            journal.record(ep, time.perf_counter() - t0)
            obs.pop(s, None)
            if s in videos:
                name = f"{ep.task.suite}_task{ep.task.task_id}_ep{ep.index}_{'ok' if success else 'fail'}.mp4"
                _write_video(Path(cfg.video_dir) / name, videos.pop(s))
            bar.update(1)
            bar.set_postfix(success=f"{sum(e.success for e in finished)}/{len(finished)}")

        start(list(range(n_workers)))
        step_seconds = 0.0  # wall time of the stepping phase alone (policy + env steps), for throughput
        while slot_ep:
            t_step = time.perf_counter()
            slots = sorted(s for s in slot_ep if s in obs)
            actions = np.asarray(policy.act([obs[s] for s in slots], slots), dtype=np.float64)
            for s, a in zip(slots, actions):
                workers.send_step(s, a)
            idle = []
            for s in slots:
                r = workers.recv(s)
                ep = slot_ep[s]
                ep.steps += 1
                env_steps += 1
                ep.saw(r.goals)
                if r.error:
                    finish(s, False, f"env error: {r.error}")
                elif r.success:
                    finish(s, True)
                elif ep.steps >= max_steps:
                    finish(s, False, "max steps")
                else:
                    obs[s] = _tag(r.obs, ep)
                    if s in videos:
                        videos[s].append(r.obs["agentview_rgb"])
                    continue
                idle.append(s)
            step_seconds += time.perf_counter() - t_step
            start(idle)
    bar.close()
    seconds = journal.seconds + time.perf_counter() - t0
    if cfg.world > 1:
        finished, seconds, n_workers = _gather(planned, finished, seconds, n_workers)
    out = summarize(finished, cfg, seconds, sum(e.steps for e in finished), n_workers)
    out["step_phase_env_steps_per_s"] = env_steps / max(step_seconds, 1e-9)  # this run's steps only
    out["resumed_episodes"] = resumed
    return out


def _gather(planned: list[Episode], mine: list[Episode], seconds: float, workers: int):
    """Every rank's finished episodes (outcomes only; the rest is in `planned`), the slowest rank's time and
    the workers of all ranks."""
    from accelerate.utils import gather_object

    outcomes = gather_object([(e.task.task_id, e.index, e.steps, e.success, e.reason, e.goals) for e in mine])
    timing = gather_object([(seconds, workers)])
    by_key = {(e.task.task_id, e.index): e for e in planned}
    for task_id, index, steps, success, reason, goals in outcomes:
        ep = by_key[(task_id, index)]
        ep.steps, ep.success, ep.reason, ep.goals = steps, success, reason, goals
    done = {(o[0], o[1]) for o in outcomes}
    return ([e for e in planned if (e.task.task_id, e.index) in done], max(t for t, _ in timing),
            sum(w for _, w in timing))


def _tag(obs: dict, ep: Episode) -> dict:
    obs["language"] = ep.task.language
    obs["task_id"] = ep.task.task_id
    obs["episode"] = ep.index
    return obs


def goal_progress(episodes: list[Episode]) -> dict | None:
    """Mean fraction of the goal's predicates holding at the end of an episode (`end`; 1 for a success), at most
    at once during it (`peak`), and at its reset (`start`: what doing nothing scores), over the episodes that
    recorded them; None if none did."""
    known = [e.goals for e in episodes if e.goals and e.goals[3]]
    if not known:
        return None
    start, end, peak = (float(np.mean([g[i] / g[3] for g in known])) for i in range(3))
    return {"end": end, "peak": peak, "start": start, "episodes": len(known)}


def summarize(episodes: list[Episode], cfg: EvalConfig, seconds: float, env_steps: int, workers: int) -> dict:
    """Per-task and overall success with a Wilson interval, failure reasons and throughput."""
    by_task: dict[str, list[Episode]] = defaultdict(list)
    for ep in episodes:
        by_task[ep.task.name].append(ep)
    k, n = sum(e.success for e in episodes), len(episodes)
    per_task = {}
    for name, eps in sorted(by_task.items(), key=lambda kv: kv[1][0].task.task_id):
        ok = [e.steps for e in eps if e.success]
        per_task[name] = {"task_id": eps[0].task.task_id, "successes": len(ok), "episodes": len(eps),
                          "success_rate": len(ok) / len(eps),
                          "mean_success_length": float(np.mean(ok)) if ok else None,
                          "goal_progress": goal_progress(eps),
                          "failures": dict(Counter(e.reason.split(":")[0] for e in eps if not e.success))}
    errors = [f"{e.task.name}#{e.index}: {e.reason}" for e in episodes if e.reason.startswith(("env", "reset"))]
    return {"suite": resolve_suite(cfg.suite).name, "success_rate": k / max(n, 1), "ci95": wilson_interval(k, n),
            "episodes": n, "successes": k, "goal_progress": goal_progress(episodes), "per_task": per_task,
            "protocol": cfg.protocol(),
            "seconds": seconds, "env_steps": env_steps, "env_steps_per_s": env_steps / max(seconds, 1e-9),
            "workers": workers, "errors": errors[:20], "config": asdict(cfg)}
