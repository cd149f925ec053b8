"""The trainer: the loss falls, and a resumed run continues the exact loss curve."""
from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from hilam.confighash import config_hash, keyed_fields
from hilam.train import TrainConfig, train


class Regression(nn.Module):
    """A small objective with dropout, so resumption must restore RNG state too."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 1))

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.net[0].weight.device  # the trainer places the model (on a GPU when there is one)
        x = torch.as_tensor(batch["x"], device=dev)
        return ((self.net(x) - torch.as_tensor(batch["y"], device=dev)) ** 2).mean()


class Data:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(256, 4)).astype(np.float32)
        self.y = (self.x @ np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32))

    def __len__(self):
        return len(self.x)

    def batch(self, idx):
        return {"x": self.x[idx], "y": self.y[idx]}


CFG = TrainConfig(steps=40, batch_size=16, lr=1e-2, log_every=10, ckpt_every=15)


def test_loss_falls(tmp_path):
    r = train(Regression(), Data(), CFG, tmp_path)
    assert r["steps"] == 40 and np.mean(r["losses"][-5:]) < 0.5 * np.mean(r["losses"][:5])
    assert (tmp_path / "latest").read_text() == "step_40" and list((tmp_path / "tb").iterdir())


class Counting(Data):
    """Data that counts the batches a run draws and, given `crash_at`, raises at that call: a run killed between
    two step-count checkpoints."""

    def __init__(self, crash_at: int | None = None):
        super().__init__()
        self.calls, self.crash_at = 0, crash_at

    def batch(self, idx):
        self.calls += 1
        if self.calls == self.crash_at:
            raise RuntimeError("killed")
        return super().batch(idx)


@pytest.mark.parametrize("cfg", [CFG, replace(CFG, schedule="cosine", warmup_steps=5)], ids=["constant", "cosine"])
def test_resume_continues_the_same_curve(tmp_path, cfg):
    full = train(Regression(), Data(), cfg, tmp_path / "full")["losses"]
    first = train(Regression(), Data(), cfg, tmp_path / "cut", stop_at=23)["losses"]  # last checkpoint: 23
    counted = Counting()
    resumed = train(Regression(), counted, cfg, tmp_path / "cut")
    assert len(first) == 23 and counted.calls == 17
    np.testing.assert_allclose(resumed["losses"], full, rtol=1e-6)  # the first 23 from the checkpoint
    again = train(Regression(), Data(), cfg, tmp_path / "cut")  # finished: nothing runs, the curve is still known
    assert again["losses"] == resumed["losses"] and again["final_loss"] == full[-1]
    assert not any(p.name.startswith(".tmp") for p in (tmp_path / "cut").iterdir())


def test_cosine_schedule_warms_up_then_decays_to_zero():
    cfg = TrainConfig(steps=110, lr=1.0, schedule="cosine", warmup_steps=10)
    lrs = [cfg.lr_at(s) for s in range(cfg.steps)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)  # linear warm-up to the peak
    assert lrs[10] == pytest.approx(1.0) and lrs[60] == pytest.approx(0.5) and 0 < lrs[-1] < 1e-3
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))  # never rises after warm-up
    assert {TrainConfig(lr=0.3).lr_at(s) for s in (0, 5000, 19_999)} == {0.3}  # constant stays BAKU's
    with pytest.raises(ValueError, match="unknown lr schedule 'linear'"):
        TrainConfig(schedule="linear")


def test_the_schedule_enters_stage_keys_only_when_it_is_not_the_default():
    assert "schedule" not in json.dumps(keyed_fields(TrainConfig()))  # keys of stages trained before it existed
    assert config_hash(TrainConfig()) != config_hash(TrainConfig(schedule="cosine"))


def test_a_killed_run_resumes_from_its_last_timed_checkpoint(tmp_path):
    full = train(Regression(), Data(), CFG, tmp_path / "full")["losses"]
    timed = replace(CFG, ckpt_minutes=1e-9)  # always overdue: a checkpoint at every log step (10, 15, 20, ...)
    with pytest.raises(RuntimeError, match="killed"):
        train(Regression(), Counting(crash_at=28), timed, tmp_path / "cut")
    assert (tmp_path / "cut" / "latest").read_text() == "step_20"  # by step count alone it would be step_15
    with pytest.raises(RuntimeError, match="killed"):
        train(Regression(), Counting(crash_at=28), CFG, tmp_path / "counted")
    assert (tmp_path / "counted" / "latest").read_text() == "step_15"
    counted = Counting()
    rest = train(Regression(), counted, timed, tmp_path / "cut")["losses"]
    assert counted.calls == 20
    np.testing.assert_allclose(rest, full, rtol=1e-6)  # steps 1-20 from the step-20 checkpoint


class Diverging(Regression):
    """A loss that turns NaN at its `at`-th batch, as an exploding run's does."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, batch: dict) -> torch.Tensor:
        self.calls += 1
        return super().forward(batch) * (float("nan") if self.calls == self.at else 1.0)


