"""Training objectives shared by the BAKU-style policies: a Baku network conditioned on a vector per
sample (an instruction embedding for flat BAKU, a latent skill for HiLAM's pi^l), trained with MSE on
action chunks. The network reads what its config has: cameras, proprio, privileged state."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hilam.models.baku import Baku
from hilam.policy_io import Normalizer, TaskNormalizer, images_to_tensor, instruction_rows


class ActionChunkObjective(nn.Module):
    """Baku(images, proprio, condition) -> action chunk. The condition is `lang_table[task]` when a table is
    given (flat BAKU), else the batch's "skill" vectors (HiLAM's pi^l)."""

    def __init__(self, model: Baku, proprio_mean: np.ndarray | None, proprio_std: np.ndarray | None,
                 lang_table: torch.Tensor | None = None, state_mean: np.ndarray | None = None,
                 state_std: np.ndarray | None = None, state_keep: np.ndarray | None = None):
        """Proprio statistics when the model reads proprio; per-task state statistics (tasks, width) when it reads
        the state (`DemoDataset.stats`), and which state features it reads (`DemoDataset.state_mask`; None = all);
        all are kept in the checkpoint."""
        super().__init__()
        self.model = model
        if model.cfg.proprio_dim:
            self.norm = Normalizer(proprio_mean, proprio_std)
        if model.cfg.state_dim:
            self.state_norm = TaskNormalizer(state_mean, state_std, keep=state_keep)
        self.register_buffer("lang_table", None if lang_table is None else lang_table.float())

    @property
    def device(self) -> torch.device:
        return self.model.action_token.device

    def condition(self, batch: dict) -> torch.Tensor:
        dev = self.device
        if self.lang_table is not None:  # (an instruction first met at evaluation: its embedding, from the policy)
            return instruction_rows(self.lang_table, batch["task"], batch.get("lang_new"))
        return torch.as_tensor(batch["skill"], dtype=torch.float32, device=dev)

    def predict(self, batch: dict) -> torch.Tensor:
        cfg, dev = self.model.cfg, self.device
        images = {k: images_to_tensor(batch[k], dev) for k in cfg.cameras}
        proprio = self.norm(batch["proprio"]) if cfg.proprio_dim else None
        state = self.state_norm(batch["state"], batch["task"]) if cfg.state_dim else None
        return self.model(images, proprio, self.condition(batch), state)

    def forward(self, batch: dict) -> torch.Tensor:
        pred = self.predict(batch)
        dev = pred.device
        return self.model.head.loss(pred, torch.as_tensor(batch["actions"], device=dev),
                                    torch.as_tensor(batch["action_mask"], device=dev).float())
