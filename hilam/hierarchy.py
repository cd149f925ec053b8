"""HiLAM as a method of the harness: pi^h(z^h | o, l) and pi^l(. | o, z^h), both BAKU networks.

1. Shared stages (trained once, `stages.py`): IDM/FDM on the action-free corpus, then the H-Net skill model.
2. Pseudo-labels: every frame of the corpus (and of the target demos, frames only) gets its latent
   action z^l and its skill z-bar (the vector of its chunk at `skill_level`).
3. Pretraining on video: pi^h regresses z-bar from (agentview, instruction); pi^l regresses z^l from
   (agentview, z-bar). Video has no wrist camera or proprio: those inputs are learned stand-in tokens.
4. pi^h is frozen; pi^l (with a fresh action head) is fine-tuned on the target demos' actions given
   their labelled z-bar (the `hilam_predskill` ablation: pi^h's prediction), with flat BAKU's step budget.
5. Evaluation: pi^h feeds pi^l at every step; action chunks are temporally ensembled as in BAKU.
z-bar enters pi^l where the instruction enters flat BAKU: as the first token and as FiLM conditioning.
"""
from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from hilam.data.dataset import DemoDataset, resize_images
from hilam.data.video import Clip, demo_clips, ensure_corpus
from hilam.lam import LAM_VARIANTS
from hilam.methods import Method
from hilam.models.baku import Baku, BakuConfig
from hilam.models.heads import DeterministicHead, HeadConfig
from hilam.models.language import embed_instructions, encoder_id
from hilam.objectives import ActionChunkObjective
from hilam.policy_io import ChunkPolicy, images_to_tensor, instruction_rows
from hilam.profiles import HilamConfig
from hilam.stages import Labels, SharedStages, SharedStagesConfig
from hilam.train import brief, load_weights, train

VIDEO_CAMERA = "agentview_rgb"


def skill_per_frame(labels: Labels, level: int) -> np.ndarray:
    return labels.latent if level == 0 else labels.vectors[level]


def per_step(x: np.ndarray, stride: int, length: int) -> np.ndarray:
    """Labels at the corpus stride repeated back to every control step of a demo of `length` steps."""
    return np.repeat(x, stride, axis=0)[:length]


class VideoLabels:
    """Pretraining batches: agentview frames with their instruction index, skill and latent-action labels."""

    def __init__(self, frames: np.ndarray, task: np.ndarray, skill: np.ndarray, latent: np.ndarray):
        self.frames, self.task, self.skill, self.latent = frames, task, skill, latent

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, idx: np.ndarray) -> dict:
        return {VIDEO_CAMERA: self.frames[idx], "task": self.task[idx], "skill": self.skill[idx],
                "latent": self.latent[idx]}


class SkilledDemos:
    """Target demos plus the labelled skill of every step (pi^l's fine-tuning data)."""

    def __init__(self, data: DemoDataset, skill: np.ndarray):
        self.data, self.skill = data, skill

    def __len__(self) -> int:
        return len(self.data)

    def batch(self, idx: np.ndarray) -> dict:
        return self.data.batch(idx) | {"skill": self.skill[idx]}


class HighLevel(nn.Module):
    """pi^h: (agentview, instruction embedding) -> standardised skill z-bar."""

    def __init__(self, net: Baku, lang_table: torch.Tensor, low_language: bool = False):
        super().__init__()
        self.net, self.low_language = net, low_language
        self.register_buffer("lang_table", lang_table.float())

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.lang_table.device
        img = {VIDEO_CAMERA: images_to_tensor(batch[VIDEO_CAMERA], dev)}
        return self.net(img, None, instruction_rows(self.lang_table, batch["task"], batch.get("lang_new")))[:, 0]

    def low_condition(self, skill: torch.Tensor, task, lang_new=None) -> torch.Tensor:
        """What pi^l reads beside the frames: z^h, or [z^h; l] when it also reads the instruction
        (`HilamConfig.low_language`). Pretraining, fine-tuning and evaluation all build it here."""
        if not self.low_language:
            return skill
        lang = instruction_rows(self.lang_table, task, lang_new)
        return torch.cat([skill, lang.to(skill.device, skill.dtype)], -1)


def policy_nets(baku: BakuConfig, lang: torch.Tensor, skill_dim: int,
                low_language: bool = False) -> tuple[HighLevel, Baku]:
    """pi^h (agentview + instruction -> skill, one step) and pi^l (both cameras + proprio, conditioned on z^h or
    [z^h; l]), both built from the profile's BAKU blocks."""
    high_cfg = replace(baku, cameras=(VIDEO_CAMERA,), lang_dim=lang.shape[1],
                       head=replace(baku.head, chunk=1, action_dim=skill_dim, tanh=False))
    low = Baku(replace(baku, lang_dim=skill_dim + (lang.shape[1] if low_language else 0)))
    return HighLevel(Baku(high_cfg), lang, low_language), low


