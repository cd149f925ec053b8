"""Training objectives shared by the BAKU-style policies: a Baku network conditioned on a vector per
sample (an instruction embedding for flat BAKU, a latent skill for HiLAM's pi^l), trained with MSE on
action chunks."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hilam.data.schema import IMAGE_KEYS
from hilam.models.baku import Baku
from hilam.policy_io import Normalizer, images_to_tensor


class ActionChunkObjective(nn.Module):
    """Baku(images, proprio, condition) -> action chunk. The condition is `lang_table[task]` when a table is
    given (flat BAKU), else the batch's "skill" vectors (HiLAM's pi^l)."""

    def __init__(self, model: Baku, proprio_mean: np.ndarray, proprio_std: np.ndarray,
                 lang_table: torch.Tensor | None = None):
        super().__init__()
        self.model = model
        self.norm = Normalizer(proprio_mean, proprio_std)
        self.register_buffer("lang_table", None if lang_table is None else lang_table.float())

    def condition(self, batch: dict) -> torch.Tensor:
        dev = self.norm.mean.device
        if self.lang_table is not None:
            return self.lang_table[torch.as_tensor(batch["task"], device=dev)]
        return torch.as_tensor(batch["skill"], dtype=torch.float32, device=dev)

    def predict(self, batch: dict) -> torch.Tensor:
        dev = self.norm.mean.device
        images = {k: images_to_tensor(batch[k], dev) for k in IMAGE_KEYS}
        return self.model(images, self.norm(batch["proprio"]), self.condition(batch))

    def forward(self, batch: dict) -> torch.Tensor:
        pred = self.predict(batch)
        dev = pred.device
        return self.model.head.loss(pred, torch.as_tensor(batch["actions"], device=dev),
                                    torch.as_tensor(batch["action_mask"], device=dev).float())
