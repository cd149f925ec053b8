"""KS-Gen key-step generator: key-step frames from a real state pass, the generator, the judge, the scores."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from baselines.ksgen.config import preset
from baselines.ksgen.data import KeyStepSet
from baselines.ksgen.judge import random_shift
from baselines.ksgen.model import KeyStepGenerator
from baselines.ksgen.run import GeneratorObjective, evaluate, fit
from tests.helpers import adam_steps


@pytest.fixture(scope="module")
def keystep_data(tmp_path_factory) -> KeyStepSet:
    """Two expert episodes of libero_10 task 4 (two goal predicates), state pass only, then key-step frames."""
    from baselines.ksgen.data import build
    from hilam.data.generate import GenerateConfig, state_pass
    from hilam.envs.suites import task_specs

    root = tmp_path_factory.mktemp("ksgen")
    task = task_specs("libero_10")[4]
    stats = state_pass(task, GenerateConfig(suite="libero_10", root=str(root / "demos"), demos_per_task=2,
                                            max_attempts=4, render=False, tasks=(4,)))
    assert stats["successes"] == 2
    cfg = replace(preset("smoke").data, suite="libero_10", root=str(root / "demos"), cache=str(root / "cache"),
                  tasks=(4,))
    data = build(cfg)
    again = build(cfg)  # from the cache
    assert all(np.array_equal(getattr(data, k), getattr(again, k)) for k in KeyStepSet.__dataclass_fields__)
    return data


@pytest.mark.sim
def test_key_step_frames_follow_the_goal_predicates(keystep_data):
    d = keystep_data
    demos = d.demos()
    assert len(demos) == 2 and d.test.sum() == 3  # the last episode (first frame + 2 key steps) is held out
    for rows in demos:
        assert list(d.order[rows]) == [0, 1, 2]  # first frame, then one key step per goal predicate
        assert d.step[rows[0]] == 0 and d.step[rows[1]] < d.step[rows[2]]
        # the scene changes between the first frame and the last key step (a mug moved onto a plate)
        assert np.abs(d.images[rows[2]].astype(int) - d.images[rows[0]]).mean() > 1.0
    first, prev, target = d.pairs(test=False)
    assert len(target) == 2 and list(d.order[target]) == [1, 2] and prev[1] == target[0]
    assert d.images.shape[1:] == (32, 32, 3)


def test_generator_starts_from_the_previous_image_and_learns():
    cfg = preset("smoke")
    torch.manual_seed(0)
    gen = KeyStepGenerator(cfg.generator, lang_dim=6)
    first, prev = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    lang, step = torch.randn(2, 6), torch.tensor([1, 2])
    assert torch.equal(gen(first, prev, lang, step), prev)  # zero-initialised output: "nothing changed"
    target = prev.flip(-1)
    losses = adam_steps(gen.parameters(), lambda: torch.nn.functional.l1_loss(gen(first, prev, lang, step), target), steps=60, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]
    assert len(gen.rollout(first, lang, 3)) == 3


def test_random_shift_moves_all_images_of_a_sample_alike():
    x = np.zeros((3, 2, 8, 8, 3), np.uint8)
    x[:, :, 3:5, 3:5] = 255
    y = random_shift(x, 2, np.arange(3))
    assert np.array_equal(y[:, 0], y[:, 1]) and np.array_equal(random_shift(x, 0, np.arange(3)), x)
    assert np.array_equal(random_shift(x, 2, np.arange(3)), y)  # seeded by the sample indices
    assert any(not np.array_equal(y[i], x[i]) for i in range(3))


@pytest.mark.sim
def test_training_and_scores_on_real_key_steps(keystep_data, tmp_path):
    d = keystep_data
    cfg = preset("smoke")
    lang = torch.randn(10, 6)
    gen, judge, summary = fit(cfg, d, lang, tmp_path)
    assert summary["generator"]["steps"] == cfg.train.steps and summary["judge"]["steps"] == cfg.judge.train.steps
    obj = GeneratorObjective(gen, d, lang, 0)
    assert len(obj) == 2
    scores, preds = evaluate(gen, judge, d, lang, {4: "task four"})
    assert set(scores) == {"generator", "copy_first_frame", "nearest_train_demo", "judge_on_true_frames"}
    assert scores.pop("judge_on_true_frames")["frames"] == 2
    for method, s in scores.items():
        assert s["key_steps"] == 2 and set(s["per_step"]) == {1, 2} and set(s["per_task"]) == {"task four"}
    rows = d.demos()[1]
    # copying the first frame is scored against the true key steps exactly as the metric defines it
    from skimage.metrics import peak_signal_noise_ratio
    expect = np.mean([peak_signal_noise_ratio(d.images[r], d.images[rows[0]], data_range=255) for r in rows[1:]])
    assert scores["copy_first_frame"]["overall"]["psnr"] == pytest.approx(expect)
    # the only training demo is the nearest: its key steps are the retrieval's prediction
    train_rows = d.demos()[0]
    assert np.array_equal(preds["nearest_train_demo"][0], d.images[train_rows[1:]])
    assert preds["generator"][0].shape == (2, 32, 32, 3)
