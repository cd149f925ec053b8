"""Shared test set-up: tiny synthetic demos in the official layout (no simulator), torch threads per xdist worker."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

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


@pytest.fixture
def demo_factory():
    return make_demo
