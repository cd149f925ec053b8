"""Being-H0 as a method of the harness (its ablations are override sets: `config.VARIANTS`).

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

import numpy as np
import torch

from baselines.being_h0.config import BeingH0Config, preset
from baselines.being_h0.corpus import ensure_episodes
from baselines.being_h0.model import ActionQueryObjective, BeingH0
from baselines.being_h0.shared import pretrain
from baselines.being_h0.tokenizer import PartMotionTokenizer
from hilam.data.dataset import DemoDataset
from hilam.data.video import placed
from hilam.methods import CellContext, Method
from hilam.models.language import embed_instructions, encoder_id
from hilam.policy_io import ChunkPolicy
from hilam.profiles import Profile
from hilam.train import brief, load_weights, train


def rechunked(data: DemoDataset, chunk: int) -> DemoDataset:
    """The same demos (arrays shared, not copied) cut into action chunks of `chunk` steps."""
    view = copy.copy(data)
    view.cfg = replace(data.cfg, chunk=chunk)
    return view


class BeingH0Method(Method):
    name = "being_h0"
    config_key = "being_h0"  # --set being_h0.<setting>
    final_phase = "posttrain"

    def __init__(self, profile: Profile, instructions: list[str], cfg: BeingH0Config | None = None):
        super().__init__(profile, instructions, cfg)
        self.cfg: BeingH0Config
        self.language = self.cfg.language or profile.language
        self.shared_root = CellContext().shared  # the tokenizer and pretrained model, keyed by their configs
        self.objective: ActionQueryObjective | None = None
        self.stats: dict = {}

    @classmethod
    def preset(cls, scale: str) -> BeingH0Config:
        return preset(scale)

    def place(self, context: CellContext) -> None:
        """Shared models under `<runs>/shared`; the corpus under the cell's video folder, in its render mode."""
        self.shared_root = context.shared
        self.cfg.video = placed(self.cfg.video, context.video, context.workers, self.profile.render_mode)

    def build(self, lang_dim: int, vocab: int, motion_tokens: int) -> BeingH0:
        c = self.cfg
        return BeingH0(c.model, self.profile.image_size, lang_dim, vocab, motion_tokens, c.chunk, c.cameras)

    def prepare(self) -> None:
        if self.cfg.pretrain:  # the corpus and its end-effector trajectories, rendered and replayed once
            ensure_episodes(replace(self.cfg.video, image_size=self.profile.image_size), self.shared_root)

    def fit(self, data: DemoDataset, out_dir: Path, seed: int) -> dict:
        c, p = self.cfg, self.profile
        lang = embed_instructions(self.instructions, self.language)
        if c.pretrain:  # shared across cells and seeds (seed 0), like HiLAM's stages
            pre = pretrain(c, c.video, self.shared_root, p.image_size, self.language, self.build)
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

    def restore(self, checkpoint: Path) -> None:
        load_weights(self.objective, checkpoint).eval()

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

