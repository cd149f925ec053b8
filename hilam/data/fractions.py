"""Deterministic, nested data fractions: which demos of a task a run with fraction `frac` uses."""
from __future__ import annotations

import zlib

import numpy as np


def demo_order(task_name: str, n_demos: int, seed: int = 0) -> np.ndarray:
    """A seeded permutation of a task's demo indices; every fraction takes a prefix of it."""
    rng = np.random.default_rng([seed, zlib.crc32(task_name.encode())])
    return rng.permutation(n_demos)


def n_selected(frac: float, n_demos: int) -> int:
    """How many demos a fraction keeps: round(frac * n), at least one (10% of 50 = 5)."""
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"data fraction must be in (0, 1], got {frac}")
    return max(1, int(round(frac * n_demos)))


def select_demos(task_name: str, n_demos: int, frac: float, seed: int = 0) -> list[int]:
    """Demo indices used at `frac`, in permutation order; larger fractions contain smaller ones."""
    return [int(i) for i in demo_order(task_name, n_demos, seed)[: n_selected(frac, n_demos)]]
