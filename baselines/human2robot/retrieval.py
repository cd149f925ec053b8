"""Test-time demonstration retrieval: k=1 nearest neighbour over an embedding of the episode's first frame.

Embedding: the first agentview frame area-downsampled to `embed_size`, flattened, centred on the
index's mean frame and L2-normalised (raw pixels: no pretrained image encoder can be downloaded
here, and the first frames of LIBERO scenes differ mostly in object identity and layout).
"""
from __future__ import annotations

import numpy as np

from hilam.data.dataset import resize_images


class FirstFrameIndex:
    """Nearest training episode (k=1, Euclidean on unit embeddings) to a query first frame."""

    def __init__(self, first_frames: np.ndarray, embed_size: int, labels: np.ndarray | None = None):
        self.size = embed_size
        raw = self._raw(first_frames)
        self.mean = raw.mean(0)
        self.keys = self._unit(raw - self.mean)
        self.labels = labels  # optional per-episode label (task id) for scoped search and diagnostics

    def _raw(self, frames: np.ndarray) -> np.ndarray:
        return resize_images(np.asarray(frames), self.size).reshape(len(frames), -1).astype(np.float32) / 255.0

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)

    def embed(self, frames: np.ndarray) -> np.ndarray:
        return self._unit(self._raw(frames) - self.mean)

    def distances(self, frames: np.ndarray) -> np.ndarray:
        """(Q, N) squared distances from query frames to every indexed episode."""
        q = self.embed(frames)
        return np.maximum(2.0 - 2.0 * q @ self.keys.T, 0.0)

    def nearest(self, frames: np.ndarray, scope: np.ndarray | None = None) -> np.ndarray:
        """Index of the closest episode per query; `scope` (Q,) restricts each query to episodes with that label."""
        d = self.distances(frames)
        if scope is not None:
            d = np.where(self.labels[None] == np.asarray(scope)[:, None], d, np.inf)
        return d.argmin(1)

    def leave_one_out_accuracy(self) -> float | None:
        """How often an episode's nearest *other* episode has its label, over episodes that have a same-label peer
        (None without labels or peers)."""
        if self.labels is None:
            return None
        peers = (self.labels[None] == self.labels[:, None]).sum(1) > 1
        if not peers.any():
            return None
        d = np.maximum(2.0 - 2.0 * self.keys @ self.keys.T, 0.0)
        np.fill_diagonal(d, np.inf)
        return float(np.mean(self.labels[d.argmin(1)][peers] == self.labels[peers]))
