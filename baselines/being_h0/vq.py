"""Grouped residual vector quantisation (Being-H0's GRQ): the latent's channels are split into groups, each
quantised by a stack of residual quantisers. Codebooks are EMA cluster centres (hilam.models.quantize);
the encoder gets straight-through gradients plus a commitment loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hilam.models.quantize import EMAQuantizer


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
