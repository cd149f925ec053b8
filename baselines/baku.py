"""Flat BAKU as a method of the harness: the BAKU network, MSE on action chunks, temporal ensembling; and the same
policy on privileged simulator state instead of images (`flat.observation=state`, the `baku_state` variant), a proxy
whose cells need no rendering. Its network's sizes are the profile's BAKU blocks (`--set baku.<setting>`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from hilam.data.dataset import DemoDataset, StateHistorySource, check_observation
from hilam.envs.privileged import check_state_features
from hilam.methods import Method
from hilam.profiles import Profile
from hilam.models.baku import Baku
from hilam.models.language import embed_instructions, encoder_id
from hilam.objectives import ActionChunkObjective
from hilam.policy_io import ChunkPolicy
from hilam.train import brief, load_weights, train


@dataclass
class FlatConfig:
    """Flat BAKU's own settings (`--set flat.<setting>`); the same at every scale."""

    # what the policy reads: "images" (cameras + proprio) or "state": the privileged observation (`hilam.envs.privileged`:
    # the simulator state plus gripper and object poses, standardised per task) in place of cameras and proprio, with
    # the same language token, trunk, head, chunking, ensembling and trainer, and the profile's `state_train` budget
    observation: str = "images"
    # which privileged features a state policy reads (`hilam.envs.privileged.STATE_FEATURES`): "all", or "poses"
    # (gripper fingers, gripper pose, object offsets and rotations: no joint angles, no velocities)
    state_features: str = field(default="all", metadata={"hash": "unless_default"})

    def __post_init__(self):
        check_observation(self.observation)
        check_state_features(self.state_features)


# flat BAKU's variants: each is `baku` with these settings
VARIANTS: dict[str, dict] = {
    # diagnostic: L1 on the action chunk (Being-H0's regression loss) instead of MSE, all else equal
    "baku_l1": {"baku.head.loss": "l1"},
    # on the privileged simulator state: nothing is rendered for its demos or its evaluation, so a cell costs
    # minutes: the proxy for how imitable demos are. No dropout in the trunk: a state policy underfits its few demos
    # (libero_10: 21% without dropout and with the profile's closer state budget, 2% with neither)
    "baku_state": {"flat.observation": "state", "baku.gpt.dropout": 0.0},
}


class BakuMethod(Method):
    name = "baku"
    config_key = "flat"
    new_instructions = True

    def __init__(self, profile: Profile, instructions: list[str], cfg: FlatConfig | None = None):
        super().__init__(profile, instructions, cfg)
        self.observation = self.cfg.observation
        if self.observation == "state":  # no cameras, no proprio: one token of state, and the state budget
            profile = replace(profile, baku=replace(profile.baku, cameras=(), proprio_dim=0), train=profile.state_train)
            self.profile = profile
        # its state is standardised per task, and a task is known by its instruction
        self.new_instructions = self.embeds_new_instructions(self.cfg)
        self.lang = embed_instructions(instructions, profile.language)
        self.objective: ActionChunkObjective | None = None

    @classmethod
    def preset(cls, scale: str) -> FlatConfig:
        return FlatConfig()

    @classmethod
    def observes(cls, cfg: FlatConfig) -> str:
        return cfg.observation

    @classmethod
    def embeds_new_instructions(cls, cfg: FlatConfig) -> bool:
        return cfg.observation == "images"

    def build(self, data: DemoDataset) -> ActionChunkObjective:
        cfg = self.profile.baku
        cfg.lang_dim = self.lang.shape[1]
        if self.observation == "state":
            cfg.state_dim = data.state.shape[1]
        stats = data.stats()
        reads_all = self.observation != "state" or self.cfg.state_features == "all"
        keep = None if reads_all else data.state_mask(self.cfg.state_features)
        return ActionChunkObjective(Baku(cfg), stats.get("proprio_mean"), stats.get("proprio_std"),
                                    lang_table=self.lang, state_mean=stats.get("state_mean"),
                                    state_std=stats.get("state_std"), state_keep=keep)

    def fit(self, data: DemoDataset, out_dir: Path, seed: int) -> dict:
        torch.manual_seed(seed)
        self.objective = self.build(data)
        cfg = self.profile.baku
        source = StateHistorySource(data, cfg.state_history, cfg.history_stride) if cfg.state_history > 1 else data
        summary = train(self.objective, source, self.profile.train.__class__(**{**asdict(self.profile.train), "seed": seed}),
                        out_dir, extra_state={"method": self.name}, keep_every=self.keep_every)
        self.objective.eval()
        return brief(summary)

    def restore(self, checkpoint: Path) -> None:
        load_weights(self.objective, checkpoint).eval()

    def policy(self) -> ChunkPolicy:
        obj = self.objective

        @torch.no_grad()
        def predict(batch: dict) -> np.ndarray:
            return obj.predict(batch).float().cpu().numpy()

        encode = None if self.observation == "state" else (lambda texts: embed_instructions(texts, self.profile.language))
        cfg = self.profile.baku
        return ChunkPolicy(predict, self.instructions, self.profile.image_size, cfg.head.chunk,
                           state_width=cfg.state_dim, encode=encode, history=cfg.state_history,
                           history_stride=cfg.history_stride)

    def describe(self) -> dict:
        n = sum(p.numel() for p in self.objective.model.parameters()) if self.objective else None
        return {"model": asdict(self.profile.baku), "parameters": n, "language_encoder": encoder_id(self.profile.language),
                "train_config": asdict(self.profile.train)}

