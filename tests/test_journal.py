"""The evaluation journal without a simulator: a torn last line (a kill mid-write) is dropped and resumed past;
a corrupt line elsewhere is refused, naming file and line."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

from hilam.cli import journal_cmd
from hilam.evaluate import EvalConfig, Episode, Journal, read_journal

CFG = EvalConfig(suite="libero_10", tasks=(0,), episodes_per_task=3)


def record(index: int) -> str:
    """One finished episode's line, as Journal.record writes it."""
    return json.dumps({"task_id": 0, "index": index, "steps": 10, "success": index == 0, "reason": "", "goals": None,
                       "elapsed": 1.0 + index})


def write_journal(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([json.dumps(Journal("", CFG).header), *lines]))
    return path


def test_a_torn_last_line_is_dropped_and_the_evaluation_resumes_past_it(tmp_path: Path, capsys):
    path = write_journal(tmp_path / "eval_journal.jsonl", record(0), record(1)[:30])  # killed writing episode 1
    torn = rf"{re.escape(str(path))}: dropped its torn last line 3"
    with pytest.warns(UserWarning, match=torn):
        assert [r["index"] for r in read_journal(path)[1]] == [0]
    with pytest.warns(UserWarning, match=torn):
        journal_cmd(str(path))  # `hilam journal` reads an evaluation killed mid-write
    assert "1/1 of 3 planned episodes" in capsys.readouterr().out
    with pytest.warns(UserWarning, match=torn):
        journal = Journal(str(path), CFG)
    assert list(journal.done) == [(0, 0)]
    journal.record(Episode(SimpleNamespace(task_id=0), 1, None, steps=7), 2.0)  # the rerun of episode 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the torn line is gone, not glued to the new record
        assert [(r["index"], r["steps"]) for r in read_journal(path)[1]] == [(0, 10), (1, 7)]


def test_a_whole_last_record_that_lost_only_its_newline_is_kept(tmp_path: Path):
    path = write_journal(tmp_path / "eval_journal.jsonl", record(0))
    journal = Journal(str(path), CFG)
    journal.record(Episode(SimpleNamespace(task_id=0), 1, None), 2.0)
    assert [r["index"] for r in read_journal(path)[1]] == [0, 1]


def test_a_corrupt_line_before_the_last_is_refused_naming_file_and_line(tmp_path: Path):
    path = write_journal(tmp_path / "eval_journal.jsonl", record(0)[:30], record(1))
    for read in (read_journal, lambda p: Journal(str(p), CFG)):
        with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: line 2 is not an episode record"):
            read(path)
