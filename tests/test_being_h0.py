"""Being-H0 baseline: geometry, the part-level motion tokenizer (round-trip error, code use), the transformer's
shapes, the L1 post-training loss, the method on tiny synthetic data (shared pretraining reused), and a
smoke-profile cell on the real simulator."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from baselines.being_h0.config import ModelConfig, TokenizerConfig, preset
from baselines.being_h0.corpus import Episode, motion_windows
from baselines.being_h0.geometry import matrix_to_rot6d, quat_xyzw_to_matrix, rot6d_to_matrix, rotation_angle_deg
from baselines.being_h0.model import ActionQueryObjective, BeingH0, MotionPretrainObjective
from baselines.being_h0.tokenizer import MOTION_DIM, PartMotionTokenizer, reconstruction_error
from hilam.models.gpt import GPTConfig
from tests.helpers import adam_steps

TOK = TokenizerConfig(window=16, hidden=32, code_dim=8, groups=2, residual_layers=2, codebook_size=32)
MODEL = ModelConfig(patch=8, instruction_tokens=2, gpt=GPTConfig(n_layer=1, n_head=2, n_embd=32, dropout=0.0),
                    head_hidden=32)


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one intra-op thread is faster, and far faster on a CPU shared with other jobs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _rot(axis: int, a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    m = np.tile(np.eye(3), (len(a), 1, 1))
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    m[:, i, i], m[:, i, j], m[:, j, i], m[:, j, j] = c, -s, s, c
    return m


def smooth_motion(n: int, T: int, seed: int = 0) -> list[np.ndarray]:
    """Synthetic end-effector episodes like the expert's: sinusoidal position drift (cm/step), a gripper pointing
    down with slowly varying yaw and tilt, fingers closing once, smoothly."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    out = []
    for _ in range(n):
        amp, period, phase = rng.uniform(0.03, 0.12, (2, 3)), rng.uniform(80, 300, (2, 3)), rng.uniform(0, 6.3, (2, 3))
        pos = rng.uniform(-0.2, 0.2, 3) + (amp * np.sin(2 * np.pi * t[:, None, None] / period + phase)).sum(1)
        yaw = rng.uniform(-1, 1) + 0.6 * np.sin(2 * np.pi * t / rng.uniform(100, 300) + rng.uniform(0, 6))
        tilt = 0.2 * np.sin(2 * np.pi * t / rng.uniform(100, 300) + rng.uniform(0, 6))
        close = 1 / (1 + np.exp(-(t - rng.uniform(0.2, 0.8) * T) / 4))
        grip = 0.04 * (1 - close)[:, None] * np.array([1.0, -1.0])
        rot = matrix_to_rot6d(_rot(2, yaw) @ _rot(0, np.pi + tilt))
        out.append(np.concatenate([pos, rot, grip], 1).astype(np.float32))
    return out


def test_rotation_conversions_round_trip():
    q = np.random.default_rng(0).normal(size=(16, 4))
    m = quat_xyzw_to_matrix(q)
    np.testing.assert_allclose(m @ m.transpose(0, 2, 1), np.tile(np.eye(3), (16, 1, 1)), atol=1e-9)
    r6 = torch.as_tensor(matrix_to_rot6d(m))
    np.testing.assert_allclose(rot6d_to_matrix(r6).numpy(), m, atol=1e-9)
    tilted = torch.as_tensor(matrix_to_rot6d(_rot(0, np.full(16, np.deg2rad(10.0))) @ m))
    np.testing.assert_allclose(rotation_angle_deg(r6, tilted).numpy(), 10.0, atol=1e-6)


def _train_tokenizer(tok: PartMotionTokenizer, windows: np.ndarray, steps: int) -> list[float]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    return adam_steps(tok.parameters(), lambda: tok({"motion": windows[rng.integers(0, len(windows), 64)]}), steps)


