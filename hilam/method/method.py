"""HiLAM as a method of the harness: pi^h(z^h | o, l) and pi^l(. | o, z^h), both BAKU networks.

1. Shared stages (trained once, `stages.py`): IDM/FDM on the action-free corpus, then the H-Net skill model.
2. Pseudo-labels: every frame of the corpus (and of the target demos, frames only) gets its latent
   action z^l and its skill z-bar (the vector of its chunk at `skill_level`).
3. Pretraining on video: pi^h regresses z-bar from (agentview, instruction); pi^l regresses z^l from
   (agentview, z-bar). Video has no wrist camera or proprio: those inputs are learned stand-in tokens.
4. pi^h is frozen; pi^l (with a fresh action head) is fine-tuned on the target demos' actions given
   their labelled z-bar (the `hilam_predskill` ablation: pi^h's prediction), with flat BAKU's step budget.
5. Evaluation: pi^h feeds pi^l at every step; action chunks are temporally ensembled as in BAKU.
The networks and objectives are in `policies.py`; the settings, presets and variants in `config.py`.
"""
from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hilam.data.dataset import DemoDataset, resize_images
from hilam.data.video import Clip, demo_clips, ensure_corpus, placed
from hilam.method.config import HilamConfig, preset
from hilam.method.policies import (
    VIDEO_CAMERA,
    HighLevel,
    PretrainObjective,
    SkilledDemos,
    VideoLabels,
    per_step,
    policy_nets,
    segment_lengths,
    skill_per_frame,
)
from hilam.method.stages import Labels, SharedStages
from hilam.methods import CellContext, Method
from hilam.models.language import embed_instructions, encoder_id
from hilam.objectives import ActionChunkObjective
from hilam.policy_io import ChunkPolicy
from hilam.profiles import Profile
from hilam.train import brief, load_weights, train


