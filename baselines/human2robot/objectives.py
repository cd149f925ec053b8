"""The VPM's pretraining loss: DDPM epsilon-prediction MSE on the next robot frames."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines.human2robot.data import to_unit
from baselines.human2robot.diffusion import DDPM
from baselines.human2robot.vpm import VideoPredictionModel


class VideoPredictionObjective(nn.Module):
    """forward(batch) -> MSE between the true and predicted noise of the noised future clip."""

    def __init__(self, vpm: VideoPredictionModel, ddpm: DDPM):
        super().__init__()
        self.vpm, self.ddpm = vpm, ddpm

    def loss(self, batch: dict, t: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """The loss at given (or random) timesteps and noise; fixed ones make a deterministic evaluation."""
        dev = self.ddpm.alpha_bar.device
        x0 = to_unit(batch["future"], dev)
        t = self.ddpm.sample_t(len(x0), dev) if t is None else t
        noise = torch.randn_like(x0) if noise is None else noise
        pred = self.vpm(self.ddpm.add_noise(x0, noise, t), t, to_unit(batch["frame"], dev), to_unit(batch["demo"], dev))
        return F.mse_loss(pred, noise)

    def forward(self, batch: dict) -> torch.Tensor:
        return self.loss(batch)
