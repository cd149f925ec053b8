"""Small helpers shared by tests."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch


def adam_steps(params: Iterable[torch.nn.Parameter], loss_fn: Callable[[], torch.Tensor], steps: int,
               lr: float = 3e-3) -> list[float]:
    """Minimise `loss_fn()` with Adam for `steps` steps; returns the loss of every step."""
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses
