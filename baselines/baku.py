"""Flat BAKU as a method of the harness: the BAKU network, MSE on action chunks, temporal ensembling."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hilam.data.dataset import DemoDataset
from hilam.data.schema import IMAGE_KEYS
from hilam.methods import Method
from hilam.models.baku import Baku
from hilam.models.language import embed_instructions, encoder_id
from hilam.policy_io import ChunkPolicy, Normalizer, images_to_tensor
from hilam.train import train


class BakuObjective(nn.Module):
    """BAKU plus what it needs around it: instruction embeddings, proprio statistics, the chunk loss."""

    def __init__(self, model: Baku, lang_table: torch.Tensor, proprio_mean: np.ndarray, proprio_std: np.ndarray):
        super().__init__()
        self.model = model
        self.register_buffer("lang_table", lang_table.float())
        self.norm = Normalizer(proprio_mean, proprio_std)

    def predict(self, batch: dict) -> torch.Tensor:
        dev = self.lang_table.device
        images = {k: images_to_tensor(batch[k], dev) for k in IMAGE_KEYS}
        lang = self.lang_table[torch.as_tensor(batch["task"], device=dev)]
        return self.model(images, self.norm(batch["proprio"]), lang)

    def forward(self, batch: dict) -> torch.Tensor:
        pred = self.predict(batch)
        dev = pred.device
        return self.model.head.loss(pred, torch.as_tensor(batch["actions"], device=dev),
                                    torch.as_tensor(batch["action_mask"], device=dev).float())


class BakuMethod(Method):
    name = "baku"

    def __init__(self, profile, instructions):
        super().__init__(profile, instructions)
        self.lang = embed_instructions(instructions, profile.language)
        self.objective: BakuObjective | None = None

    def build(self, data: DemoDataset) -> BakuObjective:
        cfg = self.profile.baku
        cfg.lang_dim = self.lang.shape[1]
        stats = data.stats()
        return BakuObjective(Baku(cfg), self.lang, stats["proprio_mean"], stats["proprio_std"])

    def fit(self, data: DemoDataset, out_dir: Path, seed: int) -> dict:
        torch.manual_seed(seed)
        self.objective = self.build(data)
        summary = train(self.objective, data, self.profile.train.__class__(**{**asdict(self.profile.train), "seed": seed}),
                        out_dir, extra_state={"method": self.name})
        self.objective.eval()
        return {k: summary[k] for k in ("steps", "seconds", "samples_per_s", "final_loss")}

    def policy(self) -> ChunkPolicy:
        obj = self.objective

        @torch.no_grad()
        def predict(batch: dict) -> np.ndarray:
            return obj.predict(batch).float().cpu().numpy()

        return ChunkPolicy(predict, self.instructions, self.profile.image_size, self.profile.baku.head.chunk)

    def describe(self) -> dict:
        n = sum(p.numel() for p in self.objective.model.parameters()) if self.objective else None
        return {"model": asdict(self.profile.baku), "parameters": n, "language_encoder": encoder_id(self.profile.language)}