def test_a_non_finite_loss_stops_training_naming_step_and_run(tmp_path):
    with pytest.raises(FloatingPointError, match=rf"{re.escape(str(tmp_path))}: loss is nan at step 20"):
        train(Diverging(at=20), Data(), CFG, tmp_path)
    assert (tmp_path / "latest").read_text() == "step_15"  # no checkpoint of the NaN weights


def test_training_time_adds_up_over_resumes(tmp_path):
    first = train(Regression(), Data(), CFG, tmp_path, stop_at=23)
    second = train(Regression(), Data(), CFG, tmp_path)
    # the checkpoint keeps the time up to its save, so the total is the first run (less its last save) plus this one;
    # a save takes ~0.02 s on an idle machine and several times that beside a benchmark, hence the tolerance
    assert second["seconds"] == pytest.approx(first["seconds"] + second["seconds_this_run"], abs=0.3)
    assert second["seconds"] > second["seconds_this_run"] + 0.5 * first["seconds"]
    again = train(Regression(), Data(), CFG, tmp_path)  # already finished: nothing runs, the total stays
    assert again["steps"] == 40 and again["seconds"] == pytest.approx(second["seconds"], abs=0.3)
    assert again["seconds_this_run"] < 1.0


def test_the_commit_that_started_training_survives_resumes(tmp_path, monkeypatch):
    import hilam.train as trainer

    monkeypatch.setattr(trainer, "git_commit", lambda: "commit-a")
    first = train(Regression(), Data(), CFG, tmp_path, stop_at=23)
    monkeypatch.setattr(trainer, "git_commit", lambda: "commit-b")  # the code changed before the resume
    second = train(Regression(), Data(), CFG, tmp_path)
    assert first["git_started"] == second["git_started"] == "commit-a"
    assert trainer.brief(second)["git_started"] == "commit-a" and "losses" not in trainer.brief(second)
    assert train(Regression(), Data(), CFG, tmp_path / "fresh")["git_started"] == "commit-b"


def test_kept_checkpoints_hold_the_weights_of_their_step(tmp_path):
    from hilam.train import kept_checkpoints, load_weights

    cfg = replace(CFG, ckpt_every=10)
    train(Regression(), Data(), cfg, tmp_path / "plain")
    assert list(kept_checkpoints(tmp_path / "plain")) == [40]  # superseded checkpoints are deleted
    train(Regression(), Data(), cfg, tmp_path / "kept", keep_every=20)
    kept = kept_checkpoints(tmp_path / "kept")
    assert list(kept) == [20, 40]
    train(Regression(), Data(), replace(cfg, steps=20), tmp_path / "short")  # the same run, stopped at step 20
    probe = torch.randn(8, 4)
    at20 = load_weights(Regression(), kept[20]).eval().net(probe)
    torch.testing.assert_close(at20, load_weights(Regression(), tmp_path / "short" / "step_20").eval().net(probe))
    assert not torch.allclose(load_weights(Regression(), kept[40]).eval().net(probe), at20)
    with pytest.raises(FileNotFoundError, match="no model weights"):
        load_weights(Regression(), tmp_path)


def test_a_finished_run_extended_to_more_steps_is_the_longer_run(tmp_path):
    """Nothing depends on the total step count (constant lr, batches from (seed, step)), so a profile that only
    trains longer (cpu_long) continues a shorter profile's checkpoint exactly."""
    full = train(Regression(), Data(), CFG, tmp_path / "full")["losses"]
    train(Regression(), Data(), replace(CFG, steps=20), tmp_path / "grown")
    counted = Counting()
    grown = train(Regression(), counted, CFG, tmp_path / "grown")["losses"]
    assert counted.calls == 20
    np.testing.assert_allclose(grown, full, rtol=1e-6)


@pytest.mark.parametrize("part", ["baku", "lam", "skills", "pretrain"])
def test_throughput_benchmark_trains_every_stage_through_its_own_objective(part):
    """benchmarks/train_throughput.py (what a GPU session runs first) builds each stage's real objective and batch
    source; a step of each must train and be timed."""
    from benchmarks.train_throughput import measure

    r = measure("smoke", part, steps=2, warmup=1)
    assert r["part"] == part and r["steps_timed"] == 2 and r["samples_per_s"] > 0 and r["parameters"] > 0
    assert r["budget_hours"] > 0 and r["gpu_busy_fraction"] is None  # no trace asked for
