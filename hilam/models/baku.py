"""BAKU (Haldar et al. 2024): shared FiLM-ResNet over both cameras, proprio and language MLPs, a causal
GPT trunk over [lang, cameras..., proprio, ACTION] read out at the learned ACTION token, and an
action-chunk head. HiLAM's pi^h / pi^l reuse these blocks with other heads and extra tokens. The state-based
variant (no cameras, no proprio, `state_dim` > 0) reads one token of privileged simulator state instead."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from hilam.models.augment import random_shift
from hilam.models.film_resnet import EncoderConfig, FiLMResNetEncoder
from hilam.models.gpt import GPT, GPTConfig
from hilam.models.heads import HeadConfig, build_head

CAMERAS = ("agentview_rgb", "eye_in_hand_rgb")


@dataclass
class BakuConfig:
    image_size: int = 128
    cameras: tuple[str, ...] = CAMERAS  # () = no image encoder
    proprio_dim: int = 9  # 0 = no proprio token
    state_dim: int = 0  # > 0: a token of the (standardised) privileged simulator state, through an MLP
    lang_dim: int = 384  # input embedding width (MiniLM 384, T5-small 512)
    repr_dim: int = 512  # width of every observation token before the trunk
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    gpt: GPTConfig = field(default_factory=GPTConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    shift_pad: int = 0  # random-shift augmentation of every camera while training, in pixels (0 = off, as BAKU)
    # Gaussian noise on the standardised state while training, in its std units (0 = off): the state policy's
    # counterpart of the cameras' random shift (added after configs holding it were keyed)
    state_noise: float = field(default=0.0, metadata={"hash": "unless_default"})
    # observation history of the state token: the newest state and `state_history - 1` earlier ones, `history_stride`
    # steps apart (the episode's first state stands in before its start), concatenated oldest first into one token.
    # 1 = the newest only (BAKU's LIBERO setting, history off). A scripted expert keeps plan state that one state
    # does not show (which waypoint it servoes to, how long a gripper command has been held); a short history does
    state_history: int = field(default=1, metadata={"hash": "unless_default"})
    history_stride: int = field(default=1, metadata={"hash": "unless_default"})

    def __post_init__(self):
        if self.state_history < 1 or self.history_stride < 1:
            raise ValueError(f"baku.state_history and baku.history_stride must be >= 1, got {self.state_history} "
                             f"and {self.history_stride}")


def mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out))


class Baku(nn.Module):
    """Observation (images, proprio, instruction embedding) -> action chunk (B, chunk, 7)."""

    def __init__(self, cfg: BakuConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.state_history > 1 and not cfg.state_dim:
            raise ValueError(f"baku.state_history={cfg.state_history} needs a state token: it applies to the state "
                             f"policy (flat.observation=state) only")
        self.lang = mlp(cfg.lang_dim, cfg.repr_dim, cfg.repr_dim)
        if cfg.cameras:
            self.image = FiLMResNetEncoder(replace(cfg.encoder, cond_dim=cfg.repr_dim, out_dim=cfg.repr_dim))
        if cfg.proprio_dim:
            self.proprio = mlp(cfg.proprio_dim, cfg.repr_dim, cfg.repr_dim)
        if cfg.state_dim:
            self.state = mlp(cfg.state_dim * cfg.state_history, cfg.repr_dim, cfg.repr_dim)
        # stand-ins for inputs a data source lacks (action-free video has no wrist camera, no proprio)
        self.absent = nn.Parameter(torch.randn(len(cfg.cameras) + 1, cfg.repr_dim) * 0.02)
        self.action_token = nn.Parameter(torch.randn(1, 1, cfg.repr_dim) * 0.02)
        self.to_trunk = nn.Linear(cfg.repr_dim, cfg.gpt.n_embd)
        self.trunk = GPT(cfg.gpt)
        self.head = build_head(cfg.gpt.n_embd, cfg.head)

    def tokens(self, images: dict[str, torch.Tensor], proprio: torch.Tensor | None, lang: torch.Tensor,
               state: torch.Tensor | None = None) -> torch.Tensor:
        """(B, tokens, repr_dim) observation tokens: language, cameras, state, proprio (those the config has). A
        camera missing from `images` or `proprio=None` gets a learned stand-in token, so the layout never changes.
        `state` is (B, width), or (B, state_history, width) oldest first."""
        l = self.lang(lang)
        slot = lambda i: self.absent[i].expand(len(l), -1)  # noqa: E731
        view = lambda x: random_shift(x, self.cfg.shift_pad) if self.training and self.cfg.shift_pad else x  # noqa: E731
        cams = [self.image(view(images[k]), l) if k in images else slot(i) for i, k in enumerate(self.cfg.cameras)]
        if self.cfg.state_dim and self.training and self.cfg.state_noise:
            state = state + self.cfg.state_noise * torch.randn_like(state)
        st = [self.state(state.flatten(1))] if self.cfg.state_dim else []  # (B, [history,] width) -> one token
        prop = [self.proprio(proprio) if proprio is not None else slot(len(self.cfg.cameras))] if self.cfg.proprio_dim else []
        return torch.stack([l, *cams, *st, *prop], dim=1)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append the ACTION token, run the trunk, read out at the ACTION token: (B, n_embd)."""
        act = self.action_token.expand(tokens.shape[0], -1, -1)
        return self.trunk(self.to_trunk(torch.cat([tokens, act], dim=1)))[:, -1]

    def forward(self, images: dict[str, torch.Tensor], proprio: torch.Tensor | None, lang: torch.Tensor,
                state: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(self.tokens(images, proprio, lang, state)))
