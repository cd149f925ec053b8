"""Language encoders: the T5 path with a tiny T5 and a sentencepiece model trained on the LIBERO
instructions, the offline MiniLM, caching, and a clear error when T5 weights are missing."""
from __future__ import annotations

import pytest
import torch

from hilam.envs.suites import SUITES, task_specs
from hilam.models.language import LanguageConfig, LanguageEncoderMissing, embed_instructions, encoder_id


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory):
    import sentencepiece as spm
    from transformers import T5Config, T5EncoderModel

    root = tmp_path_factory.mktemp("t5")
    texts = sorted({t.language for s in SUITES for t in task_specs(s)})
    (root / "instructions.txt").write_text("\n".join(texts))
    spm.SentencePieceTrainer.train(input=str(root / "instructions.txt"), model_prefix=str(root / "spiece"),
                                   vocab_size=113, pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    torch.manual_seed(0)
    T5EncoderModel(T5Config(vocab_size=113, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)).save_pretrained(
        root / "model")
    return LanguageConfig(encoder="t5", t5_path=str(root / "model"), spm_path=str(root / "spiece.model"),
                          cache_dir=str(root / "cache")), texts


def test_tiny_t5_embeds_libero_instructions(tiny_t5):
    cfg, texts = tiny_t5
    assert len(texts) >= 100
    emb = embed_instructions(texts[:5], cfg)
    assert emb.shape == (5, 32) and torch.isfinite(emb).all()
    assert not torch.allclose(emb[0], emb[1])
    assert torch.equal(embed_instructions(texts[:5], cfg), emb)  # from the cache
    assert encoder_id(cfg).startswith("t5:")


def test_missing_t5_says_how_to_provide_it(tmp_path):
    cfg = LanguageConfig(encoder="t5", t5_path=str(tmp_path / "nowhere"), cache_dir=str(tmp_path))
    with pytest.raises(LanguageEncoderMissing, match="t5_path"):
        embed_instructions(["open the drawer"], cfg)


def test_minilm_offline(tmp_path):
    emb = embed_instructions(["open the drawer", "turn on the stove"], LanguageConfig(cache_dir=str(tmp_path)))
    assert emb.shape == (2, 384) and not torch.allclose(emb[0], emb[1])


def test_unknown_encoder_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown language encoder"):
        embed_instructions(["x"], LanguageConfig(encoder="clip", cache_dir=str(tmp_path)))
