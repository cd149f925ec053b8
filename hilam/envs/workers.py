"""Worker processes that each own one LIBERO env and step it on command.

The evaluator sends one action per worker per step and gets observations back, so the policy sees
all workers' observations as one batch. A worker rebuilds its env only when its task changes. An
exception inside a worker is returned as a message; a worker that dies is reported as dead and
restarted, so a crash ends one episode, never the run.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import traceback
from dataclasses import dataclass

import numpy as np

from hilam.envs.render_mode import LIBERO
from hilam.envs.suites import TaskSpec


def core_share(processes: int) -> int:
    """Cores each of `processes` parallel processes may use (at least 1), so their threads don't oversubscribe."""
    return max(1, (os.cpu_count() or 1) // max(1, processes))


@dataclass
class StepResult:
    """What a worker answers: an observation, the success flag and which goal predicates hold, or the reason it
    failed."""

    obs: dict | None
    success: bool = False
    error: str | None = None
    goals: tuple[bool, ...] = ()


def _serve(conn, image_size: int, render: bool, threads: str, render_mode: str = LIBERO) -> None:
    from hilam.envs.gl import use_render_threads
    from hilam.envs.libero_env import LiberoEnv

    use_render_threads(threads)
    env, task = None, None
    while True:
        try:
            cmd, *args = conn.recv()
        except EOFError:
            break
        if cmd == "close":
            break
        try:
            if cmd == "reset":
                new_task, init_state, seed = args
                if env is None or task != new_task:
                    if env is not None:
                        env.close()
                    env = LiberoEnv(new_task, render=render, image_size=image_size, render_mode=render_mode)
                    task = new_task
                obs = env.reset(init_state=init_state, seed=seed)
                conn.send(StepResult(obs, env.success(), goals=tuple(env.goal_status())))
            elif cmd == "step":
                obs = env.step(args[0])
                conn.send(StepResult(obs, env.success(), goals=tuple(env.goal_status())))
            else:
                conn.send(StepResult(None, error=f"unknown command {cmd!r}"))
        except Exception as e:  # reported to the evaluator; this worker keeps serving
            conn.send(StepResult(None, error=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"))
    if env is not None:
        env.close()


def exit_reason(code: int | None) -> str:
    """'exit code 1', 'signal SIGABRT' (a C-level abort such as glibc's heap check) or 'still exiting'."""
    if code is None:
        return "still exiting"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class EnvWorkers:
    """N processes, each with one env; `reset` and `step` address one worker by index."""

    def __init__(self, n: int, image_size: int = 128, render: bool = True, timeout_s: float = 300.0,
                 render_mode: str = LIBERO):
        from hilam.envs.gl import render_threads, select_gl_backend

        if render:
            select_gl_backend()
        self.threads = render_threads(n)
        self.n, self.image_size, self.render, self.timeout_s = n, image_size, render, timeout_s
        self.render_mode = render_mode  # hilam.envs.render_mode: how every worker's env draws
        self._ctx = mp.get_context("spawn")  # never fork: inherited GL contexts crash
        self._procs: list = [None] * n
        self._conns: list = [None] * n
        for i in range(n):
            self._start(i)

    def _start(self, i: int) -> None:
        parent, child = self._ctx.Pipe()
        p = self._ctx.Process(target=_serve, args=(child, self.image_size, self.render, self.threads, self.render_mode),
                              daemon=True)
        p.start()
        child.close()
        self._procs[i], self._conns[i] = p, parent

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def send_reset(self, i: int, task: TaskSpec, init_state: np.ndarray | None, seed: int | None = None) -> None:
        self._send(i, ("reset", task, init_state, seed))

    def send_step(self, i: int, action: np.ndarray) -> None:
        self._send(i, ("step", np.asarray(action, dtype=np.float64)))

    def _send(self, i: int, msg) -> None:
        try:
            self._conns[i].send(msg)
        except (BrokenPipeError, OSError):
            pass  # the dead worker is noticed in recv

    def recv(self, i: int) -> StepResult:
        """The answer of worker i; a dead or hung worker is restarted and reported as an error."""
        conn = self._conns[i]
        try:
            if conn.poll(self.timeout_s):
                return conn.recv()
            reason = f"worker {i} did not answer within {self.timeout_s:.0f}s"
        except (EOFError, OSError):
            self._procs[i].join(timeout=5)  # reap it, so the reason names the exit code or signal
            reason = f"worker {i} died ({exit_reason(self._procs[i].exitcode)})"
        self._procs[i].kill()
        self._start(i)
        return StepResult(None, error=reason)

    def close(self) -> None:
        for i in range(self.n):
            self._send(i, ("close",))
        for p in self._procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()

    def __enter__(self) -> "EnvWorkers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
