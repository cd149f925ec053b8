"""Pinned CPU math for the expert's worker processes (host-independent demo sets)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hilam.envs.cpu_math import BLAS_CORE, math_in_use, pinned_math, pinned_math_env

# what a fresh process's NumPy runs: its OpenBLAS kernel and whether any AVX-512 path is enabled
PROBE = ("import json, numpy.core._multiarray_umath as m; from threadpoolctl import threadpool_info;"
         "print(json.dumps({'blas': sorted({i['architecture'] for i in threadpool_info() if i['internal_api'] == "
         "'openblas'}), 'avx512': any(v for k, v in m.__cpu_features__.items() if k.startswith('AVX512'))}))")


def test_pinned_math_reaches_new_processes_and_is_undone(monkeypatch):
    if not pinned_math_env():
        pytest.skip("not an x86-64 host with AVX2: nothing is pinned")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Sandybridge")  # another kernel than the pinned one, set beforehand
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    with pinned_math() as pinned:
        child = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                                          check=True).stdout)
        assert math_in_use() == pinned
    assert child == {"blas": [BLAS_CORE], "avx512": False}
    assert "AVX512F" in pinned["NPY_DISABLE_CPU_FEATURES"].split()
    assert os.environ["OPENBLAS_CORETYPE"] == "Sandybridge" and "NPY_DISABLE_CPU_FEATURES" not in os.environ
    assert math_in_use() == {"OPENBLAS_CORETYPE": "Sandybridge", "NPY_DISABLE_CPU_FEATURES": None}
