"""Decoder batches with the frozen VPM's one-step features computed once per sample, so decoder training skips
the VPM (the CPU profiles' main saving). Each sample keeps one noise draw; evaluation draws fresh noise."""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from baselines.human2robot.data import PairedClips
from baselines.human2robot.decoder import VPMFeatures


class CachedFeatures:
    """A PairedClips source whose batches carry "pooled" VPM features (float16 in RAM) instead of images."""

    def __init__(self, source: PairedClips, features: VPMFeatures, batch_size: int, seed: int):
        self.source = source
        device = "cuda" if torch.cuda.is_available() else "cpu"
        home = features.ddpm.alpha_bar.device
        features.to(device)
        torch.manual_seed(seed)  # the cache (and so a resumed run) is a pure function of the seed
        parts: list[list[np.ndarray]] = []
        starts = range(0, len(source), batch_size)
        for lo in tqdm(starts, desc="human2robot VPM features", unit="batch", mininterval=10):
            levels = features.pooled(source.batch(np.arange(lo, min(lo + batch_size, len(source)))))
            parts.append([x.to(torch.float16).cpu().numpy() for x in levels])
        features.to(home)
        self.pooled = [np.concatenate(level) for level in zip(*parts)]

    def __len__(self) -> int:
        return len(self.source)

    def nbytes(self) -> int:
        return sum(x.nbytes for x in self.pooled)

    def batch(self, idx: np.ndarray) -> dict:
        out = self.source.data.batch(np.asarray(idx))
        return {"pooled": [x[idx] for x in self.pooled], "proprio": out["proprio"], "actions": out["actions"],
                "action_mask": out["action_mask"]}
