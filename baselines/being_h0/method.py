"""Being-H0 as a method of the harness, and its ablations.

fit: (1) shared, once per config: LIBERO-90 end-effector trajectories -> part-level motion tokenizer ->
next-motion-token pretraining over [agentview, instruction, <MOT> motion </MOT>]; (2) per cell:
post-training on the target demos with a proprio token and `chunk` learnable query tokens (L1 on the
action chunk), same step budget as flat BAKU. Evaluation queries every step and temporally ensembles
the overlapping 16-step chunks (BAKU's weights), like every chunked method of the harness.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from baselines.being_h0.config import BeingH0Config, preset, with_overrides
from baselines.being_h0.corpus import ensure_episodes
from baselines.being_h0.model import ActionQueryObjective, BeingH0
from baselines.being_h0.shared import pretrain
from baselines.being_h0.tokenizer import PartMotionTokenizer
from hilam.data.dataset import DemoDataset
from hilam.methods import Method
from hilam.models.language import embed_instructions, encoder_id
from hilam.policy_io import ChunkPolicy
from hilam.train import brief, train


def rechunked(data: DemoDataset, chunk: int) -> DemoDataset:
    """The same demos (arrays shared, not copied) cut into action chunks of `chunk` steps."""
    view = copy.copy(data)
    view.cfg = replace(data.cfg, chunk=chunk)
    return view


class BeingH0Method(Method):
    name = "being_h0"
    overrides: ClassVar[dict] = {}  # the ablations change BeingH0Config fields (nested dicts for nested configs)

    def __init__(self, profile, instructions):
        super().__init__(profile, instructions)
        self.cfg: BeingH0Config = with_overrides(preset(profile.name), self.overrides)
        self.language = self.cfg.language or profile.language
        self.objective: ActionQueryObjective | None = None
        self.stats: dict = {}

    def build(self, lang_dim: int, vocab: int, motion_tokens: int) -> BeingH0:
        c = self.cfg
        return BeingH0(c.model, self.profile.image_size, lang_dim, vocab, motion_tokens, c.chunk, c.cameras)

    def prepare(self) -> None:
        if self.cfg.pretrain:  # the corpus and its end-effector trajectories, rendered and replayed once
            shared = self.profile.hilam.shared
            ensure_episodes(replace(shared.video, image_size=self.profile.image_size), shared.root)

    def fit(self, data: DemoDataset, out_dir: Path, seed: int) -> dict:
        c, p = self.cfg, self.profile
        lang = embed_instructions(self.instructions, self.language)
        if c.pretrain:  # shared across cells and seeds (seed 0), like HiLAM's stages
            shared = p.hilam.shared
            pre = pretrain(c, shared.video, shared.root, p.image_size, self.language, self.build)
            model, self.stats = pre.model, pre.summary
        else:
            torch.manual_seed(seed)
            sizes = PartMotionTokenizer(c.tokenizer, c.part_level)  # vocabulary sizes only; never trained
            model = self.build(lang.shape[1], sizes.vocab_size, sizes.tokens_per_window)
            self.stats = {}
        torch.manual_seed(seed)
        st = data.stats()
        self.objective = ActionQueryObjective(model, lang, st["proprio_mean"], st["proprio_std"])
        post_cfg = replace(c.posttrain_train or p.train, seed=seed)
        s = train(self.objective, rechunked(data, c.chunk), post_cfg, out_dir / "posttrain",
                  extra_state={"method": self.name, "phase": "posttrain"})
        self.objective.eval()
        out = brief(s)
        if c.pretrain:
            tk, pt = self.stats["tokenizer"], self.stats["pretrain"]
            out["seconds"] += tk["seconds"] + pt["seconds"]  # 0 when loaded from the shared cache
            out |= {"posttrain_seconds": s["seconds"],
                    "tokenizer": brief(tk),
                    "pretrain": brief(pt)}
        return out

    def policy(self) -> ChunkPolicy:
        obj = self.objective

        @torch.no_grad()
        def predict(batch: dict) -> np.ndarray:
            return obj.predict(batch).float().cpu().numpy()

        return ChunkPolicy(predict, self.instructions, self.profile.image_size, self.cfg.chunk)

    def describe(self) -> dict:
        n = sum(q.numel() for q in self.objective.model.parameters()) if self.objective else None
        return {"being_h0": asdict(self.cfg), "parameters": n, "language_encoder": encoder_id(self.language),
                "action_chunk": self.cfg.chunk, "image_size": self.profile.image_size, "motion": self.stats}


class BeingH0NoPretrain(BeingH0Method):
    """Ablation: no motion tokenizer, no motion pretraining; the same transformer post-trained from scratch."""
    name, overrides = "being_h0_nopretrain", {"pretrain": False}


class BeingH0FlatVQ(BeingH0Method):
    """Ablation: one flat VQ over the whole motion vector (no wrist/finger parts, one group, one layer)."""
    name, overrides = "being_h0_flatvq", {"part_level": False, "tokenizer": {"groups": 1, "residual_layers": 1}}
