"""A smoke-profile benchmark cell on the real simulator: demos, BAKU training, evaluation, a valid cell."""
from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from hilam.bench import CellConfig, bench, prepare_cell, run_cell, table
from hilam.lock import CellBusy, CellLock
from hilam.provenance import git_commit
from hilam.train import TrainConfig
from tests.test_registry import COMMITTED, committed_cell

REQUIRED = {"suite", "method", "frac", "seed", "profile", "success_rate", "ci95", "episodes", "per_task", "protocol",
            "train", "eval", "data", "versions", "git", "hardware"}


@pytest.mark.sim
def test_smoke_cell_trains_evaluates_and_writes_a_valid_cell(tmp_path, capsys):
    cell = CellConfig(suite="object", method="baku", frac=0.5, seed=0, profile="smoke", workers=1,
                      data=str(tmp_path / "demos"), runs=str(tmp_path / "runs"), results=str(tmp_path / "results"),
                      tasks=(3,), demos_per_task=2, keep_every=15)
    r = run_cell(cell)
    assert REQUIRED <= set(r)
    saved = json.loads(cell.path().read_text())
    assert saved["success_rate"] == r["success_rate"] and 0.0 <= r["success_rate"] <= 1.0
    assert r["protocol"]["max_steps"] == 40  # the smoke profile's cut, recorded
    assert r["episodes"] == 1 and r["train"]["steps"] == 30 and r["data"]["demos_per_task"] == {
        next(iter(r["per_task"])): 1}
    assert r["method_config"]["language_encoder"] == "all-MiniLM-L6-v2"
    assert r["data"]["prepare_seconds"] > 0  # this run made its demos
    assert r["data"]["expert_git"] == [git_commit()]
    assert (tmp_path / "runs" / "libero_object" / "baku" / cell.path().stem / "latest").exists()
    # a finished cell is not redone
    assert run_cell(cell) == saved
    assert "exists; skipping" in capsys.readouterr().out
    assert "libero_object" in table([r])
    # libero_object task 3's goal is one predicate, false at reset; the episode's share of it is its outcome
    assert r["goal_progress"]["episodes"] == 1 and r["goal_progress"]["start"] == 0.0
    assert r["goal_progress"]["end"] == r["success_rate"]
    # the checkpoint kept halfway loads into the trained method and is another policy than the last one
    data, method, run_dir, _ = prepare_cell(cell)
    assert saved["data"]["fingerprint"] == data.fingerprint()
    method.fit(data, run_dir, cell.seed)
    assert list(method.checkpoints(run_dir)) == [15, 30]
    last = {k: v.clone() for k, v in method.objective.state_dict().items()}
    method.restore(method.checkpoints(run_dir)[15])
    assert any(not torch.equal(last[k], v) for k, v in method.objective.state_dict().items())


@pytest.mark.sim
def test_state_cell_renders_nothing_and_records_its_recipe(tmp_path):
    """baku_state: demos from the state pass alone, evaluation without cameras; the recipe names the cell."""
    cell = CellConfig(suite="object", method="baku_state", frac=1.0, seed=0, profile="smoke", workers=1,
                      data=str(tmp_path / "demos"), runs=str(tmp_path / "runs"), results=str(tmp_path / "results"),
                      tasks=(3,), demos_per_task=1, recipe="dart10")
    r = run_cell(cell)
    assert REQUIRED <= set(r) and r["episodes"] == 1
    assert cell.path().name == "frac1-seed0-smoke-dart10-pool1.json"
    assert r["data"]["recipe"]["name"] == "dart10" and r["data"]["observation"] == "state"
    assert r["eval"]["rendered"] is False and r["method_config"]["model"]["cameras"] == ()
    assert not list((tmp_path / "demos").rglob("*.hdf5"))  # nothing was rendered
    assert CellConfig(**{**cell.__dict__, "recipe": "clean"}).path().name == "frac1-seed0-smoke-pool1.json"


