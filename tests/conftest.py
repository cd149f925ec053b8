"""Shared test set-up: tiny synthetic demos in the official layout (no simulator), the scripted expert's demos of
one libero_object task made once per run (real simulator), torch threads per xdist worker, and the test tiers: a test
that builds LIBERO envs is marked `sim` (module-level `pytestmark = pytest.mark.sim`, or on the test); `make
test-fast` runs the others (`-m "not sim"`), where building an env or starting simulator workers fails the test."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import SpawnProcess
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from filelock import FileLock

from hilam.data.schema import IMAGE_KEYS, LOW_DIM_KEYS, Demo
from hilam.envs.workers import core_share


def make_demo(T: int, size: int = 16, seed: int = 0, state_dim: int = 20) -> Demo:
    rng = np.random.default_rng(seed)
    obs = {k: rng.integers(0, 256, (T, size, size, 3), dtype=np.uint8) for k in IMAGE_KEYS}
    obs |= {k: rng.normal(size=(T, w)) for k, w in LOW_DIM_KEYS.items()}
    return Demo(actions=rng.uniform(-1, 1, (T, 7)), states=rng.normal(size=(T, state_dim)), obs=obs,
                robot_states=rng.normal(size=(T, 9)), model_file="<mujoco/>")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets its share of the cores, so torch's threads don't oversubscribe them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        torch.set_num_threads(core_share(workers))


SIM_FIXTURES = ("object_demos", "_object_demos_made_once", "object_corpus")  # made on the simulator


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a fixture made on the simulator is a simulator test whether or not it says so."""
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in SIM_FIXTURES):
            item.add_marker(pytest.mark.sim)


@contextmanager
def _no_simulator(item: pytest.Item) -> Iterator[None]:
    """The fast tier's promise: a test not marked `sim` (nor any fixture it sets up, whatever its scope) builds no
    LIBERO env and starts no spawned simulator worker; one that tries fails, naming the marker it lacks."""
    if item.get_closest_marker("sim"):
        yield
        return

    def refuse(*args, **kwargs):
        raise RuntimeError(f"{item.nodeid} uses the simulator: mark it `sim` (pytest.mark.sim)")

    from hilam.envs.libero_env import LiberoEnv

    with mock.patch.object(LiberoEnv, "__init__", refuse), mock.patch.object(SpawnProcess, "start", refuse):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _no_simulator(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _no_simulator(item):
        yield


@pytest.fixture
def demo_factory():
    return make_demo


@pytest.fixture(scope="session")
def worker_id() -> str:
    """xdist's worker name ("gw0", ...), or "master" in a run without xdist (also under `-p no:xdist`)."""
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


# what the simulator smoke cells train on: libero_object task 3 (one object into the basket), two expert demos
OBJECT_DEMOS = {"suite": "object", "tasks": (3,), "demos_per_task": 2, "max_attempts": 4, "frac": 1.0}


@pytest.fixture(scope="session")
def _object_demos_made_once(tmp_path_factory, worker_id) -> Path:
    """The expert's OBJECT_DEMOS, generated (state pass + render, ~80 s) by the first xdist worker that asks;
    the others wait on the lock and reuse them. Kept under this run's base temp dir, never across runs."""
    from hilam.data.generate import GenerateConfig, generate
    from hilam.profiles import get_profile

    base = tmp_path_factory.getbasetemp()
    root = (base if worker_id == "master" else base.parent) / "object_demos"
    with FileLock(f"{root}.lock"):
        if not (root / "done").exists():
            # drawn as the smoke cells evaluate (their profile's render mode), so they train on what they are shown
            generate(GenerateConfig(root=str(root), workers=1, render_mode=get_profile("smoke").render_mode,
                                    **OBJECT_DEMOS))
            (root / "done").touch()
    return root


@pytest.fixture(scope="session")
def object_corpus(tmp_path_factory, worker_id) -> Path:
    """The run's folder for the smoke profile's action-free corpus (`video/`: libero_object task 1, one rollout, made on
    the simulator by the first test that prepares a method on it) and what methods derive from it once (`runs/shared`),
    shared by the xdist workers: a test prepares under the lock `<folder>/video.lock`."""
    base = tmp_path_factory.getbasetemp()
    root = (base if worker_id == "master" else base.parent) / "object_corpus"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture
def object_demos(tmp_path, _object_demos_made_once) -> Path:
    """A private copy (tmp_path/demos) of the run's shared OBJECT_DEMOS: a test may extend or damage it."""
    return Path(shutil.copytree(_object_demos_made_once, tmp_path / "demos"))
