"""Being-H0's transformer at harness scale, and its two objectives.

Pretraining sequence: [agentview patches, instruction tokens, <MOT>, m_1 .. m_N] -> next token over
[m_1 .. m_N, </MOT>] (motion tokens extend the vocabulary; cross-entropy on the motion span only).
Post-training sequence: [agentview patches, instruction tokens, other camera patches, proprio, q_1 .. q_C]
-> an MLP reads each query q_i as action i of the chunk (L1). The first two spans are laid out as in
pretraining, so the trunk's positions keep their meaning.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.being_h0.config import ModelConfig
from hilam.models.baku import CAMERAS
from hilam.models.gpt import GPT
from hilam.models.heads import HeadConfig, build_head
from hilam.models.transformer import Patches
from hilam.policy_io import Normalizer, images_to_tensor

PRETRAIN_CAMERA = "agentview_rgb"  # the corpus' camera, first in both sequences


class BeingH0(nn.Module):
    """Shared trunk with a motion-token LM head (pretraining) and query-token action head (post-training)."""

    def __init__(self, cfg: ModelConfig, image_size: int, lang_dim: int, motion_vocab: int, motion_tokens: int,
                 chunk: int, cameras: tuple[str, ...] = CAMERAS, proprio_dim: int = 9, action_dim: int = 7):
        super().__init__()
        if image_size % cfg.patch:
            raise ValueError(f"patch {cfg.patch} must divide image size {image_size}")
        if cameras[0] != PRETRAIN_CAMERA:
            raise ValueError(f"the first post-training camera must be {PRETRAIN_CAMERA} (laid out as in pretraining)")
        d = cfg.gpt.n_embd
        self.cfg, self.cameras, self.chunk, self.motion_vocab = cfg, cameras, chunk, motion_vocab
        self.mot_start, self.mot_end = motion_vocab, motion_vocab + 1  # <MOT>, </MOT>
        self.n_patches = (image_size // cfg.patch) ** 2
        self.patches = Patches(image_size, cfg.patch, d)
        self.camera = nn.Embedding(len(CAMERAS), d)  # which camera a patch token comes from
        self.instruction = nn.Linear(lang_dim, cfg.instruction_tokens * d)
        self.motion_embed = nn.Embedding(motion_vocab + 2, d)
        self.motion_head = nn.Linear(d, motion_vocab + 2)
        self.proprio = nn.Linear(proprio_dim, d)
        self.queries = nn.Parameter(torch.randn(chunk, d) * 0.02)
        self.action_head = build_head(d, HeadConfig(hidden=cfg.head_hidden, layers=cfg.head_layers, chunk=1,
                                                           action_dim=action_dim, tanh=True, loss="l1"))
        context = self.n_patches + cfg.instruction_tokens
        self.pretrain_len = context + 1 + motion_tokens
        self.posttrain_len = context + (len(cameras) - 1) * self.n_patches + 1 + chunk
        self.trunk = GPT(replace(cfg.gpt, block_size=max(self.pretrain_len, self.posttrain_len)))

    def image_tokens(self, images: torch.Tensor, camera: str) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, n_patches, d) patch tokens tagged with their camera."""
        return self.patches(images) + self.camera.weight[CAMERAS.index(camera)]

    def context(self, agentview: torch.Tensor, lang: torch.Tensor) -> torch.Tensor:
        """[agentview patches, instruction tokens]: the prefix both phases share."""
        instr = self.instruction(lang).view(len(lang), self.cfg.instruction_tokens, -1)
        return torch.cat([self.image_tokens(agentview, PRETRAIN_CAMERA), instr], 1)

    def motion_logits(self, agentview: torch.Tensor, lang: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, N + 1, vocab + 2) for [m_1 .. m_N, </MOT>] given (B, N) motion ids."""
        start = torch.full((len(motion), 1), self.mot_start, dtype=torch.long, device=motion.device)
        seq = torch.cat([self.context(agentview, lang), self.motion_embed(torch.cat([start, motion], 1))], 1)
        return self.motion_head(self.trunk(seq)[:, -(motion.shape[1] + 1):])

    def actions(self, images: dict[str, torch.Tensor], lang: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """(B, chunk, action_dim) in [-1, 1], one action per learnable query token."""
        b = len(lang)
        seq = [self.context(images[PRETRAIN_CAMERA], lang)]
        seq += [self.image_tokens(images[c], c) for c in self.cameras[1:]]
        seq += [self.proprio(proprio)[:, None], self.queries.expand(b, -1, -1)]
        out = self.trunk(torch.cat(seq, 1))[:, -self.chunk:]
        return self.action_head(out.reshape(b * self.chunk, -1)).view(b, self.chunk, -1)


class MotionPretrainObjective(nn.Module):
    """Next-token cross-entropy over the motion span [m_1 .. m_N, </MOT>] given image and instruction."""

    def __init__(self, model: BeingH0, lang_table: torch.Tensor):
        super().__init__()
        self.model = model
        self.register_buffer("lang_table", lang_table.float())

    def logits_and_targets(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        dev = self.lang_table.device
        motion = torch.as_tensor(batch["motion_tokens"], dtype=torch.long, device=dev)
        logits = self.model.motion_logits(images_to_tensor(batch[PRETRAIN_CAMERA], dev),
                                          self.lang_table[torch.as_tensor(batch["task"], device=dev)], motion)
        end = torch.full((len(motion), 1), self.model.mot_end, dtype=torch.long, device=dev)
        return logits, torch.cat([motion, end], 1)

    def forward(self, batch: dict) -> torch.Tensor:
        logits, target = self.logits_and_targets(batch)
        return F.cross_entropy(logits.flatten(0, 1).float(), target.flatten())

    @torch.no_grad()
    def token_accuracy(self, batch: dict) -> float:
        """Teacher-forced next-motion-token accuracy on a batch (chance = 1 / codebook_size)."""
        logits, target = self.logits_and_targets(batch)
        return float((logits.argmax(-1)[:, :-1] == target[:, :-1]).float().mean())


class ActionQueryObjective(nn.Module):
    """Post-training: L1 between the query tokens' actions and the demo's action chunk (valid steps only)."""

    def __init__(self, model: BeingH0, lang_table: torch.Tensor, proprio_mean: np.ndarray, proprio_std: np.ndarray):
        super().__init__()
        self.model = model
        self.norm = Normalizer(proprio_mean, proprio_std)
        self.register_buffer("lang_table", lang_table.float())

    def predict(self, batch: dict) -> torch.Tensor:
        dev = self.lang_table.device
        images = {c: images_to_tensor(batch[c], dev) for c in self.model.cameras}
        return self.model.actions(images, self.lang_table[torch.as_tensor(batch["task"], device=dev)],
                                  self.norm(batch["proprio"]))

    def forward(self, batch: dict) -> torch.Tensor:
        pred = self.predict(batch)
        return self.model.action_head.loss(pred, torch.as_tensor(batch["actions"], device=pred.device),
                                           torch.as_tensor(batch["action_mask"], device=pred.device).float())
