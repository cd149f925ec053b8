"""The sweep driver: lists of suites/fractions/methods/seeds, one failing cell does not stop the others."""
from __future__ import annotations

import json

import pytest

import hilam.bench as bench_mod
from hilam.bench import FOUR_SUITES, bench, parse_list


def test_parse_lists():
    assert parse_list("all") == list(FOUR_SUITES)
    assert parse_list("0.1, 0.3,1.0", float) == [0.1, 0.3, 1.0]
    assert parse_list("0,1", int) == [0, 1]


def test_a_failing_cell_is_reported_and_the_sweep_goes_on(monkeypatch, capsys, tmp_path):
    ran = []

    def fake_run_cell(cell):
        ran.append((cell.suite, cell.frac, cell.method, cell.seed))
        if cell.method == "baku_l1":
            raise RuntimeError("env exploded")
        return {"suite": cell.suite, "method": cell.method, "frac": cell.frac, "seed": cell.seed, "profile": cell.profile,
                "success_rate": 0.5, "ci95": [0.2, 0.8], "train": {"seconds": 1.0}, "eval": {"seconds": 2.0}}

    monkeypatch.setattr(bench_mod, "run_cell", fake_run_cell)
    monkeypatch.chdir(tmp_path)  # failed cells are recorded in their run directories (relative: runs/...)
    with pytest.raises(SystemExit) as e:
        bench(["long"], [0.1, 1.0], ["baku_l1", "baku"], [0, 1], results=str(tmp_path))
    assert e.value.code == 1
    assert len(ran) == 8 and sum(m == "baku" for _, _, m, _ in ran) == 4
    err = capsys.readouterr().err
    assert "FAILED cells" in err and "env exploded" in err and err.count("baku_l1/frac") == 4


def test_a_failed_cell_is_recorded_as_such_in_its_run_directory(monkeypatch, tmp_path):
    def diverged(cell):
        raise FloatingPointError("loss is nan at step 7")

    monkeypatch.setattr(bench_mod, "run_cell", diverged)
    monkeypatch.chdir(tmp_path)  # the run directory is relative (runs/...)
    with pytest.raises(SystemExit):
        bench(["long"], [0.1], ["baku"], [0], results=str(tmp_path / "cells"), data=str(tmp_path / "demos"))
    cell = bench_mod.CellConfig(suite="long", frac=0.1, method="baku", seed=0, results=str(tmp_path / "cells"))
    record = json.loads((cell.run_dir() / "failed.json").read_text())
    assert record["error"] == "FloatingPointError: loss is nan at step 7"
