"""Host-independent floating point for the scripted expert, so that a demo set regenerated on another x86 machine
is the same demo set.

The expert's controller math (robosuite's OSC, our planner) runs through NumPy, whose matrix products go to the
OpenBLAS kernel picked for the host CPU and whose sin/cos/exp take AVX-512 (SVML) paths where the CPU has them.
Different kernels round differently, and over hundreds of contact-rich steps the difference grows until an episode
runs longer or fails (benchmarks/expert_cpu_math.py: under another kernel every re-run libero_10 episode differs
within 3 steps, and one ends a step later).
Pinning both to what every AVX2 host runs removes that dependence. The variables act when a process loads NumPy,
so they are set for the worker processes a generator starts, never for the process already running.
"""
from __future__ import annotations

import os
import platform
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BLAS_CORE = "Haswell"  # OpenBLAS's AVX2 + FMA kernels: what an AVX2 host without AVX-512 (e.g. AMD Zen) runs anyway
VARIABLES = ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")  # what is pinned, and recorded


def host_has(flag: str) -> bool:
    """Whether the CPU lists `flag` (e.g. "avx2"): the host's own answer (/proc/cpuinfo), not NumPy's, which a
    user's NPY_DISABLE_CPU_FEATURES may have changed; False where /proc/cpuinfo is missing."""
    try:
        return any(line.startswith("flags") and f" {flag}" in line for line in Path("/proc/cpuinfo").read_text().splitlines())
    except OSError:
        return False


def pinned_math_env() -> dict[str, str]:
    """The environment that pins NumPy's and OpenBLAS's CPU paths; empty where nothing is pinned (not x86-64 with
    AVX2: there no common kernel is known, and the demos may differ from an x86 host's)."""
    if platform.machine() not in ("x86_64", "AMD64") or not host_has("avx2"):
        return {}
    from numpy.core._multiarray_umath import __cpu_dispatch__

    avx512 = " ".join(f for f in __cpu_dispatch__ if f.startswith("AVX512"))
    return {"OPENBLAS_CORETYPE": BLAS_CORE, "NPY_DISABLE_CPU_FEATURES": avx512}


@contextmanager
def pinned_math() -> Iterator[dict[str, str]]:
    """Inside the block, processes started from here get `pinned_math_env()` (it overrides a value the user set, as
    reproducible demos need); the caller's environment is restored afterwards. Yields what was set, to record."""
    pinned = pinned_math_env()
    before = {k: os.environ.get(k) for k in pinned}
    os.environ.update(pinned)
    try:
        yield pinned
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def math_in_use() -> dict[str, str | None]:
    """The pinning this process started with (None: the host's own choice), recorded beside the demos it makes."""
    return {k: os.environ.get(k) for k in VARIABLES}
