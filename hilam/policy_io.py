"""Between the data/evaluator (NumPy uint8 observations) and the networks (float tensors), shared by every
chunked-action method: image conversion, proprio normalisation, and the evaluator-facing policy."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from hilam.data.dataset import pad_state, proprio_of, resize_images
from hilam.data.schema import IMAGE_KEYS
from hilam.models.heads import TemporalEnsemble


def images_to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    return torch.as_tensor(images, device=device).permute(0, 3, 1, 2).float().div_(255.0)


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """The inverse of `images_to_tensor`: (B, 3, H, W) float, clamped to [0, 1] -> (B, H, W, 3) uint8."""
    return (x.clamp(0, 1).permute(0, 2, 3, 1) * 255).round().byte().cpu().numpy()


class Normalizer(torch.nn.Module):
    """Standardises proprio with the training data's statistics (kept in the checkpoint as buffers)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.maximum(std, 1e-3), dtype=torch.float32))

    def forward(self, x) -> torch.Tensor:
        return (torch.as_tensor(x, dtype=torch.float32, device=self.mean.device) - self.mean) / self.std


class TaskNormalizer(torch.nn.Module):
    """Standardises the privileged state with per-task statistics (rows = task ids), kept as buffers. A dimension
    that barely moves in a task's demos (a fixture's joint, a resting object's velocity) is divided by at least
    `min_std` (1 cm or 0.01 rad): a small offset there at evaluation must not become a huge input. With `keep`
    (tasks, width) of 0/1, the features a policy does not read (`DemoDataset.state_mask`) come out as 0."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, min_std: float = 0.01, keep: np.ndarray | None = None):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.maximum(std, min_std), dtype=torch.float32))
        self.register_buffer("keep", None if keep is None else torch.as_tensor(keep, dtype=torch.float32))

    def forward(self, x, task) -> torch.Tensor:
        """x (B, width) or (B, history, width) of the tasks `task` (B,)."""
        t = torch.as_tensor(task, device=self.mean.device)
        x = torch.as_tensor(x, dtype=torch.float32, device=self.mean.device)
        row = (lambda buf: buf[t]) if x.ndim == 2 else (lambda buf: buf[t][:, None])  # noqa: E731
        z = (x - row(self.mean)) / row(self.std)
        return z if self.keep is None else z * row(self.keep)


def instruction_rows(table: torch.Tensor, task, new=None) -> torch.Tensor:
    """The instruction embedding of each sample: `table[task]`, or for a sample whose task is -1 (an instruction the
    policy met first at evaluation, see `ChunkPolicy`) its row of `new` (B, D)."""
    task = torch.as_tensor(task, device=table.device)
    rows = table[task.clamp(min=0)]
    if new is None:
        return rows
    new = torch.as_tensor(new, device=table.device, dtype=table.dtype)
    return torch.where((task >= 0)[:, None], rows, new)


class ChunkPolicy:
    """Evaluator policy for a model predicting action chunks: one batched call per step, then temporal
    ensembling per slot (BAKU's exp(-0.01 i) weights). It feeds images and proprio, or with `state_width` > 0 the
    privileged observation (`hilam.envs.privileged`) padded to that width (state-based policies, evaluated without rendering).

    An instruction among `instructions` (the training suite's) is passed as its index (`batch["task"]`); with
    `encode` (texts -> (N, D) embeddings, the method's own encoder) one it never saw (another benchmark's words,
    e.g. `libero_10_lan`) is embedded on first sight and passed as task -1 with its row in `batch["lang_new"]`
    (`instruction_rows`); without `encode` it is refused."""

    def __init__(self, predict: Callable[[dict, np.ndarray], np.ndarray], instructions: list[str],
                 image_size: int, chunk: int, ensemble_k: float = 0.01, state_width: int = 0,
                 encode: Callable[[list[str]], torch.Tensor] | None = None, history: int = 1, history_stride: int = 1,
                 newest_dims: tuple[int, ...] = ()):
        self.predict, self.image_size, self.chunk, self.k = predict, image_size, chunk, ensemble_k
        self.newest_dims = newest_dims  # action dims taken from the newest chunk, not ensembled (`TemporalEnsemble`)
        self.state_width = state_width
        self.history = StateHistory(history, history_stride) if history > 1 else None
        self.task_index = {text: i for i, text in enumerate(instructions)}
        self.encode, self.new_instructions = encode, {}  # unseen instruction -> its embedding (D,)
        self.ensembles: dict[int, TemporalEnsemble] = {}

    def reset(self, slot: int) -> None:
        self.ensembles[slot] = TemporalEnsemble(self.chunk, self.k, self.newest_dims)
        if self.history:
            self.history.reset(slot)

    def act(self, obs: list[dict], slots: list[int]) -> np.ndarray:
        if self.state_width:
            states = [pad_state(o["privileged"], self.state_width) for o in obs]
            if self.history:
                states = [self.history(s, x) for s, x in zip(slots, states)]
            batch = {"state": np.stack(states)}
        else:
            batch = {k: resize_images(np.stack([o[k] for o in obs]), self.image_size) for k in IMAGE_KEYS}
            batch["proprio"] = np.stack([proprio_of(o) for o in obs])
        texts = [o["language"] for o in obs]
        batch["task"] = np.asarray([self.task_index.get(t, -1) for t in texts])
        if (batch["task"] < 0).any():
            batch["lang_new"] = self._embed_new(texts)
        chunks = self.predict(batch)
        return np.stack([self.ensembles[s](c) for s, c in zip(slots, chunks)])

    def _embed_new(self, texts: list[str]) -> np.ndarray:
        """(B, D) embeddings of the instructions the policy never saw (zeros for those it knows), each encoded once."""
        unseen = list(dict.fromkeys(t for t in texts if t not in self.task_index and t not in self.new_instructions))
        if unseen and self.encode is None:
            raise KeyError(f"instruction {unseen[0]!r} is not one the policy was trained on, and this method's policy "
                           f"cannot embed new ones (known: {sorted(self.task_index)})")
        if unseen:
            rows = torch.as_tensor(self.encode(unseen)).float().cpu().numpy()
            self.new_instructions |= dict(zip(unseen, rows))
        width = len(next(iter(self.new_instructions.values())))
        return np.stack([self.new_instructions.get(t, np.zeros(width, np.float32)) for t in texts])


class StateHistory:
    """Per evaluation slot, the last states an episode showed; `(slot, state)` -> (steps, width), oldest first,
    `stride` steps apart, the episode's first state standing in before its start (as `DemoDataset.history_index`)."""

    def __init__(self, steps: int, stride: int = 1):
        self.steps, self.stride = steps, stride
        self.seen: dict[int, list[np.ndarray]] = {}

    def reset(self, slot: int) -> None:
        self.seen[slot] = []

    def __call__(self, slot: int, state: np.ndarray) -> np.ndarray:
        seen = self.seen[slot] = (self.seen[slot] + [state])[-((self.steps - 1) * self.stride + 1):]
        back = len(seen) - 1 - self.stride * np.arange(self.steps - 1, -1, -1)
        return np.stack([seen[max(i, 0)] for i in back])