def test_smoke_hilam_cell_pretrains_on_video_finetunes_and_evaluates(tmp_path, object_demos):
    """The whole HiLAM pipeline on the real simulator: corpus rendering, IDM/FDM, H-Net skills, pi^h/pi^l."""
    cell = CellConfig(suite="object", method="hilam", frac=0.5, seed=0, profile="smoke", workers=1,
                      data=str(object_demos), video=str(tmp_path / "video"), runs=str(tmp_path / "runs"),
                      results=str(tmp_path / "results"), tasks=(3,), demos_per_task=2, keep_every=15)
    r = run_cell(cell)
    assert REQUIRED <= set(r) and r["episodes"] == 1
    _, method, run_dir, _ = prepare_cell(cell)
    assert list(method.checkpoints(run_dir)) == [15, 30]  # the fine-tuning phase's
    assert r["train"]["pretrain"]["steps"] == 20 and r["train"]["steps"] == 30
    skills = r["method_config"]["skills"]
    assert skills["shared"]["corpus"]["clips"] == 1 and skills["target_clips"] == 1
    assert skills["segment_length_steps"]["level2"]["mean"] >= skills["segment_length_steps"]["level1"]["mean"] > 0
    assert r["method_config"]["parameters"]["pi_h"] > 0
    # the shared stages are reused by the next cell: the ablation trains no new IDM or H-Net
    shared = sorted(p.name for p in (tmp_path / "runs" / "shared").iterdir())
    r2 = run_cell(CellConfig(**{**cell.__dict__, "method": "hilam_latent"}))
    assert sorted(p.name for p in (tmp_path / "runs" / "shared").iterdir()) == shared
    assert r2["method_config"]["hilam"]["skill_level"] == 0
    assert r2["variant"] == {"of": "hilam", "overrides": {"hilam.skill_level": 0}} and r2["overrides"] == {}
    # pi^l fine-tuned on frozen pi^h's predicted skills: exactly what pi^h says for each step, not the labels
    data, pred, _, _ = prepare_cell(CellConfig(**{**cell.__dict__, "method": "hilam_predskill"}))
    pred.fit(data, tmp_path / "predskill", seed=0)
    assert pred.cfg.finetune_skill == "predicted"
    np.testing.assert_allclose(pred.finetune_data.skill, pred.predicted_skills(data), atol=1e-5)
    assert not np.allclose(pred.finetune_data.skill, pred.demo_skills(data), atol=1e-2)
    # pi^l that also reads the instruction: fine-tuned on [labelled z^h; l] of each step's own task, fed
    # [pi^h's z^h; l] at evaluation, and its actions change with the instruction alone
    data, low_lang, _, _ = prepare_cell(CellConfig(**{**cell.__dict__, "method": "hilam_lang"}))
    low_lang.fit(data, tmp_path / "lang", seed=0)
    lang_rows = low_lang.high.lang_table.numpy()
    np.testing.assert_allclose(low_lang.finetune_data.skill, np.concatenate([low_lang.demo_skills(data),
                                                                            lang_rows[data.task]], 1), atol=1e-5)
    batch = data.batch(np.arange(2))
    with torch.no_grad():
        skill = low_lang.high(batch)
        acts = [low_lang.low.predict(batch | {"skill": low_lang.high.low_condition(skill, task)}).numpy()
                for task in (batch["task"], (batch["task"] + 1) % len(low_lang.instructions))]
    np.testing.assert_allclose(low_lang.policy().predict(batch), acts[0], atol=1e-5)
    assert not np.allclose(acts[0], acts[1], atol=1e-4)


def test_hilam_refuses_an_idm_larger_than_the_policys_images():
    """Target demos load at the policy's size: an IDM reading bigger frames would label upscaled images."""
    from hilam.methods import build_method

    build_method("hilam", "smoke", ["a task"])  # the smoke IDM reads the policy's 32 px
    with pytest.raises(ValueError, match="64 px frames but the target demos load at 32 px"):
        build_method("hilam", "smoke", ["a task"], {"hilam.shared.lam.image_size": 64})


