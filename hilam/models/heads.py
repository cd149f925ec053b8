"""Heads read out at a trunk's action token, chosen by name (`HeadConfig.kind`) from a registry, and BAKU's
temporal ensembling at evaluation.

A head maps features (B, in_dim) to a chunk (B, chunk, action_dim) and scores it against targets with `loss(pred,
target, mask)`. A new head (a GMM, a diffusion head) is one class registered with `@register_head("name")`; a
profile or method then picks it with `baku.head.kind=name` (`--set`), with no other change.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn


@dataclass
class HeadConfig:
    hidden: int = 256
    layers: int = 2  # hidden layers of the MLP
    chunk: int = 10  # actions predicted per query
    action_dim: int = 7
    tanh: bool = True  # actions live in [-1, 1]; standardised latent targets do not
    loss: str = "mse"  # "mse" (BAKU) or "l1" (Being-H0's action regression)
    # the registered head class (HEADS); added after configs holding it were keyed: keyed only when not the default
    kind: str = field(default="deterministic", metadata={"hash": "unless_default"})


HEADS: dict[str, type[nn.Module]] = {}


def register_head(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make a head buildable as `HeadConfig(kind=name)`; its constructor takes (in_dim, cfg)."""
    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in HEADS:
            raise ValueError(f"head kind {name!r} is registered twice ({HEADS[name].__name__}, {cls.__name__})")
        HEADS[name] = cls
        return cls
    return add


def build_head(in_dim: int, cfg: HeadConfig) -> nn.Module:
    """The head `cfg.kind` names, reading `in_dim` features; an unknown kind is refused with the registered ones."""
    if cfg.kind not in HEADS:
        raise ValueError(f"unknown head kind {cfg.kind!r}; registered: {', '.join(HEADS)}")
    return HEADS[cfg.kind](in_dim, cfg)


@register_head("deterministic")
class DeterministicHead(nn.Module):
    """MLP -> (B, chunk, action_dim), squashed to [-1, 1] by tanh for actions; MSE as in BAKU, or L1."""

    def __init__(self, in_dim: int, cfg: HeadConfig):
        super().__init__()
        if cfg.loss not in ("mse", "l1"):
            raise ValueError(f"head loss must be 'mse' or 'l1', got {cfg.loss!r}")
        layers, d = [], in_dim
        for _ in range(cfg.layers):
            layers += [nn.Linear(d, cfg.hidden), nn.ReLU()]
            d = cfg.hidden
        self.net = nn.Sequential(*layers, nn.Linear(d, cfg.chunk * cfg.action_dim))
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x).view(-1, self.cfg.chunk, self.cfg.action_dim)
        return torch.tanh(y) if self.cfg.tanh else y

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean error over the valid (not padded past the episode end) steps of each chunk."""
        diff = pred - target
        err = (diff.abs() if self.cfg.loss == "l1" else diff ** 2).mean(-1)
        return (err * mask).sum() / mask.sum().clamp(min=1)


@register_head("latent")
class LatentHead(DeterministicHead):
    """HiLAM's regression of a standardised latent (pi^h's skill, pi^l's latent action while pretraining): the
    deterministic MLP without squashing, since standardised targets are not bounded."""

    def __init__(self, in_dim: int, cfg: HeadConfig):
        super().__init__(in_dim, replace(cfg, tanh=False))


class TemporalEnsemble:
    """Average every chunk's prediction for the current step, weight exp(-k * i) with i = 0 the oldest. Action
    dimensions in `newest_dims` instead take the newest chunk's first action: a decision from the current observation
    alone rather than a vote of chunks predicted up to `chunk` - 1 steps ago (a diagnostic: for the libero_10 state
    policy's gripper it is far worse than the vote, docs/results.md)."""

    def __init__(self, chunk: int, k: float = 0.01, newest_dims: tuple[int, ...] = ()):
        self.chunk, self.k, self.newest_dims = chunk, k, list(newest_dims)
        self.history: list[np.ndarray] = []  # chunks predicted at the last `chunk` steps, oldest first

    def reset(self) -> None:
        self.history = []

    def __call__(self, chunk_pred: np.ndarray) -> np.ndarray:
        self.history = (self.history + [np.asarray(chunk_pred)])[-self.chunk:]
        n = len(self.history)
        preds = np.stack([c[n - 1 - j] for j, c in enumerate(self.history)])  # oldest chunk first
        w = np.exp(-self.k * np.arange(n))
        out = (w[:, None] * preds).sum(0) / w.sum()
        out[self.newest_dims] = preds[-1][self.newest_dims]
        return out
