"""HMA world model: tokenizer round trip, masked prediction, action control, two action spaces, the metrics."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from baselines.hma.config import DynamicsConfig, preset
from baselines.hma.dynamics import WorldModel, mask_ratio
from baselines.hma.run import Demo, episodes_from_demos, evaluate, fit
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
    cfg = DynamicsConfig(width=32, layers=2, heads=2, frames=3, action_spaces=spaces, frame_stride=1, decode_steps=2,
                         state_dims={name: 1 for name in spaces})
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


def synthetic_demos(tasks: int = 2, per_task: int = 2, length: int = 13, size: int = 32) -> list[Demo]:
    """Demo-shaped noise with two camera views; proprio follows the summed actions, as joints follow commands."""
    rng = np.random.default_rng(0)
    demos = []
    for task in range(tasks):
        for _ in range(per_task):
            actions = rng.uniform(-1, 1, (length, 7)).astype(np.float32)
            states = np.concatenate([np.cumsum(actions, 0), np.zeros((length, 2))], 1).astype(np.float32)
            demos.append(Demo(rng.integers(0, 255, (length, 2, size, size, 3), dtype=np.uint8), actions, states, task))
    return demos


def test_fit_and_metrics_on_demo_shaped_data(tmp_path):
    """The whole pipeline on tiny synthetic demos: training, held-out windows, every metric present and sane."""
    cfg = preset("smoke")
    episodes = episodes_from_demos(synthetic_demos(), cfg)
    assert [e.test for e in episodes] == [False, True, False, True]
    e = episodes[0]
    assert e.frames.shape == (7, 2, 16, 16, 3) and e.actions.shape == (6, 14) and e.states.shape == (7, 9)
    tok, model, summary = fit(cfg, episodes, tmp_path)
    assert summary["dynamics"]["steps"] == cfg.dynamics_train.steps
    assert e.codes.shape == (7, 2 * tok.grid ** 2)  # both views' tokens in one frame
    metrics, examples = evaluate(replace(cfg, horizon=2), tok, model, episodes)
    assert metrics["windows"] == 6 and len(metrics["per_step"]["psnr"]) == 2
    for k in ("true_actions", "other_actions", "tokenizer_reconstruction", "copy_first_frame"):
        assert 0 < metrics[k]["psnr"] < 60 and -1 <= metrics[k]["ssim"] <= 1
    assert set(metrics["per_view"]) == set(cfg.cameras) and len(metrics["state_readout_mae"]) == 9
    assert metrics["generated_frames_per_s_single"] > 0 and examples[0][0].shape == (2, 16, 16, 3)


def test_state_readout_learns_proprio():
    """The action token's readout learns a proprio that the frames show (here: the scene's position)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cfg = DynamicsConfig(width=32, layers=2, heads=2, frames=3, action_spaces={"move": 1}, state_dims={"move": 1},
                         frame_stride=1, decode_steps=2)
    model = WorldModel(cfg, CODEBOOK, TOKENS)
    data = [tuple(torch.as_tensor(x) for x in moving_codes(32, 3, rng)) for _ in range(8)]
    data = [(c, a, c[:, :, :1].float()) for c, a in data]  # proprio = the position token
    model.state_heads["move"].set_stats(np.concatenate([s.reshape(-1, 1).numpy() for _, _, s in data]))
    step = iter(range(10 ** 6))

    def state_loss(c, a, s):
        h = model.hidden(c, a, "move")
        head = model.state_heads["move"]
        return torch.nn.functional.mse_loss(head(h[:, :, -1]), head.scale(s))

    def loss():
        c, a, s = data[next(step) % 8]
        return model.masked_loss(c, a, "move", s)

    first = float(state_loss(*data[0]).detach())
    adam_steps(model.parameters(), loss, 300, lr=3e-3)
    c, a, s = data[0]
    assert float(state_loss(c, a, s).detach()) < 0.2 * first
    read = model.read_states(c, a, "move")[:, -1]
    assert read.shape == (32, 1) and float((read - s[:, -1]).abs().mean()) < 1.0  # within a token of the truth


def test_cached_generation_matches_the_full_window():
    """next_frame runs the context once and the new frame alone: its logits are the full window's last frame's."""
    torch.manual_seed(0)
    model = small_world({"move": 1}).eval()
    codes, act = (torch.as_tensor(x) for x in moving_codes(4, 3, np.random.default_rng(0)))
    masked = codes.clone()
    masked[:, -1] = model.mask_id
    full = model(masked, act, "move")[:, -1]
    past, x = [], model._inputs(codes[:, :2], model._action_tokens(act, "move")[:, :2], 0)
    for blk in model.blocks:
        x, mid = blk(x)
        past.append(mid)
    y = model._inputs(masked[:, 2:], model._action_tokens(act, "move")[:, 2:], 2)
    for blk, mid in zip(model.blocks, past):
        y, _ = blk(y, mid)
    torch.testing.assert_close(model.head(y[:, 0, :TOKENS]), full, atol=1e-5, rtol=1e-4)
    new, state = model.next_frame(codes[:, :2], act, "move", with_state=True)
    window = torch.cat([codes[:, :2], new[:, None]], 1)
    torch.testing.assert_close(state, model.read_states(window, act, "move")[:, -1], atol=1e-5, rtol=1e-4)
