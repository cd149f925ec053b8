"""H-Net dynamic chunking: ratio loss, boundaries, dechunking, gradients, variable-length batches."""
import numpy as np
import pytest
import torch

from hilam.method.config import HNetConfig
from hilam.method.hnet import HNet, Router, chunk, chunk_index, dechunk, level_boundaries, level_vectors, ratio_loss

CFG = HNetConfig(width=16, heads=2, encoder_layers=1, decoder_layers=1, main_layers=1)


def test_ratio_loss_is_minimal_at_one_over_n():
    n, T = 3.0, 300
    mask = torch.ones(1, T, dtype=torch.bool)

    def loss(f: float, g: float) -> float:
        b = torch.zeros(1, T, dtype=torch.bool)
        b[0, : int(round(f * T))] = True
        return float(ratio_loss(torch.full((1, T), g), b, mask, n))

    # along F = G (the router's hard and soft rates agree) the minimum is at 1/N, where the loss is 1
    grid = np.arange(1, T + 1) / T
    values = [loss(f, f) for f in grid]
    assert grid[int(np.argmin(values))] == pytest.approx(1 / n, abs=1.5 / T)
    assert min(values) == pytest.approx(1.0, abs=1e-3)
    # off the target, the gradient on G pushes the soft rate towards 1/N: it rewards G where F < 1/N
    assert loss(0.1, 0.2) < loss(0.1, 0.1) and loss(0.6, 0.5) < loss(0.6, 0.6)


def test_router_first_position_is_a_boundary_and_chunks_cover_the_sequence():
    torch.manual_seed(0)
    h = torch.randn(3, 20, 16)
    mask = torch.ones(3, 20, dtype=torch.bool)
    mask[1, 12:] = False
    p, b = Router(16)(h, mask)
    assert b[:, 0].all() and not b[1, 12:].any()
    kept, kept_mask, order = chunk(h, b)
    for r in range(3):
        pos = order[r][kept_mask[r]]
        assert torch.equal(pos, torch.nonzero(b[r]).flatten())  # boundaries, in order
        idx = chunk_index(b[r:r + 1])[0][mask[r]]
        assert idx[0] == 0 and torch.all(torch.diff(idx) >= 0) and idx[-1] == kept_mask[r].sum() - 1
        assert torch.all(torch.diff(idx) <= 1)  # every chunk is a contiguous span


def test_router_starts_as_identity_cosine():
    h = torch.randn(1, 5, 16)
    p, _ = Router(16)(h, torch.ones(1, 5, dtype=torch.bool))
    cos = torch.nn.functional.cosine_similarity(h[0, :-1], h[0, 1:], dim=-1)
    assert torch.allclose(p[0, 1:], (1 - cos) / 2, atol=1e-6)


def test_dechunk_of_constant_chunks_reproduces_them():
    b = torch.tensor([[1, 0, 0, 1, 0, 1, 0, 0, 0, 1]], dtype=torch.bool)
    p = torch.where(b, torch.full(b.shape, 0.9), torch.full(b.shape, 0.2))
    p[0, 0] = 1.0
    _, _, order = chunk(torch.zeros(1, 10, 4), b)
    z = torch.full((1, 4, 4), 2.5)
    out = dechunk(z, p, b, order)
    assert torch.allclose(out, torch.full_like(out, 2.5), atol=1e-3)
    # distinct chunks without smoothing (P = 1) are repeated over their spans
    z = torch.arange(4.0).view(1, 4, 1).expand(1, 4, 4)
    out = dechunk(z, torch.where(b, 1.0, 0.0), b, order)
    assert torch.equal(out[0, :, 0].round(), torch.tensor([0., 0, 0, 1, 1, 2, 2, 2, 2, 3]))


def test_gradient_reaches_router_through_the_straight_through_path():
    torch.manual_seed(0)
    net = HNet(CFG)
    x = torch.randn(2, 24, 16)
    y, info = net(x, torch.ones(2, 24, dtype=torch.bool))
    y.pow(2).mean().backward()  # no ratio loss: the only path to W_q / W_k is STE(c) and the EMA weights
    for stage in (net.net, net.net.inner):
        assert stage.router.q.weight.grad is not None and stage.router.q.weight.grad.abs().sum() > 0


def test_variable_length_batch_matches_single_sequences():
    torch.manual_seed(0)
    net = HNet(CFG).eval()
    lengths = [30, 17, 24]
    seqs = [torch.randn(n, 16) for n in lengths]
    x = torch.zeros(3, 30, 16)
    mask = torch.zeros(3, 30, dtype=torch.bool)
    for r, s in enumerate(seqs):
        x[r, : len(s)], mask[r, : len(s)] = s, True
    with torch.no_grad():
        y, info = net(x, mask)
        for r, s in enumerate(seqs):
            y1, info1 = net(s[None], torch.ones(1, len(s), dtype=torch.bool))
            assert torch.allclose(y[r, : len(s)], y1[0], atol=1e-5)
            for lv in (1, 2):
                assert torch.equal(level_boundaries(info, lv)[r, : len(s)], level_boundaries(info1, lv)[0])
                assert torch.allclose(level_vectors(info, lv)[r, : len(s)], level_vectors(info1, lv)[0], atol=1e-5)


def test_level_boundaries_are_nested_and_vectors_constant_within_chunks():
    torch.manual_seed(1)
    net = HNet(CFG).eval()
    with torch.no_grad():
        _, info = net(torch.randn(1, 60, 16) * 3, torch.ones(1, 60, dtype=torch.bool))
    b1, b2 = level_boundaries(info, 1)[0], level_boundaries(info, 2)[0]
    assert b1[0] and b2[0] and bool((b2 <= b1).all())  # every stage-2 boundary is a stage-1 boundary
    v2 = level_vectors(info, 2)[0].numpy()
    starts = np.flatnonzero(b2.numpy())
    for s, e in zip(starts, list(starts[1:]) + [60]):
        assert np.allclose(v2[s:e], v2[s])
