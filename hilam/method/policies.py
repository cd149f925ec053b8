"""HiLAM's two policies, pi^h(z^h | o, l) and pi^l(. | o, z^h), both BAKU networks, the batch sources they train
on, and their pretraining objective on action-free video.

z^h enters pi^l where the instruction enters flat BAKU: as the first token and as FiLM conditioning. Video has no
wrist camera or proprio: in pretraining those inputs are pi^l's learned stand-in tokens.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from hilam.data.dataset import DemoDataset
from hilam.method.stages import Labels
from hilam.models.baku import Baku, BakuConfig
from hilam.models.heads import HeadConfig, build_head
from hilam.policy_io import images_to_tensor, instruction_rows

VIDEO_CAMERA = "agentview_rgb"


def skill_per_frame(labels: Labels, level: int) -> np.ndarray:
    """What conditions pi^l at each frame: the latent action (level 0) or the vector of its chunk (levels 1, 2)."""
    return labels.latent if level == 0 else labels.vectors[level]


def per_step(x: np.ndarray, stride: int, length: int) -> np.ndarray:
    """Labels at the corpus stride repeated back to every control step of a demo of `length` steps."""
    return np.repeat(x, stride, axis=0)[:length]


class VideoLabels:
    """Pretraining batches: agentview frames with their instruction index, skill and latent-action labels."""

    def __init__(self, frames: np.ndarray, task: np.ndarray, skill: np.ndarray, latent: np.ndarray):
        self.frames, self.task, self.skill, self.latent = frames, task, skill, latent

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, idx: np.ndarray) -> dict:
        return {VIDEO_CAMERA: self.frames[idx], "task": self.task[idx], "skill": self.skill[idx],
                "latent": self.latent[idx]}


class SkilledDemos:
    """Target demos plus the labelled skill of every step (pi^l's fine-tuning data)."""

    def __init__(self, data: DemoDataset, skill: np.ndarray):
        self.data, self.skill = data, skill

    def __len__(self) -> int:
        return len(self.data)

    def batch(self, idx: np.ndarray) -> dict:
        return self.data.batch(idx) | {"skill": self.skill[idx]}


class HighLevel(nn.Module):
    """pi^h: (agentview, instruction embedding) -> standardised skill z-bar."""

    def __init__(self, net: Baku, lang_table: torch.Tensor, low_language: bool = False):
        super().__init__()
        self.net, self.low_language = net, low_language
        self.register_buffer("lang_table", lang_table.float())

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.lang_table.device
        img = {VIDEO_CAMERA: images_to_tensor(batch[VIDEO_CAMERA], dev)}
        return self.net(img, None, instruction_rows(self.lang_table, batch["task"], batch.get("lang_new")))[:, 0]

    def low_condition(self, skill: torch.Tensor, task, lang_new=None) -> torch.Tensor:
        """What pi^l reads beside the frames: z^h, or [z^h; l] when it also reads the instruction
        (`HilamConfig.low_language`). Pretraining, fine-tuning and evaluation all build it here."""
        if not self.low_language:
            return skill
        lang = instruction_rows(self.lang_table, task, lang_new)
        return torch.cat([skill, lang.to(skill.device, skill.dtype)], -1)


def policy_nets(baku: BakuConfig, lang: torch.Tensor, skill_dim: int,
                low_language: bool = False) -> tuple[HighLevel, Baku]:
    """pi^h (agentview + instruction -> skill, one step) and pi^l (both cameras + proprio, conditioned on z^h or
    [z^h; l]), both built from the profile's BAKU blocks."""
    high_cfg = replace(baku, cameras=(VIDEO_CAMERA,), lang_dim=lang.shape[1],
                       head=replace(baku.head, kind="latent", chunk=1, action_dim=skill_dim, tanh=False))
    low = Baku(replace(baku, lang_dim=skill_dim + (lang.shape[1] if low_language else 0)))
    return HighLevel(Baku(high_cfg), lang, low_language), low


class PretrainObjective(nn.Module):
    """pi^h regresses the skill label; pi^l (through a latent head on its trunk) regresses the latent action."""

    def __init__(self, high: HighLevel, low: Baku, latent_dim: int, low_weight: float):
        super().__init__()
        self.high, self.low, self.low_weight = high, low, low_weight
        head = HeadConfig(kind="latent", hidden=low.cfg.head.hidden, chunk=1, action_dim=latent_dim, tanh=False)
        self.latent_head = build_head(low.cfg.gpt.n_embd, head)

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.high.lang_table.device
        skill = torch.as_tensor(batch["skill"], device=dev)
        loss = nn.functional.mse_loss(self.high(batch), skill)
        if self.low_weight:
            img = {VIDEO_CAMERA: images_to_tensor(batch[VIDEO_CAMERA], dev)}
            cond = self.high.low_condition(skill, batch["task"])
            latent = self.latent_head(self.low.features(self.low.tokens(img, None, cond)))[:, 0]
            loss = loss + self.low_weight * nn.functional.mse_loss(latent, torch.as_tensor(batch["latent"], device=dev))
        return loss


def segment_lengths(boundaries: list[np.ndarray], stride: int) -> np.ndarray:
    """Lengths (control steps) of every segment of every sequence."""
    out = []
    for b in boundaries:
        starts = np.flatnonzero(b)
        out.append(np.diff(np.append(starts, len(b))) * stride)
    return np.concatenate(out) if out else np.zeros(0)