def test_a_cell_under_two_processes_trains_together_and_splits_its_episodes(tmp_path, object_demos):
    """`accelerate launch`/`torchrun` with 2 ranks (gloo on CPU): one set of demos, one data-parallel training,
    the episodes split between the ranks, every rank gets the gathered result, rank 0 alone writes the cell."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:  # a free port for the ranks' rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torchrun = Path(sys.executable).parent / "torchrun"
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", str(port), "-m",
                           "tests.distributed_cell", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (cell_file,) = (tmp_path / "results").rglob("*.json")
    cell = json.loads(cell_file.read_text())
    assert cell["episodes"] == 3 and cell["eval"]["workers"] == 2 and cell["train"]["steps"] == 30
    assert cell["goal_progress"]["episodes"] == 3  # gathered from both ranks
    returned = [json.loads((tmp_path / f"returned_rank{r}.json").read_text()) for r in (0, 1)]
    assert returned[0] == returned[1] == {"success_rate": cell["success_rate"], "episodes": 3}
    run_dir = tmp_path / "runs" / "libero_object" / "baku" / cell_file.stem
    shards = [[json.loads(x)["index"] for x in (run_dir / f"eval_journal.rank{r}of2.jsonl").read_text().splitlines()[1:]]
              for r in (0, 1)]
    assert sorted(shards[0]) == [0, 2] and shards[1] == [1]
    last = (run_dir / (run_dir / "latest").read_text().strip())
    assert (last / "random_states_1.pkl").exists()  # rank 1 took part in training


def test_a_bad_sweep_is_refused_before_any_work_naming_each_option(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit) as e:
        bench(["longg"], [1.5], ["bakuu"], [-1], profile="cpuu", workers=-1, data=str(tmp_path / "a_file"),
              results=str(tmp_path / "a_file" / "cells"), recipe="noisy", demos_per_task=0)
    msg = str(e.value)
    for option in ("--suite", "--profile", "--methods", "--recipe", "--frac", "--seeds", "--workers", "--data",
                   "--results", "--demos-per-task"):
        assert f"\n  {option}: " in msg
    assert not (tmp_path / "a_file").stat().st_size  # nothing was written anywhere


def test_a_cell_has_one_writer_and_the_second_is_told_who_holds_it(tmp_path):
    cell = CellConfig(suite="object", method="baku", profile="smoke", runs=str(tmp_path / "runs"),
                      results=str(tmp_path / "results"))
    with CellLock(cell.run_dir()):
        with pytest.raises(CellBusy, match=rf"being run by another process \({{\"pid\": {os.getpid()}"):
            run_cell(cell)
        assert not cell.path().exists()
    with CellLock(cell.run_dir()):  # released when its holder ends
        pass


def test_a_users_cells_go_beside_the_committed_reference_cells_never_over_them():
    assert Path(CellConfig().results).resolve() != Path("results/runs").resolve()


# what a recorded setting may differ in without the cell being another: the trainer's fields that its own keys leave
# out (hilam.confighash), and the widths a network takes from its data when it is built
BOOKKEEPING = {f.name for f in fields(TrainConfig) if f.metadata.get("hash", True) is False} | {"lang_dim", "state_dim"}


def _changed(now: dict, recorded: dict, at: str = "") -> list[str]:
    """The settings a cell recorded that resolve otherwise today (settings added since it ran are not in its record,
    and their defaults keep the old behaviour)."""
    out = []
    for k, v in recorded.items():
        if k in BOOKKEEPING:
            continue
        if isinstance(v, dict) and isinstance(now.get(k), dict):
            out += _changed(now[k], v, f"{at}{k}.")
        elif now.get(k) != v:
            out.append(f"{at}{k}: recorded {v!r}, now {now.get(k)!r}")
    return out


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_cell_is_named_by_the_settings_that_reproduce_it_today(path):
    """A changed default (a profile's budget, a variant's settings) must move the cells made under the old one to a
    name whose settings still reproduce them (their own profile, or an explicit --set), never leave them under the
    new one: the name and, for BAKU's network and budget, the settings it resolves to today are the recorded ones."""
    r, cell = committed_cell(path)
    assert cell.path() == path
    if (r.get("variant") or {}).get("of", r["method"]) != "baku":
        return
    now = json.loads(json.dumps(cell.configured().build(["pick up the bowl"]).describe()))  # as recorded: lists
    recorded = r["method_config"]
    assert not _changed(now, {"model": recorded["model"], "train_config": recorded.get("train_config", {})})
    assert now["train_config"]["steps"] == r["train"]["steps"]
