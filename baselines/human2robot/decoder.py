"""Human2Robot's action decoder: tokens from one VPM denoising step (or, in the no-VPM ablation, from the
demonstration frames themselves) plus proprio -> a small causal transformer -> an action chunk (MSE)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from baselines.human2robot.config import DecoderConfig, VPMConfig
from baselines.human2robot.data import to_unit
from baselines.human2robot.diffusion import DDPM
from baselines.human2robot.vpm import VideoPredictionModel
from hilam.models.baku import mlp
from hilam.models.film_resnet import FiLMResNetEncoder
from hilam.models.gpt import GPT
from hilam.models.heads import build_head
from hilam.policy_io import Normalizer, images_to_tensor


class VPMFeatures(nn.Module):
    """The frozen VPM's up-block features from ONE denoising step - the first step of sampling: pure noise at
    `feature_timestep`, conditioned on the current frame and the demonstration clip - average-pooled to
    pool x pool per frame and level, one token each (LayerNorm + Linear per level)."""

    def __init__(self, vpm: VideoPredictionModel, ddpm: DDPM, vcfg: VPMConfig, dcfg: DecoderConfig):
        super().__init__()
        self.vpm, self.ddpm, self.vcfg = vpm.requires_grad_(False), ddpm, vcfg
        self.t = vcfg.feature_timestep if vcfg.feature_timestep >= 0 else vcfg.diffusion_steps - 1
        self.pool = nn.AdaptiveAvgPool2d(dcfg.pool)
        # LayerNorm first: the frozen VPM's feature scale is arbitrary (tiny for a random one)
        self.proj = nn.ModuleList(nn.Sequential(nn.LayerNorm(c), nn.Linear(c, dcfg.gpt.n_embd))
                                  for c in vpm.up_channels())
        self.n_tokens = len(vcfg.widths) * vcfg.horizon * dcfg.pool ** 2

    @torch.no_grad()
    def maps(self, batch: dict) -> list[torch.Tensor]:
        """The raw up-block feature maps, coarsest first, each (B, F, C, h, w)."""
        dev = self.ddpm.alpha_bar.device
        frame = to_unit(batch["frame"], dev)
        b, s = len(frame), self.vcfg.frame_size
        noise = torch.randn(b, self.vcfg.horizon, 3, s, s, device=dev)
        t = torch.full((b,), self.t, device=dev, dtype=torch.long)
        return self.vpm(noise, t, frame, to_unit(batch["demo"], dev), features=True)[1]

    @torch.no_grad()
    def pooled(self, batch: dict) -> list[torch.Tensor]:
        """Per level (coarsest first): the pooled maps as tokens, (B, F * pool^2, C) - parameter-free, so cacheable."""
        out = []
        for fmap in self.maps(batch):
            b = fmap.shape[0]
            pooled = self.pool(fmap.flatten(0, 1)).flatten(2).transpose(1, 2)  # (B*F, pool^2, C)
            out.append(pooled.reshape(b, -1, pooled.shape[-1]))
        return out

    def forward(self, batch: dict) -> torch.Tensor:
        """(B, n_tokens, n_embd); uses the batch's precomputed "pooled" features when a cache supplies them."""
        dev = self.ddpm.alpha_bar.device
        levels = batch["pooled"] if "pooled" in batch else self.pooled(batch)
        return torch.cat([proj(torch.as_tensor(x, device=dev).float()) for x, proj in zip(levels, self.proj)], dim=1)


class DemoVideoFeatures(nn.Module):
    """No-VPM ablation: a trainable FiLM-ResNet (BAKU's encoder; FiLM unused) encodes the current frame and every
    demonstration frame into one token each."""

    def __init__(self, vcfg: VPMConfig, dcfg: DecoderConfig):
        super().__init__()
        self.encoder = FiLMResNetEncoder(replace(dcfg.encoder, cond_dim=1, out_dim=dcfg.gpt.n_embd))
        self.n_tokens = vcfg.horizon + 1

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.encoder.mean.device
        frames = np.concatenate([batch["frame"][:, None], batch["demo"]], axis=1)  # (B, 1 + F, h, w, 3)
        b, n = frames.shape[:2]
        x = images_to_tensor(frames.reshape(b * n, *frames.shape[2:]), dev)
        return self.encoder(x, x.new_zeros(b * n, 1)).view(b, n, -1)


class ActionDecoder(nn.Module):
    """[feature tokens..., proprio, ACTION] -> GPT trunk -> action chunk read out at the ACTION token."""

    def __init__(self, features: VPMFeatures | DemoVideoFeatures, cfg: DecoderConfig, proprio_mean: np.ndarray,
                 proprio_std: np.ndarray):
        super().__init__()
        d = cfg.gpt.n_embd
        if features.n_tokens + 2 > cfg.gpt.block_size:
            raise ValueError(f"decoder block_size {cfg.gpt.block_size} < {features.n_tokens} feature tokens + 2")
        self.features = features
        self.norm = Normalizer(proprio_mean, proprio_std)
        self.proprio = mlp(len(proprio_mean), d, d)
        self.action_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.trunk = GPT(cfg.gpt)
        self.head = build_head(d, cfg.head)

    def predict(self, batch: dict) -> torch.Tensor:
        tokens = self.features(batch)
        prop = self.proprio(self.norm(batch["proprio"]))[:, None]
        act = self.action_token.expand(len(tokens), -1, -1)
        return self.head(self.trunk(torch.cat([tokens, prop, act], dim=1))[:, -1])

    def forward(self, batch: dict) -> torch.Tensor:
        pred = self.predict(batch)
        return self.head.loss(pred, torch.as_tensor(batch["actions"], device=pred.device),
                              torch.as_tensor(batch["action_mask"], device=pred.device).float())
