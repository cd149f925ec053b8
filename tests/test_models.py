"""BAKU's blocks: shapes, gradient flow, FiLM conditioning on language, temporal ensembling math."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from hilam.models.augment import random_shift
from hilam.models.baku import Baku, BakuConfig
from hilam.models.film_resnet import EncoderConfig
from hilam.models.gpt import GPTConfig
from hilam.models.heads import HeadConfig, TemporalEnsemble


def tiny() -> Baku:
    torch.manual_seed(0)
    return Baku(BakuConfig(image_size=32, lang_dim=16, repr_dim=32,
                           encoder=EncoderConfig(widths=(8, 16), groups=4, keypoints=8),
                           gpt=GPTConfig(n_layer=2, n_head=2, n_embd=32, dropout=0.0),
                           head=HeadConfig(hidden=32, chunk=5)))


def batch(b=3, lang=None):
    g = torch.Generator().manual_seed(1)
    return ({k: torch.rand(b, 3, 32, 32, generator=g) for k in ("agentview_rgb", "eye_in_hand_rgb")},
            torch.randn(b, 9, generator=g), torch.randn(b, 16, generator=g) if lang is None else lang)


def test_shapes_and_every_parameter_gets_gradient():
    m = tiny()
    out = m(*batch())
    assert out.shape == (3, 5, 7) and out.abs().max() <= 1
    out.pow(2).sum().backward()
    dead = [n for n, p in m.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    # FiLM projections start at zero but still receive gradient; only the stand-ins for absent inputs are unused
    assert dead == ["absent"], dead


def test_absent_inputs_use_learned_stand_ins_in_the_same_layout():
    m = tiny()
    images, proprio, lang = batch()
    full = m.tokens(images, proprio, lang)
    partial = m.tokens({"agentview_rgb": images["agentview_rgb"]}, None, lang)
    assert partial.shape == full.shape
    assert torch.allclose(partial[:, :2], full[:, :2])  # language and agentview tokens unchanged
    assert torch.allclose(partial[:, 2], m.absent[1].expand(3, -1)) and torch.allclose(partial[:, 3], m.absent[2].expand(3, -1))
    m.head(m.features(partial)).pow(2).sum().backward()
    assert m.absent.grad[1:].abs().sum() > 0 and m.absent.grad[0].abs().sum() == 0


def test_film_conditions_images_on_language():
    m = tiny()
    for film in m.image.films:  # leave the zero init so FiLM actually acts
        torch.nn.init.normal_(film.proj.weight, std=0.5)
    images, proprio, _ = batch(1)
    l1, l2 = torch.randn(1, 16), torch.randn(1, 16)
    f1 = m.image(images["agentview_rgb"], m.lang(l1))
    f2 = m.image(images["agentview_rgb"], m.lang(l2))
    assert not torch.allclose(f1, f2, atol=1e-4)


def test_temporal_ensemble_weights_oldest_most():
    te = TemporalEnsemble(chunk=3, k=0.5)
    c0 = np.array([[0.0], [1.0], [2.0]])
    c1 = np.array([[10.0], [11.0], [12.0]])
    np.testing.assert_allclose(te(c0), [0.0])
    w = np.exp(-0.5 * np.arange(2))  # step 1: c0's 2nd prediction (oldest, weight 1) and c1's 1st
    np.testing.assert_allclose(te(c1), [(w[0] * 1.0 + w[1] * 10.0) / w.sum()])
    c2 = np.array([[20.0], [21.0], [22.0]])
    w = np.exp(-0.5 * np.arange(3))
    np.testing.assert_allclose(te(c2), [(w[0] * 2.0 + w[1] * 11.0 + w[2] * 20.0) / w.sum()])
    te(np.zeros((3, 1)))  # c0 drops out of the window after `chunk` steps
    assert len(te.history) == 3
    te.reset()
    np.testing.assert_allclose(te(c1), [10.0])


def test_temporal_ensemble_takes_newest_dims_from_the_newest_chunk():
    """The gripper (dim 1 here) from the newest chunk's first action, the arm (dim 0) averaged as before."""
    te, plain = TemporalEnsemble(chunk=3, k=0.0, newest_dims=(1,)), TemporalEnsemble(chunk=3, k=0.0)
    c0 = np.array([[0.0, -1.0], [1.0, 1.0], [2.0, 1.0]])  # the old chunk expects to close in one step ...
    c1 = np.array([[3.0, -1.0], [4.0, -1.0], [5.0, 1.0]])  # ... the new one, seeing the gripper still high, does not
    for e in (te, plain):
        e(c0)
    np.testing.assert_allclose(plain(c1), [2.0, 0.0])
    np.testing.assert_allclose(te(c1), [2.0, -1.0])


def test_head_loss_is_mse_or_l1_over_valid_steps_only():
    from hilam.models.heads import DeterministicHead

    pred = torch.tensor([[[0.5, -0.5], [0.0, 0.0]]])  # (B=1, chunk=2, action_dim=2)
    target = torch.tensor([[[0.0, 0.5], [9.0, 9.0]]])  # second step is padding past the episode end
    mask = torch.tensor([[1.0, 0.0]])
    losses = {kind: float(DeterministicHead(4, HeadConfig(hidden=4, chunk=2, action_dim=2, loss=kind))
                          .loss(pred, target, mask)) for kind in ("mse", "l1")}
    assert losses == {"mse": (0.25 + 1.0) / 2, "l1": (0.5 + 1.0) / 2}
    try:
        DeterministicHead(4, HeadConfig(loss="huber"))
    except ValueError as e:
        assert "huber" in str(e)
    else:
        raise AssertionError("an unknown loss must be refused")


def test_baku_l1_changes_only_the_loss_and_leaves_the_profile_unchanged():
    from dataclasses import replace

    from hilam.methods import configure
    from hilam.profiles import get_profile

    profile = get_profile("smoke")
    l1 = configure("baku_l1", "smoke").profile.baku
    assert l1 == replace(profile.baku, head=replace(profile.baku.head, loss="l1"))
    assert configure("baku", "smoke").profile.baku.head.loss == "mse" == get_profile("smoke").baku.head.loss


def test_random_shift_moves_whole_images_by_at_most_pad_and_only_while_training():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 16, 16)
    y = random_shift(x, 2)
    assert y.shape == x.shape
    # every sample is its image moved by one offset in [-2, 2]^2 (interior pixels compare exactly)
    offsets = []
    for a, b in zip(x, y):
        hits = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                if torch.equal(b[:, 2:-2, 2:-2], a[:, 2 + dy:14 + dy, 2 + dx:14 + dx])]
        assert len(hits) == 1
        offsets.append(hits[0])
    assert len(set(offsets)) > 10  # offsets differ between samples
    m = Baku(replace(tiny().cfg, shift_pad=2))
    images, proprio, lang = batch()
    m.eval()
    assert torch.equal(m(images, proprio, lang), m(images, proprio, lang))  # evaluation sees the true images
    m.train()
    m.trunk.eval()  # no dropout: only the augmentation can make two calls differ
    assert not torch.allclose(m(images, proprio, lang), m(images, proprio, lang))
