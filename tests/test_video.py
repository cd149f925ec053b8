"""The action-free video reader for a folder of videos (Something-Something V2's layout)."""
from __future__ import annotations

import json

import imageio.v2 as imageio
import numpy as np
import pytest

from hilam.data.video import VideoCorpusConfig, demo_clips, load_corpus


def write_video(path, frames: int, h: int = 48, w: int = 64) -> None:
    ramp = np.linspace(0, 255, frames).astype(np.uint8)
    imageio.mimwrite(path, [np.full((h, w, 3), v, np.uint8) for v in ramp], fps=10, macro_block_size=1)


def test_folder_of_videos_with_ssv2_labels(tmp_path):
    write_video(tmp_path / "101.mp4", 12)
    write_video(tmp_path / "102.mp4", 7)
    (tmp_path / "labels.json").write_text(json.dumps([{"id": "101", "label": "pushing something left"}]))
    clips = load_corpus(VideoCorpusConfig(folder=str(tmp_path), stride=2, image_size=16))
    assert [c.frames.shape for c in clips] == [(6, 16, 16, 3), (4, 16, 16, 3)]
    assert clips[0].language == "pushing something left" and clips[1].language == ""
    assert clips[0].frames[0].mean() < clips[0].frames[-1].mean()  # order kept (the ramp brightens)


def test_bad_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_corpus(VideoCorpusConfig(folder=str(tmp_path)))
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError, match="broken.mp4"):
        load_corpus(VideoCorpusConfig(folder=str(tmp_path)))


def test_demo_clips_take_every_stride_th_frame_per_demo():
    images = np.arange(10)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    clips = demo_clips(images.astype(np.uint8), np.array([4, 6]), ["a", "b"], stride=2)
    assert [c.frames[:, 0, 0, 0].tolist() for c in clips] == [[0, 2], [4, 6, 8]] and clips[1].language == "b"


def test_shared_stages_are_keyed_by_the_corpus_content(tmp_path):
    """Adding a video to the folder (same config) must not reuse the latent action model of the old corpus."""
    from hilam.method.config import SharedStagesConfig
    from hilam.method.stages import SharedStages

    write_video(tmp_path / "101.mp4", 12)

    def lam_dir() -> str:
        cfg = SharedStagesConfig(video=VideoCorpusConfig(folder=str(tmp_path), stride=2), root=str(tmp_path / "runs"))
        return SharedStages(cfg).lam_dir().name

    first = lam_dir()
    assert lam_dir() == first  # same content, same stage
    write_video(tmp_path / "102.mp4", 7)
    assert lam_dir() != first
