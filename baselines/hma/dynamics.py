"""HMA's dynamics model at small scale: a spatial-temporal transformer over frames of image tokens.

Each frame is the codebook indices of its camera views plus one action token: the action that led into the
frame, through the stem of its action space (normalise, MLP), also added to every token of the frame. Spatial
attention mixes the tokens of one frame; temporal attention is causal over frames. Training masks a
cosine-scheduled fraction of each predicted frame's tokens and predicts them (MaskGIT); generation unmasks a new
frame in a few steps, most confident tokens first. The action token's output also reads out the embodiment's
proprio (a head per action space), so a policy that needs it can run inside the model.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.hma.config import DynamicsConfig


class Standardised(nn.Module):
    """Mean and std of one embodiment's vectors (actions or proprio), set from training data, kept as buffers."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def set_stats(self, x: np.ndarray) -> None:
        self.mean.copy_(torch.as_tensor(x.mean(0)))
        self.std.copy_(torch.as_tensor(np.maximum(x.std(0), 1e-3)))

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ActionStem(Standardised):
    """One action space: standardise with its training statistics, then an MLP to the model width."""

    def __init__(self, dim: int, width: int):
        super().__init__(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, width), nn.GELU(), nn.Linear(width, width))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.scale(a))


class StateHead(Standardised):
    """One embodiment's proprio of a frame, read out at its action token (in standardised units)."""

    def __init__(self, width: int, dim: int):
        super().__init__(dim)
        self.linear = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h)

    def unscale(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.std + self.mean


class Attention(nn.Module):
    def __init__(self, width: int, heads: int, causal: bool):
        super().__init__()
        self.ln, self.qkv, self.proj = nn.LayerNorm(width), nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.heads, self.causal = heads, causal

    def _qkv(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        return self.qkv(self.ln(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)

    def forward(self, x: torch.Tensor, past: torch.Tensor | None = None) -> torch.Tensor:
        """Self-attention over x (B, T, C). With `past` (B, Tp, C), the inputs of earlier positions, x is one
        position that also attends to them (their keys and values are recomputed, not stored)."""
        b, t, c = x.shape
        q, k, v = self._qkv(x)
        causal = self.causal
        if past is not None:
            assert t == 1, "with past inputs, attend from one new position"
            _, k_past, v_past = self._qkv(past)
            k, v, causal = torch.cat([k_past, k], 2), torch.cat([v_past, v], 2), False
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return x + self.proj(y.transpose(1, 2).reshape(b, t, c))


class STBlock(nn.Module):
    """Spatial attention within each frame, causal temporal attention per token position, then an MLP."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.spatial, self.temporal = Attention(width, heads, causal=False), Attention(width, heads, causal=True)
        self.mlp = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor, past: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, S, C) -> (output, the temporal attention's input). With `past`, the temporal attention's
        inputs of earlier frames (what this returned for them), x is one new frame attending to them too."""
        b, t, s, c = x.shape
        mid = self.spatial(x.reshape(b * t, s, c)).view(b, t, s, c)
        ctx = None if past is None else past.transpose(1, 2).reshape(b * s, -1, c)
        x = self.temporal(mid.transpose(1, 2).reshape(b * s, t, c), ctx).view(b, s, t, c).transpose(1, 2)
        return x + self.mlp(x), mid


def mask_ratio(u: torch.Tensor) -> torch.Tensor:
    """MaskGIT's cosine schedule: the fraction of tokens masked at progress u in [0, 1] (1 at u = 0)."""
    return torch.cos(u * math.pi / 2)


class WorldModel(nn.Module):
    def __init__(self, cfg: DynamicsConfig, codebook: int, tokens: int):
        super().__init__()
        self.cfg, self.codebook, self.tokens = cfg, codebook, tokens
        d = cfg.width
        self.embed = nn.Embedding(codebook + 1, d)  # the last index is MASK
        self.space_pos = nn.Parameter(torch.zeros(1, 1, tokens + 1, d))
        self.time_pos = nn.Parameter(torch.zeros(1, cfg.frames, 1, d))
        self.start = nn.Parameter(torch.zeros(d))  # the "action" into the first frame
        self.stems = nn.ModuleDict({name: ActionStem(dim * cfg.frame_stride, d) for name, dim in cfg.action_spaces.items()})
        self.state_heads = nn.ModuleDict({name: StateHead(d, dim) for name, dim in cfg.state_dims.items()})
        self.blocks = nn.ModuleList(STBlock(d, cfg.heads) for _ in range(cfg.layers))
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, codebook))
        nn.init.normal_(self.space_pos, std=0.02)
        nn.init.normal_(self.time_pos, std=0.02)

    @property
    def mask_id(self) -> int:
        return self.codebook

    def _inputs(self, codes: torch.Tensor, act: torch.Tensor, t0: int) -> torch.Tensor:
        """codes (B, T, N) and the action tokens into each frame (B, T, d) of frames from time t0 on ->
        (B, T, N + 1, d): token embeddings and an action token, the action added everywhere, positions."""
        act = act[:, :, None]
        x = torch.cat([self.embed(codes), torch.zeros_like(act)], 2) + act + self.space_pos
        return x + self.time_pos[:, t0:t0 + codes.shape[1]]

    def _action_tokens(self, actions: torch.Tensor, space: str) -> torch.Tensor:
        """(B, T - 1, stem dim) actions between frames -> (B, T, d): the token into each frame (start first)."""
        return torch.cat([self.start.expand(len(actions), 1, -1), self.stems[space](actions)], 1)

    def hidden(self, codes: torch.Tensor, actions: torch.Tensor, space: str) -> torch.Tensor:
        """codes (B, T, N) with MASK where unknown, actions (B, T - 1, stem dim) between consecutive frames
        -> the last block's output (B, T, N + 1, width); position N is the frame's action token."""
        x = self._inputs(codes, self._action_tokens(actions, space), 0)
        for blk in self.blocks:
            x, _ = blk(x)
        return x

    def forward(self, codes: torch.Tensor, actions: torch.Tensor, space: str) -> torch.Tensor:
        """-> token logits (B, T, N, codebook); see `hidden`."""
        return self.head(self.hidden(codes, actions, space)[:, :, :-1])

    def masked_loss(self, codes: torch.Tensor, actions: torch.Tensor, space: str,
                    states: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy on a cosine-scheduled random subset of each predicted frame's tokens (frame 0 is given),
        plus, given the frames' proprio `states` (B, T, P), the readout's MSE in standardised units."""
        b, t, n = codes.shape
        ratio = mask_ratio(torch.rand(b, t - 1, 1, device=codes.device)).clamp(min=self.cfg.min_mask)
        rank = torch.rand(b, t - 1, n, device=codes.device).argsort(-1).argsort(-1)  # a random order per frame
        mask = torch.cat([torch.zeros(b, 1, n, dtype=torch.bool, device=codes.device), rank < (ratio * n).ceil()], 1)
        h = self.hidden(codes.masked_fill(mask, self.mask_id), actions, space)
        loss = F.cross_entropy(self.head(h[:, :, :-1])[mask], codes[mask])
        if states is not None:
            head = self.state_heads[space]
            loss = loss + self.cfg.state_weight * F.mse_loss(head(h[:, :, -1]), head.scale(states))
        return loss

    @torch.no_grad()
    def next_frame(self, context: torch.Tensor, actions: torch.Tensor, space: str, with_state: bool = False
                   ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """context codes (B, c, N) and the c actions after each context frame -> codes of frame c + 1 (B, N),
        unmasked in `decode_steps` greedy MaskGIT steps (and, `with_state`, its proprio (B, P)); the window keeps
        the last `frames - 1` context frames. The context goes through the blocks once; each step then runs the
        new frame alone, attending to the context's cached block inputs."""
        keep = self.cfg.frames - 1
        context, actions = context[:, -keep:], actions[:, -keep:]
        (b, c, n), act = context.shape, self._action_tokens(actions, space)  # act: (B, c + 1, d)
        x, past = self._inputs(context, act[:, :c], 0), []
        for blk in self.blocks:
            x, mid = blk(x)
            past.append(mid)

        def run(new: torch.Tensor) -> torch.Tensor:
            y = self._inputs(new[:, None], act[:, c:], c)
            for blk, mid in zip(self.blocks, past):
                y, _ = blk(y, mid)
            return y[:, 0]  # (B, N + 1, d)

        new = torch.full((b, n), self.mask_id, dtype=torch.long, device=context.device)
        for s in range(self.cfg.decode_steps):
            prob, guess = self.head(run(new)[:, :n]).softmax(-1).max(-1)
            masked = new == self.mask_id
            prob = prob.masked_fill(~masked, -1.0)  # only still-masked tokens compete
            remain = max(0, math.floor(n * math.cos(math.pi / 2 * (s + 1) / self.cfg.decode_steps)))  # 0 at the last step
            top = prob.topk(int(masked[0].sum()) - remain, -1).indices
            new.scatter_(1, top, guess.gather(1, top))
        if not with_state:
            return new
        head = self.state_heads[space]
        return new, head.unscale(head(run(new)[:, n]))

    @torch.no_grad()
    def read_states(self, codes: torch.Tensor, actions: torch.Tensor, space: str) -> torch.Tensor:
        """The proprio of each of these complete frames (B, T, P), as `hidden` takes them."""
        head = self.state_heads[space]
        return head.unscale(head(self.hidden(codes, actions, space)[:, :, -1]))

    @torch.no_grad()
    def rollout(self, first: torch.Tensor, actions: torch.Tensor, space: str) -> torch.Tensor:
        """first-frame codes (B, N) and actions (B, H, stem dim) -> codes of the H generated frames (B, H, N)."""
        frames = first[:, None]
        for h in range(actions.shape[1]):
            frames = torch.cat([frames, self.next_frame(frames, actions[:, : h + 1], space)[:, None]], 1)
        return frames[:, 1:]
