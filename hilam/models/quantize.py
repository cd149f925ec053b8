"""Vector quantisation shared by the tokenizers (Being-H0's motion tokens, HMA's image tokens): a nearest-code
quantiser whose codebook follows its assignments by EMA, with dead codes restarted from the batch (no
collapse onto a few codes), and a code-usage report."""
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


def code_usage(codes: torch.Tensor, size: int) -> dict[str, float]:
    """How many of the `size` codes each quantiser uses in a batch of codes (N, quantisers...), and their
    perplexity (1 = collapse onto one code, `size` = uniform use); the minimum over quantisers."""
    used, ppl = [], []
    for row in codes.reshape(len(codes), -1).t():  # one row per quantiser
        p = torch.bincount(row, minlength=size).float() / len(row)
        used.append(int((p > 0).sum()))
        ppl.append(float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum())))
    return {"codes_used_min": min(used), "perplexity_min": min(ppl), "codebook_size": size}
