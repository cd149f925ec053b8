"""Grouped residual vector quantisation (Being-H0's GRQ): the latent's channels are split into groups, each
quantised by a stack of residual quantisers. Codebooks are EMA cluster centres, unused codes restart from
the batch (no collapse onto a few codes), the encoder gets straight-through gradients plus a commitment loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class EMAQuantizer(nn.Module):
    """Nearest-code quantiser of (N, dim) vectors; the codebook follows the assigned vectors by EMA."""

    def __init__(self, dim: int, size: int, decay: float, dead_fraction: float, eps: float = 1e-5):
        super().__init__()
        self.size, self.decay, self.dead_fraction, self.eps = size, decay, dead_fraction, eps
        self.register_buffer("codebook", torch.randn(size, dim) * 0.1)
        self.register_buffer("cluster_size", torch.zeros(size))
        self.register_buffer("embed_sum", torch.zeros(size, dim))
        self.register_buffer("initted", torch.tensor(False))

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """(N, dim) -> (N,) index of the nearest code."""
        c = self.codebook
        d = x.pow(2).sum(1, keepdim=True) - 2 * x @ c.t() + c.pow(2).sum(1)[None]
        return d.argmin(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, dim) float -> (quantised (N, dim), codes (N,)); updates the codebook when training."""
        x = x.float()
        if self.training:
            self._update(x.detach())
        idx = self.assign(x)
        return self.codebook[idx], idx

    @torch.no_grad()
    def _update(self, x: torch.Tensor) -> None:
        mean_count = len(x) / self.size
        if not bool(self.initted):  # codes start on data points, so none starts dead
            self.codebook.copy_(x[torch.randint(0, len(x), (self.size,), device=x.device)])
            self.cluster_size.fill_(mean_count)
            self.embed_sum.copy_(self.codebook * mean_count)
            self.initted.fill_(True)
        onehot = F.one_hot(self.assign(x), self.size).to(x.dtype)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(onehot.t() @ x, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.size * self.eps) * n  # Laplace smoothing
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < self.dead_fraction * mean_count
        if dead.any():  # restart unused codes on random vectors of this batch
            fresh = x[torch.randint(0, len(x), (int(dead.sum()),), device=x.device)]
            self.codebook[dead] = fresh
            self.cluster_size[dead] = mean_count
            self.embed_sum[dead] = fresh * mean_count


class ResidualVQ(nn.Module):
    """`layers` quantisers, each coding what the previous ones left: (N, dim) -> sum of codes, (N, layers)."""

    def __init__(self, dim: int, size: int, layers: int, decay: float, dead_fraction: float):
        super().__init__()
        self.layers = nn.ModuleList(EMAQuantizer(dim, size, decay, dead_fraction) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (quantised, codes, commitment loss averaged over layers)."""
        residual, total, codes, commit = x.float(), torch.zeros_like(x, dtype=torch.float32), [], 0.0
        for q in self.layers:
            qv, idx = q(residual)
            commit = commit + F.mse_loss(residual, qv.detach())
            residual = residual - qv.detach()
            total = total + qv
            codes.append(idx)
        return total, torch.stack(codes, -1), commit / len(self.layers)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, layers) codes -> (N, dim) quantised vectors."""
        return sum(q.codebook[codes[:, i]] for i, q in enumerate(self.layers))


class GroupedResidualVQ(nn.Module):
    """Split (N, groups * dim) into `groups` chunks, each with its own ResidualVQ; codes (N, groups, layers)."""

    def __init__(self, dim: int, groups: int, size: int, layers: int, decay: float, dead_fraction: float):
        super().__init__()
        self.dim = dim
        self.groups = nn.ModuleList(ResidualVQ(dim, size, layers, decay, dead_fraction) for _ in range(groups))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, groups * dim) -> straight-through quantised (N, groups * dim), codes, commitment loss."""
        outs = [g(part) for g, part in zip(self.groups, x.split(self.dim, -1))]
        quant = torch.cat([o[0] for o in outs], -1)
        codes = torch.stack([o[1] for o in outs], 1)
        commit = sum(o[2] for o in outs) / len(outs)
        return x + (quant - x).detach(), codes, commit

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, groups, layers) -> (N, groups * dim)."""
        return torch.cat([g.lookup(codes[:, i]) for i, g in enumerate(self.groups)], -1)


def code_usage(codes: torch.Tensor, size: int) -> dict[str, float]:
    """How many of the `size` codes each quantiser uses in a batch of codes (N, quantisers...), and their
    perplexity (1 = collapse onto one code, `size` = uniform use); the minimum over quantisers."""
    used, ppl = [], []
    for row in codes.reshape(len(codes), -1).t():  # one row per quantiser
        p = torch.bincount(row, minlength=size).float() / len(row)
        used.append(int((p > 0).sum()))
        ppl.append(float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum())))
    return {"codes_used_min": min(used), "perplexity_min": min(ppl), "codebook_size": size}
