"""Latent action model (IDM/FDM): shapes, exact-resume batches, and the loss falls on tiny data."""
import numpy as np
import torch

from hilam.data.video import Clip
from hilam.method.config import LAM_VARIANTS, LatentActionConfig
from hilam.method.latent_actions import FrameStore, LatentActionObjective, label_clip
from tests.helpers import adam_steps

CFG = LatentActionConfig(image_size=16, patch=4, width=32, heads=2, idm_layers=1, fdm_layers=1, latent_dim=4,
                         gap_min=2, gap_max=6)


def moving_square_clips(n: int, T: int = 12, size: int = 16) -> list[Clip]:
    """A bright square that moves by a random velocity per clip: the change is what z must carry."""
    rng = np.random.default_rng(0)
    clips = []
    for _ in range(n):
        pos, vel = rng.integers(2, 10, 2), rng.integers(-1, 2, 2)
        frames = np.zeros((T, size, size, 3), np.uint8)
        for t in range(T):
            y, x = np.clip(pos + vel * t, 0, size - 4)
            frames[t, y:y + 4, x:x + 4] = 255
        clips.append(Clip(frames, "", "synthetic"))
    return clips


def test_frame_pairs_stay_inside_their_clip_and_are_seeded_by_index():
    store = FrameStore(moving_square_clips(3))
    obj = LatentActionObjective(CFG, store, stride=1)
    idx = np.arange(len(store))
    later = store.later(idx, 100)
    assert np.array_equal(later, store.last[idx]) and np.all(store.last[idx] >= idx)
    a, b = obj.pair_batch(idx[:8]), obj.pair_batch(idx[:8])
    assert np.array_equal(a["later"], b["later"])


def test_latent_action_loss_falls_on_tiny_data():
    torch.manual_seed(0)
    store = FrameStore(moving_square_clips(8))
    obj = LatentActionObjective(CFG, store, stride=1)
    rng = np.random.default_rng(0)
    losses = adam_steps(obj.parameters(), lambda: obj(obj.pair_batch(rng.integers(0, len(store), 16))), 120)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    z = label_clip(obj.idm, store.frames[:12], gap_frames=3)
    assert z.shape == (12, CFG.latent_dim) and np.isfinite(z).all()


def test_gap_actions_sum_the_next_steps_and_stop_at_the_demo_end():
    from benchmarks.corpus_size import gap_actions

    actions = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 7), np.float32)
    out = gap_actions(actions, np.array([0, 4, 8]), gap=3)
    assert np.allclose(out[:, 0], [0 + 1 + 2, 4 + 5 + 6, 8 + 9])


def test_action_probe_scores_a_linear_code_high_and_noise_near_zero():
    from benchmarks.corpus_size import probe

    rng = np.random.default_rng(0)
    code = rng.normal(size=(7, 16))  # one linear code shared by the probe's demos and the scored ones

    def demos(n: int) -> list[dict]:
        y = rng.normal(size=(n, 7))
        return [{"y": y, "z": y @ code + 0.01 * rng.normal(size=(n, 16)),
                 "noise": rng.normal(size=(n, 16))}]

    fit, test = demos(400), demos(200)
    assert probe(fit, test, "z")["linear"]["all"] > 0.95
    assert probe(fit, test, "noise")["linear"]["all"] < 0.1


def test_corpus_size_lam_variants_label_and_reconstruct_at_their_image_size():
    from dataclasses import replace

    from hilam.method.config import preset

    base = preset("cpu").shared.lam
    store = FrameStore(moving_square_clips(1))
    for name, overrides in LAM_VARIANTS.items():  # each variant's geometry, at a tiny width
        cfg = replace(replace(base, **overrides), width=16, heads=2, idm_layers=1, fdm_layers=1)
        obj = LatentActionObjective(cfg, store, stride=1)
        frames = torch.rand(2, 3, cfg.image_size, cfg.image_size)
        z = obj.idm(frames, frames)
        assert z.shape == (2, cfg.latent_dim), name
        assert obj.fdm(frames, z).shape == frames.shape, name


def test_hilam_widelam_trains_the_wide_idm_and_leaves_the_profile_unchanged():
    from dataclasses import replace

    from hilam.method.config import preset
    from hilam.methods import build_method

    base = preset("cpu").shared.lam
    wide = build_method("hilam_widelam", "cpu", ["a task"]).cfg.shared.lam
    assert wide == replace(base, **LAM_VARIANTS["wide"]) and wide.width != base.width
    assert build_method("hilam", "cpu", ["a task"]).cfg.shared.lam == base and preset("cpu").shared.lam == base