class PretrainObjective(nn.Module):
    """pi^h regresses the skill label; pi^l (through a latent head on its trunk) regresses the latent action."""

    def __init__(self, high: HighLevel, low: Baku, latent_dim: int, low_weight: float):
        super().__init__()
        self.high, self.low, self.low_weight = high, low, low_weight
        self.latent_head = DeterministicHead(low.cfg.gpt.n_embd, HeadConfig(hidden=low.cfg.head.hidden, chunk=1,
                                                                          action_dim=latent_dim, tanh=False))

    def forward(self, batch: dict) -> torch.Tensor:
        dev = self.high.lang_table.device
        skill = torch.as_tensor(batch["skill"], device=dev)
        loss = nn.functional.mse_loss(self.high(batch), skill)
        if self.low_weight:
            img = {VIDEO_CAMERA: images_to_tensor(batch[VIDEO_CAMERA], dev)}
            cond = self.high.low_condition(skill, batch["task"])
            latent = self.latent_head(self.low.features(self.low.tokens(img, None, cond)))[:, 0]
            loss = loss + self.low_weight * nn.functional.mse_loss(latent, torch.as_tensor(batch["latent"], device=dev))
        return loss


def segment_lengths(boundaries: list[np.ndarray], stride: int) -> np.ndarray:
    """Lengths (control steps) of every segment of every sequence."""
    out = []
    for b in boundaries:
        starts = np.flatnonzero(b)
        out.append(np.diff(np.append(starts, len(b))) * stride)
    return np.concatenate(out) if out else np.zeros(0)


class HilamMethod(Method):
    name = "hilam"
    new_instructions = True  # its policy embeds an unseen instruction with its own encoder
    final_phase = "finetune"
    overrides: dict = {}  # the ablations change HilamConfig fields
    lam_variant: str = "profile"  # a named IDM/FDM (hilam.lam.LAM_VARIANTS); its stages are keyed by it
    skill_target: str | None = None  # the skill model's target (SkillConfig.target); None: the profile's

    def __init__(self, profile, instructions):
        super().__init__(profile, instructions)
        self.cfg: HilamConfig = replace(profile.hilam, **self.overrides)
        self.cfg.shared = self.shared_config(profile)
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
    def shared_config(cls, profile) -> SharedStagesConfig:
        """The profile's shared stages (IDM/FDM, skill model) as this method varies them (lam_variant, skill_target);
        the diagnostics benchmarks load a method's stages through this too."""
        shared = profile.hilam.shared
        skills = replace(shared.skills, target=cls.skill_target) if cls.skill_target else shared.skills
        return replace(shared, lam=replace(shared.lam, **LAM_VARIANTS[cls.lam_variant]), skills=skills)

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


class HilamStage1(HilamMethod):
    """Ablation: pi^l conditioned on stage-1 chunks."""
    name, overrides = "hilam_stage1", {"skill_level": 1}


class HilamLatent(HilamMethod):
    """Ablation: flat BAKU conditioned on z-bar^0, the latent action itself (pi^h predicts it)."""
    name, overrides = "hilam_latent", {"skill_level": 0}


class HilamNoPretrain(HilamMethod):
    """Ablation: no pretraining on video; pi^h learns skills from the target demos' frames only, pi^l from scratch."""
    name, overrides = "hilam_nopretrain", {"pretrain": False}


class HilamWideLam(HilamMethod):
    """HiLAM on the `wide` IDM/FDM (7x the parameters), whose latents carry more of the action (corpus_size probe)."""
    name, lam_variant = "hilam_widelam", "wide"


class HilamAhead(HilamMethod):
    """Variant: the H-Net predicts the latent one IDM window ahead (z_{t+g}), which copying z_t cannot solve,
    in place of the next latent, which it nearly does (benchmarks/latent_quality.py)."""
    name, skill_target = "hilam_ahead", "next_window"


class HilamLowLanguage(HilamMethod):
    """Variant: pi^l also reads the instruction beside z^h, so the task does not reach it only through pi^h."""
    name, overrides = "hilam_lang", {"low_language": True}


class HilamPredictedSkill(HilamMethod):
    """Ablation: pi^l fine-tuned on frozen pi^h's predicted skills, the ones it gets at evaluation, not the labels."""
    name, overrides = "hilam_predskill", {"finetune_skill": "predicted"}