class HilamMethod(Method):
    name = "hilam"
    config_key = "hilam"  # --set hilam.<setting>
    new_instructions = True  # its policy embeds an unseen instruction with its own encoder
    final_phase = "finetune"

    def __init__(self, profile: Profile, instructions: list[str], cfg: HilamConfig | None = None):
        super().__init__(profile, instructions, cfg)
        self.cfg: HilamConfig
        if self.cfg.finetune_skill not in ("labelled", "predicted"):  # refused before any training
            raise ValueError(f"finetune_skill {self.cfg.finetune_skill!r}; known: labelled, predicted")
        if self.cfg.shared.lam.image_size > profile.image_size:  # the target demos load at the policy's size
            raise ValueError(f"{self.name}: the IDM reads {self.cfg.shared.lam.image_size} px frames but the target "
                             f"demos load at {profile.image_size} px, so labelling them would upscale; use an IDM "
                             f"no larger than the profile's image_size")
        self.language = self.cfg.language or profile.language
        self.high: HighLevel | None = None
        self.low: ActionChunkObjective | None = None
        self.finetune_data: SkilledDemos | None = None
        self.stages: SharedStages | None = None
        self.skill_norm: tuple[np.ndarray, np.ndarray] | None = None  # labelled skills' mean and std
        self.stats: dict = {}

    @classmethod
    def preset(cls, scale: str) -> HilamConfig:
        return preset(scale)

    def place(self, context: CellContext) -> None:
        """The shared stages under `<runs>/shared`, the corpus under the cell's video folder, rendered by its
        workers in the profile's render mode (the stages' keys depend on all of these)."""
        shared = self.cfg.shared
        shared.root = context.shared
        shared.video = placed(shared.video, context.video, context.workers, self.profile.render_mode)

    # ------------------------------------------------------------------ labels
    def _labelled_clips(self, stages: SharedStages, data: DemoDataset) -> tuple[list[Clip], list[Labels], int]:
        """Corpus clips and the target demos' agentview clips, each with its labels; returns the count of target clips."""
        target, labels = self._demo_labels(stages, data)
        return target + list(stages.corpus), labels + stages.label_corpus(), len(target)

    def _demo_labels(self, stages: SharedStages, data: DemoDataset) -> tuple[list[Clip], list[Labels]]:
        """The agentview clip of every demo of `data` at the corpus stride, with its labels."""
        size, stride = self.cfg.shared.lam.image_size, self.cfg.shared.video.stride
        langs = [self.instructions[data.task[s]] for s in data.demo_starts]
        target = demo_clips(resize_images(data.images[VIDEO_CAMERA], size), data.demo_lengths, langs, stride)
        return target, [stages.label(c.frames) for c in tqdm(target, desc="label demos", unit="demo")]

    def _step_skills(self, labels: list[Labels], lengths: np.ndarray) -> np.ndarray:
        """Standardised skill of every control step of demos with these labels (what pi^l is conditioned on)."""
        m, sd = self.skill_norm
        return np.concatenate([per_step(((skill_per_frame(lb, self.cfg.skill_level) - m) / sd).astype(np.float32),
                                        self.cfg.shared.video.stride, n) for lb, n in zip(labels, lengths)])

    def demo_skills(self, data: DemoDataset) -> np.ndarray:
        """Labelled skills of any demos (e.g. held-out ones), with the trained stages and normalisation."""
        return self._step_skills(self._demo_labels(self.stages, data)[1], data.demo_lengths)

    @torch.no_grad()
    def predicted_skills(self, data: DemoDataset, batch: int = 256) -> np.ndarray:
        """pi^h's standardised skill for every step of `data` (what pi^l is fed at evaluation)."""
        out = [self.high({VIDEO_CAMERA: data.images[VIDEO_CAMERA][i:i + batch], "task": data.task[i:i + batch]})
               for i in range(0, len(data), batch)]
        return torch.cat(out).float().cpu().numpy()

    def prepare(self) -> None:
        ensure_corpus(self.cfg.shared.video)

    def fit(self, data: DemoDataset, out_dir: Path, seed: int) -> dict:
        cfg, p = self.cfg, self.profile
        stride = cfg.shared.video.stride
        stages = SharedStages(cfg.shared)  # shared across cells and seeds: seed 0
        shared = stages.fit()
        clips, labels, n_target = self._labelled_clips(stages, data)
        level = cfg.skill_level
        skills = [skill_per_frame(lb, level) for lb in labels]
        s_mean, s_std = np.concatenate(skills).mean(0), np.maximum(np.concatenate(skills).std(0), 1e-3)
        self.stages, self.skill_norm = stages, (s_mean, s_std)
        z_mean, z_std = stages.latent_stats.mean, stages.latent_stats.std
        norm = lambda x, m, s: ((x - m) / s).astype(np.float32)  # noqa: E731

        texts = list(dict.fromkeys([*self.instructions, *(c.language for c in clips)]))  # targets first: index = task id
        lang = embed_instructions(texts, self.language)
        skill_dim = skills[0].shape[1]
        torch.manual_seed(seed)
        self.high, low_net = policy_nets(p.baku, lang, skill_dim, cfg.low_language)

        # pretraining on video (or, without pretraining, pi^h alone on the target demos' frames)
        use = range(len(clips)) if cfg.pretrain else range(n_target)
        if cfg.pretrain and not cfg.target_video:
            use = range(n_target, len(clips))
        frames = resize_images(np.concatenate([clips[i].frames for i in use]), p.image_size)
        task = np.concatenate([np.full(len(clips[i].frames), texts.index(clips[i].language)) for i in use])
        video = VideoLabels(frames, task, np.concatenate([norm(skills[i], s_mean, s_std) for i in use]),
                            np.concatenate([norm(labels[i].latent, z_mean, z_std) for i in use]))
        pre = PretrainObjective(self.high, low_net, cfg.shared.lam.latent_dim, low_weight=1.0 if cfg.pretrain else 0.0)
        s_pre = train(pre, video, replace(cfg.pretrain_train, seed=seed), out_dir / "pretrain",
                      extra_state={"method": self.name, "phase": "pretrain"})
        self.high.eval().requires_grad_(False)

        # fine-tune pi^l on the target demos' actions, conditioned on their labelled (or pi^h's predicted) skills
        step_skill = (self._step_skills(labels[:n_target], data.demo_lengths) if cfg.finetune_skill == "labelled"
                      else self.predicted_skills(data))
        step_skill = self.high.low_condition(torch.as_tensor(step_skill), data.task).numpy()
        st = data.stats()
        self.low = ActionChunkObjective(low_net, st["proprio_mean"], st["proprio_std"])
        self.finetune_data = SkilledDemos(data, step_skill)  # kept for diagnostics (benchmarks/hilam_diagnosis.py)
        s_ft = train(self.low, self.finetune_data, replace(p.train, seed=seed), out_dir / "finetune",
                     extra_state={"method": self.name, "phase": "finetune"}, keep_every=self.keep_every)
        self.low.eval()

        bounds = {lv: [lb.boundaries[lv] for lb in labels[:n_target]] for lv in (1, 2)}
        self.stats = {"skill_dim": int(skill_dim), "video_frames": int(len(video)), "target_clips": n_target,
                      "segment_length_steps": {
                          f"level{lv}": {"mean": float(np.mean(L)), "std": float(np.std(L)), "count": int(len(L))}
                          for lv in (1, 2) for L in [segment_lengths(bounds[lv], stride)]},
                      "shared": shared}
        return brief(s_ft) | {"seconds": s_pre["seconds"] + s_ft["seconds"], "pretrain": brief(s_pre),
                              "finetune_seconds": s_ft["seconds"]}

    def restore(self, checkpoint: Path) -> None:
        load_weights(self.low, checkpoint).eval()

    def policy(self) -> ChunkPolicy:
        high, low = self.high, self.low

        @torch.no_grad()
        def predict(batch: dict) -> np.ndarray:
            skill = high.low_condition(high(batch), batch["task"], batch.get("lang_new"))  # pi^h feeds pi^l every step
            return low.predict(batch | {"skill": skill}).float().cpu().numpy()

        return ChunkPolicy(predict, self.instructions, self.profile.image_size, self.profile.baku.head.chunk,
                           encode=lambda texts: embed_instructions(texts, self.language))

    def describe(self) -> dict:
        count = lambda m: sum(q.numel() for q in m.parameters()) if m is not None else None  # noqa: E731
        return {"hilam": asdict(self.cfg), "model": asdict(self.profile.baku),
                "parameters": {"pi_h": count(self.high), "pi_l": count(self.low)},
                "language_encoder": encoder_id(self.language), "skills": self.stats}

