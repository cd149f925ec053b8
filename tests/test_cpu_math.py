"""Pinned CPU math for the expert's worker processes (host-independent demo sets)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hilam.envs.cpu_math import BLAS_CORE, host_has, math_in_use, pinned_math, pinned_math_env

# what a fresh process's NumPy runs: its OpenBLAS kernel and whether any AVX-512 path it was built with is enabled.
# Only the dispatch targets count: __cpu_features__ also lists AVX-512 extensions NumPy has no kernels for (AVX512VL,
# AVX512FP16, ...), which NPY_DISABLE_CPU_FEATURES cannot switch off and which never change a result.
PROBE = ("import json, numpy.core._multiarray_umath as m; from threadpoolctl import threadpool_info;"
         "print(json.dumps({'blas': sorted({i['architecture'] for i in threadpool_info() if i['internal_api'] == "
         "'openblas'}), 'avx512': any(m.__cpu_features__[f] for f in m.__cpu_dispatch__ if f.startswith('AVX512'))}))")


def _probe() -> dict:
    return json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout)


def test_pinned_math_reaches_new_processes_and_is_undone(monkeypatch):
    if not pinned_math_env():
        pytest.skip("not an x86-64 host with AVX2: nothing is pinned")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Sandybridge")  # another kernel than the pinned one, set beforehand
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    with pinned_math() as pinned:
        child = _probe()
        assert math_in_use() == pinned
    assert child == {"blas": [BLAS_CORE], "avx512": False}
    assert "AVX512F" in pinned["NPY_DISABLE_CPU_FEATURES"].split()
    assert os.environ["OPENBLAS_CORETYPE"] == "Sandybridge" and "NPY_DISABLE_CPU_FEATURES" not in os.environ
    assert math_in_use() == {"OPENBLAS_CORETYPE": "Sandybridge", "NPY_DISABLE_CPU_FEATURES": None}


def test_probe_sees_avx512_where_the_host_has_it(monkeypatch):
    """The probe above must be able to say True: unpinned, a child on an AVX-512 host runs NumPy's AVX-512 paths."""
    if not host_has("avx512f"):
        pytest.skip("host without AVX-512F")
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    assert _probe()["avx512"] is True
