"""Human2Robot (arXiv 2502.16587) as a method of the harness (its ablations are override sets: `config.VARIANTS`).

1. VPM pretraining (`vpm_train`): predict the next robot frames from the current frame and a human
   clip of another demo of the same task (DDPM, `objectives.py`). Checkpoints in <out>/vpm.
2. Action decoder (`decoder_train`): the VPM is frozen; one denoising step's up-block features plus
   proprio -> action chunk (MSE). Checkpoints in <out>/decoder.
3. Evaluation: k=1 retrieval of a training episode from the first frame; its human clip conditions
   the VPM for the whole episode; temporal ensembling as BAKU.
Ablations: `human2robot_novpm` (the decoder reads the human clip and the current frame through a
trainable encoder; no VPM at all) and `human2robot_nopretrain` (the VPM keeps its random
initialisation and stays frozen: the decoder reads random-network features, the paper's
"no VPM pretraining" setting).
"""
from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from baselines.human2robot.cache import CachedFeatures
from baselines.human2robot.config import Human2RobotConfig, preset
from baselines.human2robot.data import Episodes, PairedClips
from baselines.human2robot.decoder import ActionDecoder, DemoVideoFeatures, VPMFeatures
from baselines.human2robot.diffusion import DDPM
from baselines.human2robot.objectives import VideoPredictionObjective
from baselines.human2robot.policy import Human2RobotPolicy
from baselines.human2robot.retrieval import FirstFrameIndex
from baselines.human2robot.vpm import VideoPredictionModel
from hilam.data.dataset import DemoDataset
from hilam.methods import Method
from hilam.profiles import Profile
from hilam.train import brief, finished, load_weights, train


def tail_mean(losses: list[float], frac: float = 0.1) -> float | None:
    """Mean loss over the last `frac` of the steps: steadier than the last step's loss."""
    if not losses:
        return None
    return float(np.mean(losses[-max(1, int(len(losses) * frac)):]))


def count(module: torch.nn.Module | None) -> int | None:
    return sum(p.numel() for p in module.parameters()) if module is not None else None


class Human2RobotMethod(Method):
    name = "human2robot"
    config_key = "human2robot"  # --set human2robot.<setting>
    final_phase = "decoder"

    def __init__(self, profile: Profile, instructions: list[str], cfg: Human2RobotConfig | None = None):
        super().__init__(profile, instructions, cfg)
        self.cfg: Human2RobotConfig
        self.vpm: VideoPredictionModel | None = None
        self.decoder: ActionDecoder | None = None
        self.episodes: Episodes | None = None
        self.index: FirstFrameIndex | None = None
        self.last_policy: Human2RobotPolicy | None = None
        self.image_size = profile.image_size
        self.stats: dict = {}

    def _check(self, data: DemoDataset) -> None:
        v = self.cfg.vpm
        if data.cfg.chunk != self.cfg.decoder.head.chunk:
            raise ValueError(f"dataset chunk {data.cfg.chunk} != decoder chunk {self.cfg.decoder.head.chunk}")
        if v.frame_size > data.images[self.cfg.robot_camera].shape[1]:
            raise ValueError(f"VPM frame_size {v.frame_size} exceeds the dataset's images")
        if v.frame_size % 2 ** (len(v.widths) - 1):
            raise ValueError(f"frame_size {v.frame_size} must be divisible by 2^(levels-1)")

    def fit(self, data: DemoDataset, out_dir: Path, seed: int) -> dict:
        cfg, v = self.cfg, self.cfg.vpm
        self._check(data)
        self.image_size = data.images[cfg.robot_camera].shape[1]
        self.episodes = Episodes(data, v.frame_size, cfg.robot_camera, cfg.demo_camera)
        self.index = FirstFrameIndex(self.episodes.first_frames, cfg.embed_size, labels=self.episodes.task)
        clips = PairedClips(data, self.episodes, v.stride, v.horizon)
        out, summary = Path(out_dir), {}
        torch.manual_seed(seed)
        ddpm = DDPM(v.diffusion_steps, v.cosine_offset)
        if cfg.features == "vpm":
            self.vpm = VideoPredictionModel(v)
            if cfg.pretrain_vpm:
                s = train(VideoPredictionObjective(self.vpm, ddpm), clips, replace(cfg.vpm_train, seed=seed),
                          out / "vpm", extra_state={"method": self.name, "phase": "vpm"})
                summary["vpm"] = brief(s)
                summary["vpm"] |= {"first_loss": s["losses"][0] if s["losses"] else None,
                                   "last10pct_loss": tail_mean(s["losses"])}
            self.vpm.eval()
            torch.manual_seed(seed + 1)  # the decoder's init does not depend on whether the VPM phase resumed
            features = VPMFeatures(self.vpm, ddpm, v, cfg.decoder)
            # the cache only feeds decoder training: a finished run (an evaluation resumed) skips it
            if cfg.decoder.cache_features and not finished(out / "decoder", cfg.decoder_train.steps):
                clips = CachedFeatures(clips, features, cfg.decoder.cache_batch, seed)
        elif cfg.features == "video":
            torch.manual_seed(seed + 1)
            features = DemoVideoFeatures(v, cfg.decoder)
        else:
            raise ValueError(f"features must be 'vpm' or 'video', not {cfg.features!r}")
        st = data.stats()
        self.decoder = ActionDecoder(features, cfg.decoder, st["proprio_mean"], st["proprio_std"])
        s = train(self.decoder, clips, replace(cfg.decoder_train, seed=seed), out / "decoder",
                  extra_state={"method": self.name, "phase": "decoder"})
        self.decoder.eval()
        self.stats = {"episodes": len(self.episodes), "feature_tokens": features.n_tokens,
                      "episodes_paired_with_themselves": len(self.episodes.alone),
                      "retrieval_leave_one_out_same_task": self.index.leave_one_out_accuracy(),
                      # None: no cache (no VPM, or this process resumed a finished decoder run)
                      "feature_cache_mb": clips.nbytes() / 1e6 if isinstance(clips, CachedFeatures) else None}
        return brief(s) | {"first_loss": s["losses"][0] if s["losses"] else None,
                           "last10pct_loss": tail_mean(s["losses"]),
                           "seconds": s["seconds"] + summary.get("vpm", {}).get("seconds", 0.0),
                           "decoder_seconds": s["seconds"], **summary}

    @classmethod
    def preset(cls, scale: str) -> Human2RobotConfig:
        return preset(scale)

    def restore(self, checkpoint: Path) -> None:
        load_weights(self.decoder, checkpoint).eval()

    def policy(self) -> Human2RobotPolicy:
        self.last_policy = Human2RobotPolicy(self.decoder, self.index, self.episodes, self.cfg, self.image_size,
                                             self.instructions)
        return self.last_policy

    def describe(self) -> dict:
        trainable = sum(p.numel() for p in self.decoder.parameters() if p.requires_grad) if self.decoder else None
        evaluated = self.last_policy.retrieval_accuracy() if self.last_policy else None
        return {"human2robot": asdict(self.cfg),
                "parameters": {"vpm": count(self.vpm), "decoder_trainable": trainable},
                "diffusion": "DDPM, epsilon prediction, cosine schedule, pixel space",
                "human_video": f"{self.cfg.demo_camera} of another demo of the same task",
                "retrieval": f"k=1 over centred {self.cfg.embed_size}px first frames, scope {self.cfg.retrieval_scope}",
                "eval_retrieval_same_task": evaluated,
                # episodes this process evaluated: fewer than the cell's when the evaluation resumed from its journal
                "eval_retrieval_episodes": len(self.last_policy.retrievals) if self.last_policy else 0, **self.stats}