def test_part_tokenizer_round_trip_beats_holding_still_and_uses_its_codes():
    torch.manual_seed(0)
    windows = np.concatenate([motion_windows(m, np.arange(0, len(m), 4), TOK.window) for m in smooth_motion(12, 200)])
    tok = PartMotionTokenizer(TOK, part_level=True)
    tok.set_stats(windows)
    ids = tok.tokenize(windows[:5])
    assert ids.shape == (5, tok.tokens_per_window) == (5, 16 // 4 * 2 * 2 * 2)  # steps x parts x groups x layers
    assert 0 <= int(ids.min()) and int(ids.max()) < tok.vocab_size
    losses = _train_tokenizer(tok, windows, 500)
    assert np.mean(losses[-20:]) < 0.2 * np.mean(losses[:5])
    err = reconstruction_error(tok, windows)
    x = torch.as_tensor(windows)
    still = x[:, :1].expand_as(x)  # baseline: the arm holds its first pose for the whole window
    still_mm = float(torch.linalg.norm(still[..., :3] - x[..., :3], dim=-1).mean() * 1000)
    still_deg = float(rotation_angle_deg(still[..., 3:9], x[..., 3:9]).mean())
    # measured (seed 0, one thread): 12.8 mm and 1.2 deg against 35.9 mm and 5.3 deg for holding still
    assert err["position_mm_mean"] < 0.6 * still_mm and err["position_mm_mean"] < 22
    assert err["rotation_deg_mean"] < 0.5 * still_deg and err["rotation_deg_mean"] < 3
    assert err["gripper_mm_mean"] < 1
    assert err["codes_used_min"] >= 8 and err["perplexity_min"] > 3  # no collapse onto a few codes (measured 24, 9.6)
    # decoding needs the first wrist pose when the wrist is relative to it
    with pytest.raises(ValueError):
        tok.detokenize(ids)


def test_flat_tokenizer_has_one_quantiser_per_step():
    flat = PartMotionTokenizer(replace(TOK, groups=1, residual_layers=1), part_level=False)
    assert list(flat.parts) == ["whole"] and flat.tokens_per_window == 4 and flat.vocab_size == 32
    still = np.zeros((2, 16, MOTION_DIM), np.float32)
    still[..., 3:9] = [1, 0, 0, 0, 1, 0]  # identity rotation
    y = flat.detokenize(flat.tokenize(still), torch.as_tensor(still[:, 0, :9]))
    assert y.shape == (2, 16, MOTION_DIM)


def _images(b: int, size: int) -> np.ndarray:
    return np.random.default_rng(b).integers(0, 256, (b, size, size, 3), dtype=np.uint8)


def test_pretraining_and_post_training_shapes():
    tok = PartMotionTokenizer(TOK)
    model = BeingH0(MODEL, image_size=16, lang_dim=12, motion_vocab=tok.vocab_size,
                    motion_tokens=tok.tokens_per_window, chunk=16)
    pre = MotionPretrainObjective(model, torch.randn(3, 12))
    batch = {"agentview_rgb": _images(4, 16), "task": np.array([0, 1, 2, 0]),
             "motion_tokens": np.random.default_rng(0).integers(0, tok.vocab_size, (4, tok.tokens_per_window))}
    logits, target = pre.logits_and_targets(batch)
    assert logits.shape == (4, tok.tokens_per_window + 1, tok.vocab_size + 2)
    assert (target[:, -1] == model.mot_end).all() and torch.isfinite(pre(batch))
    assert model.pretrain_len == 4 + 2 + 1 + 32  # patches, instruction, <MOT>, motion tokens
    post = ActionQueryObjective(model, torch.randn(3, 12), np.zeros(9), np.ones(9))
    obs = {"agentview_rgb": _images(4, 16), "eye_in_hand_rgb": _images(4, 16), "proprio": np.zeros((4, 9)),
           "task": np.array([0, 1, 2, 0])}
    actions = post.predict(obs)
    assert actions.shape == (4, 16, 7) and actions.abs().max() <= 1


def test_l1_post_training_loss_falls_on_tiny_data():
    torch.manual_seed(0)
    model = BeingH0(MODEL, image_size=16, lang_dim=12, motion_vocab=64, motion_tokens=4, chunk=16)
    post = ActionQueryObjective(model, torch.randn(2, 12), np.zeros(9), np.ones(9))
    rng = np.random.default_rng(0)
    batch = {"agentview_rgb": _images(8, 16), "eye_in_hand_rgb": _images(8, 16),
             "proprio": rng.normal(size=(8, 9)).astype(np.float32), "task": rng.integers(0, 2, 8),
             "actions": rng.uniform(-0.8, 0.8, (8, 16, 7)).astype(np.float32), "action_mask": np.ones((8, 16), bool)}
    batch["action_mask"][0, 10:] = False
    losses = adam_steps(post.parameters(), lambda: post(batch), 60)
    assert losses[-1] < 0.5 * losses[0]


@pytest.fixture
def tiny_demos(tmp_path):
    """Two synthetic 32 px demos of libero_object task 0 in the official layout (no simulator)."""
    from hilam.data.dataset import DatasetConfig, DemoDataset
    from hilam.data.schema import task_file, write_task_file
    from hilam.envs.suites import task_specs
    from tests.conftest import make_demo

    task = task_specs("libero_object")[0]
    write_task_file(task_file(tmp_path / "demos", "libero_object", task.name),
                    [make_demo(30 + i, size=32, seed=i) for i in range(2)], language=task.language,
                    problem_name=task.name, bddl_file_name=task.bddl_file, env_args={}, extra_attrs={"pool_size": 2})
    return DemoDataset(DatasetConfig(root=str(tmp_path / "demos"), suite="libero_object", frac=1.0, tasks=(0,),
                                     chunk=10))


def test_method_pretrains_once_post_trains_and_acts(tmp_path, tiny_demos, monkeypatch):
    """The whole method on synthetic corpus episodes (no simulator): the shared tokenizer and pretrained model
    are trained once and reused by the next cell; the policy returns one action per environment slot."""
    import baselines.being_h0.method as method_mod
    import baselines.being_h0.shared as shared_mod
    from hilam.profiles import get_profile

    fake_lang = lambda texts, cfg: torch.randn(len(texts), 12, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(method_mod, "embed_instructions", fake_lang)
    monkeypatch.setattr(shared_mod, "embed_instructions", fake_lang)
    episodes = [Episode(_images(40, 32)[::2], m, f"task {i % 2}") for i, m in enumerate(smooth_motion(3, 40))]
    monkeypatch.setattr(shared_mod, "load_episodes", lambda video, root: episodes)
    monkeypatch.setattr(shared_mod, "trajectory_dir", lambda video, root: tmp_path / "traj")

    from hilam.methods import CellContext

    profile = get_profile("smoke")
    m = method_mod.BeingH0Method(profile, tiny_demos.instructions)
    m.place(CellContext(runs=str(tmp_path)))
    train = m.fit(tiny_demos, tmp_path / "run", seed=0)
    assert train["steps"] == profile.train.steps and train["pretrain"]["steps"] == 20
    d = m.describe()
    assert d["action_chunk"] == 16 and d["parameters"] > 0 and d["being_h0"]["tokenizer"]["downsample"] == 4
    assert d["motion"]["tokenizer"]["reconstruction_error"]["position_mm_mean"] >= 0
    shared = sorted(p.name for p in (tmp_path / "shared").iterdir())
    assert [n.split("-")[0] for n in shared] == ["being_h0", "being_h0"]
    policy = m.policy()
    obs = [{"agentview_rgb": _images(1, 128)[0], "eye_in_hand_rgb": _images(1, 128)[0], "joint_states": np.zeros(7),
            "gripper_states": np.zeros(2), "language": tiny_demos.instructions[0]} for _ in range(2)]
    for s in (0, 1):
        policy.reset(s)
    a = policy.act(obs, [0, 1])
    assert a.shape == (2, 7) and np.abs(a).max() <= 1
    # a second cell (another seed) reuses the shared stages: nothing new is trained there
    m2 = method_mod.BeingH0Method(profile, tiny_demos.instructions)
    m2.place(CellContext(runs=str(tmp_path)))
    m2.fit(tiny_demos, tmp_path / "run2", seed=1)
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == shared
    assert m2.describe()["motion"]["pretrain"]["steps"] == 20


def test_ablations_change_only_their_fields(tiny_demos):
    from hilam.methods import configure

    base, flat, nopre = (configure(name, "smoke").cfg for name in ("being_h0", "being_h0_flatvq", "being_h0_nopretrain"))
    assert base == preset("smoke") and base.part_level and base.tokenizer.groups == 2
    assert not flat.part_level and (flat.tokenizer.groups, flat.tokenizer.residual_layers) == (1, 1)
    assert flat.tokenizer.window == base.tokenizer.window and not nopre.pretrain and nopre.tokenizer == base.tokenizer


def test_smoke_cell_on_the_simulator(tmp_path, object_demos):
    """Demos, corpus rendering, trajectory replay, tokenizer, pretraining, post-training and evaluation on the real
    simulator, through the benchmark cell."""
    from hilam import bench

    cell = bench.CellConfig(suite="object", method="being_h0", frac=0.5, seed=0, profile="smoke", workers=1,
                            data=str(object_demos), video=str(tmp_path / "video"), runs=str(tmp_path / "runs"),
                            results=str(tmp_path / "results"), tasks=(3,), demos_per_task=2,
                            # instruction embeddings are cached under tmp, not data/
                            overrides={"language.cache_dir": str(tmp_path / "language")})
    r = bench.run_cell(cell)
    assert r["episodes"] == 1 and 0.0 <= r["success_rate"] <= 1.0
    # the settings changed by name are recorded, name the cell apart and are in its command
    assert r["overrides"] == {"language.cache_dir": str(tmp_path / "language")} and r["variant"] is None
    assert cell.path().stem.startswith("frac0.5-seed0-smoke-pool2-fast-set") and cell.path().exists()
    assert r["command"].endswith(f"--set language.cache_dir={tmp_path / 'language'}")
    motion = r["method_config"]["motion"]
    assert motion["corpus"]["episodes"] == 1 and motion["tokenizer"]["steps"] == 20
    assert r["train"]["pretrain"]["steps"] == 20 and r["train"]["steps"] == 30
