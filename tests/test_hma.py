"""HMA world model: tokenizer round trip, masked prediction, action control, two action spaces, the metrics."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from baselines.hma.config import DynamicsConfig, preset
from baselines.hma.dynamics import WorldModel, mask_ratio
from baselines.hma.run import episodes_from_demos, evaluate, fit
from baselines.hma.tokenizer import ImageTokenizer, TokenizerObjective
from tests.helpers import adam_steps

CODEBOOK, TOKENS = 8, 4


def moving_codes(batch: int, frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D 'scene' whose position moves by the action (+1 or -1) each frame; token i shows (pos + i) mod 8."""
    pos = rng.integers(0, CODEBOOK, batch)
    act = rng.choice([-1.0, 1.0], (batch, frames - 1))
    positions = np.concatenate([pos[:, None], pos[:, None] + np.cumsum(act, 1).astype(int)], 1)
    codes = (positions[:, :, None] + np.arange(TOKENS)) % CODEBOOK
    return codes, act[..., None].astype(np.float32)


def small_world(spaces: dict[str, int]) -> WorldModel:
    cfg = DynamicsConfig(width=32, layers=2, heads=2, frames=3, action_spaces=spaces, frame_stride=1, decode_steps=2)
    return WorldModel(cfg, CODEBOOK, TOKENS)


def test_cosine_mask_schedule():
    assert float(mask_ratio(torch.tensor(0.0))) == pytest.approx(1.0)
    assert float(mask_ratio(torch.tensor(1.0))) == pytest.approx(0.0, abs=1e-6)


def test_masked_prediction_learns_the_action_effect():
    """After training, rolling out with the true actions reproduces the scene; with flipped actions it does not."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = small_world({"move": 1})
    batches = [tuple(torch.as_tensor(x) for x in moving_codes(32, 3, rng)) for _ in range(8)]
    step = iter(range(10 ** 6))
    losses = adam_steps(model.parameters(), lambda: model.masked_loss(*batches[next(step) % 8], "move"), 300, lr=3e-3)
    assert np.mean(losses[-20:]) < 0.3 * np.mean(losses[:20])
    model.eval()
    codes, act = (torch.as_tensor(x) for x in moving_codes(16, 5, np.random.default_rng(1)))
    true = model.rollout(codes[:, 0], act, "move")
    flipped = model.rollout(codes[:, 0], -act, "move")
    assert true.shape == (16, 4, TOKENS) and int(true.max()) < CODEBOOK
    acc_true = (true == codes[:, 1:]).float().mean()
    acc_flip = (flipped == codes[:, 1:]).float().mean()
    assert acc_true > 0.9 and acc_flip < 0.5


def test_two_action_spaces_train_one_model():
    """The same scene driven by a 1-D action and by a one-hot 2-D action: each space has its own stem and both learn."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = small_world({"scalar": 1, "onehot": 2})
    data = []
    for i in range(8):
        codes, act = moving_codes(32, 3, rng)
        if i % 2:
            act, space = np.concatenate([act > 0, act < 0], -1).astype(np.float32), "onehot"
        else:
            space = "scalar"
        data.append((torch.as_tensor(codes), torch.as_tensor(act), space))
    first = {s: float(model.masked_loss(c, a, s).detach()) for c, a, s in data[:2]}
    step = iter(range(10 ** 6))
    adam_steps(model.parameters(), lambda: model.masked_loss(*data[next(step) % 8]), 300, lr=3e-3)
    torch.manual_seed(1)
    last = {s: float(model.masked_loss(c, a, s).detach()) for c, a, s in data[:2]}
    assert all(last[s] < 0.3 * first[s] for s in ("scalar", "onehot"))
    assert model.stems["onehot"].mlp[0].weight.shape[1] == 2 and model.stems["scalar"].mlp[0].weight.shape[1] == 1


def test_tokenizer_round_trip_on_tiny_images():
    cfg = preset("smoke").tokenizer
    torch.manual_seed(0)
    tok = ImageTokenizer(cfg)
    rng = np.random.default_rng(0)
    images = np.zeros((8, 16, 16, 3), np.uint8)
    for i in range(8):  # a bright square on a dark background at eight places
        y, x = rng.integers(0, 12, 2)
        images[i, y:y + 4, x:x + 4] = 230
    obj = TokenizerObjective(tok, images)
    losses = adam_steps(tok.parameters(), lambda: obj(obj.batch(np.arange(8))), 150, lr=3e-3)
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:10])
    tok.eval()
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255
    codes = tok.encode(x)
    assert codes.shape == (8, tok.grid ** 2) and int(codes.max()) < cfg.codebook
    recon, _ = tok(x)
    assert torch.allclose(tok.decode(codes), recon.clamp(0, 1), atol=1e-5)  # codes hold everything decoding needs
    assert (tok.encode(tok.decode(codes)) == codes).float().mean() > 0.9  # decoded images re-encode to their codes


def test_fit_and_metrics_on_demo_shaped_data(tmp_path):
    """The whole pipeline on tiny synthetic demos: training, held-out windows, every metric present and sane."""
    cfg = preset("smoke")
    rng = np.random.default_rng(0)
    demos = []
    for task in range(2):
        for _ in range(2):
            frames = rng.integers(0, 255, (13, 32, 32, 3), dtype=np.uint8)
            demos.append((frames, rng.uniform(-1, 1, (13, 7)).astype(np.float32), task))
    episodes = episodes_from_demos(demos, cfg)
    assert [e.test for e in episodes] == [False, True, False, True]
    assert episodes[0].frames.shape == (7, 16, 16, 3) and episodes[0].actions.shape == (6, 14)
    tok, model, summary = fit(cfg, episodes, tmp_path)
    assert summary["dynamics"]["steps"] == cfg.dynamics_train.steps
    metrics, examples = evaluate(replace(cfg, horizon=2), tok, model, episodes)
    assert metrics["windows"] == 6 and len(metrics["per_step"]["psnr"]) == 2
    for k in ("true_actions", "other_actions", "tokenizer_reconstruction", "copy_first_frame"):
        assert 0 < metrics[k]["psnr"] < 60 and -1 <= metrics[k]["ssim"] <= 1
    assert metrics["generated_frames_per_s_single"] > 0 and examples[0][0].shape == (2, 16, 16, 3)
