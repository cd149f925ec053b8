"""Being-H0's shared pretrained things: the motion tokenizer and the motion-pretrained transformer, each
trained once per config and corpus (seed 0) and reused by every cell and seed, in
`<shared root>/being_h0-tokenizer-<hash>/` and `<shared root>/being_h0-pretrain-<hash>/`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from baselines.being_h0.config import BeingH0Config
from baselines.being_h0.corpus import (
    Episode,
    MotionTextImage,
    WindowSource,
    load_episodes,
    motion_windows,
    trajectory_dir,
)
from baselines.being_h0.model import PRETRAIN_CAMERA, BeingH0, MotionPretrainObjective
from baselines.being_h0.tokenizer import PartMotionTokenizer, reconstruction_error
from hilam.data.video import VideoCorpusConfig
from hilam.models.language import LanguageConfig, embed_instructions, encoder_id
from hilam.confighash import config_hash
from hilam.train import brief, train

HOLDOUT_EVERY = 10  # every 10th corpus episode is held out of tokenizer training to measure its error
SHARED_SEED = 0


@dataclass
class Pretrained:
    tokenizer: PartMotionTokenizer
    model: BeingH0
    summary: dict


def split_episodes(episodes: list[Episode]) -> tuple[list[Episode], list[Episode]]:
    """(train, held-out) for the tokenizer; with fewer than 2 episodes both are everything."""
    held = [e for i, e in enumerate(episodes) if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1]
    if not held or len(held) == len(episodes):
        return episodes, episodes
    return [e for i, e in enumerate(episodes) if i % HOLDOUT_EVERY != HOLDOUT_EVERY - 1], held


def fit_tokenizer(cfg: BeingH0Config, episodes: list[Episode], out: Path) -> tuple[PartMotionTokenizer, dict]:
    """Train (or load) the part-level tokenizer; returns it with its held-out reconstruction error."""
    train_eps, held = split_episodes(episodes)
    windows = WindowSource(train_eps, cfg.tokenizer.window, cfg.trajectory_stride)
    torch.manual_seed(SHARED_SEED)
    tok = PartMotionTokenizer(cfg.tokenizer, cfg.part_level)
    tok.set_stats(windows.windows)  # a resumed run loads the same statistics from its checkpoint
    s = train(tok, windows, replace(cfg.tokenizer_train, seed=SHARED_SEED), out, extra_state={"stage": "tokenizer"})
    tok.eval()
    error = reconstruction_error(tok, WindowSource(held, cfg.tokenizer.window, cfg.tokenizer.window).windows)
    return tok, {"dir": str(out), **brief(s), "train_windows": len(windows),
                 "heldout_episodes": len(held) if held is not episodes else 0, "reconstruction_error": error,
                 "tokens_per_window": tok.tokens_per_window, "vocab_size": tok.vocab_size}


def frame_tokens(tok: PartMotionTokenizer, episodes: list[Episode], stride: int, batch: int = 1024) -> np.ndarray:
    """(frames, tokens_per_window) ids of the motion window that starts at each corpus frame."""
    windows = np.concatenate([motion_windows(e.motion, np.arange(0, len(e.motion), stride), tok.cfg.window)
                              for e in episodes])
    return np.concatenate([tok.tokenize(windows[i:i + batch]).cpu().numpy() for i in range(0, len(windows), batch)])


def tokenizer_dir(cfg: BeingH0Config, video: VideoCorpusConfig, root: str) -> Path:
    """Where the tokenizer of this config, trained on this corpus's trajectories, lives (keyed by both)."""
    key = config_hash(trajectory_dir(video, root).name, cfg.tokenizer, cfg.part_level, cfg.tokenizer_train,
                      cfg.trajectory_stride, SHARED_SEED)
    return Path(root) / f"being_h0-tokenizer-{key}"


def pretrain_dir(cfg: BeingH0Config, tok_dir: Path, image_size: int, language: LanguageConfig, lang_dim: int) -> Path:
    """Where the transformer pretrained on `tok_dir`'s motion tokens lives (keyed by its shape and inputs)."""
    key = config_hash(tok_dir.name, cfg.model, image_size, cfg.pretrain_train, encoder_id(language), cfg.chunk,
                      list(cfg.cameras), lang_dim)
    return tok_dir.parent / f"being_h0-pretrain-{key}"


def pretrain(cfg: BeingH0Config, video: VideoCorpusConfig, root: str, image_size: int, language: LanguageConfig,
             build: Callable[[int, int, int], BeingH0]) -> Pretrained:
    """Corpus -> tokenizer -> motion tokens -> next-motion-token pretraining. `build(lang_dim, vocab, tokens)`
    makes the transformer (its post-training layout is part of its shape, hence of the key)."""
    video = replace(video, image_size=image_size)
    episodes = load_episodes(video, root)
    if not episodes:
        raise ValueError(f"no corpus episodes for {video.suite} tasks {video.tasks or 'all'} under {video.root}")
    tok_dir = tokenizer_dir(cfg, video, root)
    tok, tok_summary = fit_tokenizer(cfg, episodes, tok_dir)

    texts = list(dict.fromkeys(e.language for e in episodes))
    lang = embed_instructions(texts, language)
    data = MotionTextImage(np.concatenate([e.frames for e in episodes]),
                           np.concatenate([np.full(len(e.frames), texts.index(e.language)) for e in episodes]),
                           frame_tokens(tok, episodes, video.stride), PRETRAIN_CAMERA)
    torch.manual_seed(SHARED_SEED)
    model = build(lang.shape[1], tok.vocab_size, tok.tokens_per_window)
    pre_dir = pretrain_dir(cfg, tok_dir, image_size, language, int(lang.shape[1]))
    objective = MotionPretrainObjective(model, lang)
    s = train(objective, data, replace(cfg.pretrain_train, seed=SHARED_SEED), pre_dir,
              extra_state={"stage": "being_h0_pretrain"})
    objective.eval()
    probe = data.batch(np.random.default_rng(SHARED_SEED).integers(0, len(data), min(256, len(data))))
    with torch.no_grad():
        probe_loss = float(objective(probe))
    summary = {"corpus": {"episodes": len(episodes), "frames": len(data), "instructions": len(texts),
                          "suite": video.suite, "stride": video.stride},
               "tokenizer": tok_summary,
               "pretrain": {"dir": str(pre_dir), **brief(s), "probe_loss": probe_loss,
                            "probe_token_accuracy": objective.token_accuracy(probe), "sequence_length": model.pretrain_len}}
    return Pretrained(tok, model, summary)
