"""HiLAM's shared pretrained stages: the latent action model (IDM/FDM) and the skill model (H-Net),
each trained once on the action-free corpus and reused by every cell, keyed by a hash of its config
and of the corpus's content (`runs/shared/<stage>-<hash>/`). Labelling any clip then gives per-frame latent
actions (level 0) and chunk vectors (levels 1, 2) with the segment boundaries.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hilam.confighash import config_hash
from hilam.data.video import Clip, corpus_fingerprint, load_corpus
from hilam.method.config import SharedStagesConfig
from hilam.method.latent_actions import FrameStore, LatentActionObjective, PairSource, label_clip
from hilam.method.skills import CropSource, LatentSequences, SkillModel, SkillObjective, segment
from hilam.train import brief, train


@dataclass
class Labels:
    """Per-frame labels of one clip."""

    latent: np.ndarray  # (T, Dz) raw IDM latent actions (level 0)
    vectors: dict[int, np.ndarray]  # level -> (T, width) chunk vectors
    boundaries: dict[int, np.ndarray]  # level -> (T,) chunk starts


class SharedStages:
    """Trains (or loads) the IDM/FDM and the skill model; labels clips with them."""

    def __init__(self, cfg: SharedStagesConfig, seed: int = 0):
        self.cfg, self.seed = cfg, seed
        self.corpus: list[Clip] | None = None
        self.lam: LatentActionObjective | None = None
        self.skill_model: SkillModel | None = None
        self.latent_stats: LatentSequences | None = None
        self.corpus_latents: list[np.ndarray] = []  # IDM labels of the corpus, computed once in fit()
        self.summary: dict = {}

    @property
    def gap_frames(self) -> int:
        return self.cfg.gap_frames

    def clips(self) -> list[Clip]:
        """The action-free corpus at the latent action model's image size, loaded once."""
        if self.corpus is None:
            self.corpus = load_corpus(replace(self.cfg.video, image_size=self.cfg.lam.image_size))
        return self.corpus

    def lam_dir(self) -> Path:
        c = self.cfg
        fingerprint = corpus_fingerprint(self.clips())
        return Path(c.root) / f"lam-{config_hash(c.video.key(), fingerprint, c.lam, c.lam_train, self.seed)}"

    def skills_dir(self) -> Path:
        c = self.cfg
        return Path(c.root) / f"skills-{config_hash(self.lam_dir().name, c.skills, c.skills_train, self.seed)}"

    def fit(self) -> dict:
        """Train (or resume / load) both stages; returns what ran, for the results cell."""
        corpus = self.clips()
        store = FrameStore(corpus)
        lam_cfg = replace(self.cfg.lam_train, seed=self.seed)
        self.lam = LatentActionObjective(self.cfg.lam, store, self.cfg.video.stride)
        torch.manual_seed(self.seed)
        s_lam = train(self.lam, PairSource(self.lam), lam_cfg, self.lam_dir(), extra_state={"stage": "lam"})
        self.lam.eval()
        self.corpus_latents = [label_clip(self.lam.idm, c.frames, self.gap_frames) for c in corpus]
        seqs = LatentSequences.from_latents(self.corpus_latents, self.gap_frames)
        self.latent_stats = seqs
        self.skill_model = SkillModel(self.cfg.skills, self.cfg.lam.latent_dim)
        objective = SkillObjective(self.skill_model, self.lam.fdm, seqs, store)
        sk_cfg = replace(self.cfg.skills_train, seed=self.seed)
        s_sk = train(objective, CropSource(objective, len(corpus) * 1000), sk_cfg, self.skills_dir(),
                     extra_state={"stage": "skills"})
        self.skill_model.eval()
        with torch.no_grad():
            probe = objective.losses(objective.crop_batch(np.arange(min(32, len(corpus)))))
        self.summary = {
            "corpus": {"clips": len(corpus), "frames": len(store), "source": self.cfg.video.folder or self.cfg.video.suite,
                       "stride": self.cfg.video.stride},
            "lam": {"dir": str(self.lam_dir()), **brief(s_lam)},
            "skills": {"dir": str(self.skills_dir()), **brief(s_sk),
                       "probe_losses": {k: float(v) for k, v in probe.items()}},
        }
        return self.summary

    def label(self, frames: np.ndarray, latent: np.ndarray | None = None) -> Labels:
        """Latent actions and chunk vectors of every frame of one clip (frames at the corpus stride);
        `latent` skips the IDM pass when the clip's latent actions are already known."""
        z = label_clip(self.lam.idm, frames, self.gap_frames) if latent is None else latent
        seg = segment(self.skill_model, ((z - self.latent_stats.mean) / self.latent_stats.std).astype(np.float32))
        return Labels(z, seg.vectors, seg.boundaries)

    def label_corpus(self) -> list[Labels]:
        """Labels of every corpus clip, reusing the latent actions fit() computed."""
        return [self.label(c.frames, z) for c, z in tqdm(zip(self.corpus, self.corpus_latents), total=len(self.corpus),
                                                          desc="label corpus", unit="clip")]
