"""Action-free video: the frames-only corpus latent actions are learned from.

Two sources, one reader:
- the embedded default: scripted LIBERO-90 rollouts (state pass as for demos), re-rendered from the
  agentview camera only, every `stride`-th step, actions dropped: `<root>/<suite>/<TASK>.hdf5`;
- a folder of videos (mp4/webm, e.g. Something-Something V2's `<id>.webm` layout) with optional
  labels in `labels.json` ({id: text} or SSv2's [{"id", "label"}]).
Rendering one camera at 10 Hz instead of two at 20 Hz makes the corpus ~4x cheaper than demos.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from hilam.atomic import temp_path
from hilam.data.dataset import resize_images
from hilam.data.generate import (
    GenerateConfig,
    finished_state_pass,
    generate,
    load_fixture_poses,
    load_state_episodes,
)
from hilam.envs.render_mode import LIBERO, recorded_mode
from hilam.envs.suites import TaskSpec, resolve_suite, task_specs

SOURCE = "hilam scripted rollouts, agentview only, actions dropped"
VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mov")


@dataclass
class VideoCorpusConfig:
    """Which action-free video, at which frame rate and size."""

    suite: str = "libero_90"  # scripted rollouts of this suite (ignored when `folder` is set)
    folder: str = ""  # a folder of videos instead of rendered rollouts
    states_root: str = "data/video"  # where its state pass caches episodes (<states_root>/<suite>/states/)
    root: str = "data/video"  # rendered corpus: <root>/<suite>/<TASK>.hdf5
    episodes_per_task: int = 2  # cpu: 2 rollouts per LIBERO-90 task (~8k frames); paper profile: 50
    stride: int = 2  # keep every stride-th control step: 20 Hz -> 10 Hz
    render_size: int = 128
    image_size: int = 64  # frames are area-downsampled to this at load
    camera: str = "agentview_rgb"
    tasks: tuple[int, ...] = ()  # empty = every task of the suite
    workers: int = 0
    render_mode: str = LIBERO  # hilam.envs.render_mode; recorded in every corpus file, another mode's is rendered again

    def state_pass(self) -> GenerateConfig:
        """The demo generator's settings for this corpus's state pass (its pool of rollouts per task)."""
        return GenerateConfig(suite=resolve_suite(self.suite).name, root=self.states_root,
                              demos_per_task=self.episodes_per_task, max_attempts=2 * self.episodes_per_task,
                              render=False, workers=self.workers, tasks=self.tasks)

    def key(self) -> str:
        """Identity of the corpus content (used to key models trained on it)."""
        skip = ("workers", "image_size") + (("render_mode",) if self.render_mode == LIBERO else ())  # keys as before
        return json.dumps({k: v for k, v in asdict(self).items() if k not in skip}, sort_keys=True)


# the corpus at each profile scale (`Profile.scale`); methods pretraining on action-free video (HiLAM, Being-H0)
# copy it into their own config, so one scale's methods share one rendered corpus
CORPUS_PRESETS: dict[str, VideoCorpusConfig] = {
    "paper": VideoCorpusConfig(episodes_per_task=50, image_size=128),  # HiLAM: 50 rollouts per LIBERO-90 task
    "cpu": VideoCorpusConfig(),
    "smoke": VideoCorpusConfig(suite="libero_object", tasks=(1,), episodes_per_task=1, render_size=32, image_size=32),
}


def corpus_preset(scale: str) -> VideoCorpusConfig:
    """A copy of the action-free corpus preset for a profile scale."""
    if scale not in CORPUS_PRESETS:
        raise ValueError(f"no video corpus preset for scale {scale!r}; known: {', '.join(CORPUS_PRESETS)}")
    return replace(CORPUS_PRESETS[scale])


def placed(cfg: VideoCorpusConfig, video: str, workers: int, render_mode: str) -> VideoCorpusConfig:
    """The corpus as a cell places it: rendered (with its state cache) under `video`, by `workers` simulator
    processes, in the cell's render mode; a corpus's key depends on where it lives, so every user of trained
    models places it the same way."""
    return replace(cfg, root=video, states_root=video, workers=workers, render_mode=render_mode)


@dataclass
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8, upright, one every `stride` control steps
    language: str
    source: str


def corpus_fingerprint(clips: list[Clip]) -> str:
    """What a loaded corpus holds (each clip's source, text, length, first and last frame): models trained on
    it are keyed by this too, so regenerated or added videos retrain them instead of reusing stale ones."""
    h = hashlib.sha1()
    for c in clips:
        h.update(f"{c.source}|{c.language}|{len(c.frames)}".encode())
        h.update(np.ascontiguousarray(c.frames[[0, -1]]).tobytes())
    return h.hexdigest()[:10]


def _tasks(cfg: VideoCorpusConfig) -> list[TaskSpec]:
    return [t for t in task_specs(resolve_suite(cfg.suite).name) if not cfg.tasks or t.task_id in cfg.tasks]


def corpus_file(cfg: VideoCorpusConfig, task: TaskSpec) -> Path:
    return Path(cfg.root) / task.suite / f"{task.name}.hdf5"


def _render_task(task: TaskSpec, cfg: VideoCorpusConfig) -> dict:
    """Render one task's cached state episodes from one camera at the corpus frame rate."""
    from hilam.envs.libero_env import LiberoEnv

    out = corpus_file(cfg, task)
    episodes = load_state_episodes(cfg.state_pass(), task)
    episodes = episodes[: cfg.episodes_per_task]
    fixtures = load_fixture_poses(cfg.states_root, task)
    if not episodes:
        return {"task": task.name, "clips": 0, "rendered": 0}
    if (have := _clip_count(out, cfg.render_mode)) >= len(episodes):
        return {"task": task.name, "clips": have, "rendered": 0}
    env = LiberoEnv(task, render=True, image_size=cfg.render_size, cameras=(cfg.camera,), render_mode=cfg.render_mode)
    tmp = temp_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(tmp, "w") as f:
        f.attrs.update({"language": task.language, "stride": cfg.stride, "camera": cfg.camera,
                        "image_size": cfg.render_size, "source": SOURCE, "config": json.dumps(asdict(cfg)),
                        "render_mode": cfg.render_mode})
        g = f.create_group("videos")
        for i, (states, _actions) in enumerate(episodes):  # the actions are dropped: this is the point
            if fixtures[i] is not None:  # where the episode had its fixtures (else where this env's reset put them)
                env.place_fixtures(fixtures[i])
            frames = np.stack([env.set_state(s)[cfg.camera] for s in states[:: cfg.stride]])
            g.create_dataset(f"ep_{i}", data=frames, compression="lzf", chunks=(1, *frames.shape[1:]))
    env.close()
    os.replace(tmp, out)
    return {"task": task.name, "clips": len(episodes), "rendered": len(episodes)}


def build_corpus(cfg: VideoCorpusConfig) -> list[dict]:
    """State pass (cached, shared with demo generation) then the one-camera render pass, parallel over tasks."""
    from hilam.envs.gl import render_threads, select_gl_backend, use_render_threads

    suite = resolve_suite(cfg.suite).name
    generate(cfg.state_pass())
    tasks = _tasks(cfg)
    select_gl_backend()
    workers = min(cfg.workers or os.cpu_count() or 1, len(tasks))
    ctx = mp.get_context("spawn")
    results = []
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=use_render_threads,
                             initargs=(render_threads(workers),)) as pool:
        futures = [pool.submit(_render_task, t, cfg) for t in tasks
                   if (Path(cfg.states_root) / suite / "states" / f"{t.name}.npz").exists()]
        for fut in tqdm(as_completed(futures), total=len(futures), desc=f"{suite} action-free video", unit="task"):
            results.append(fut.result())
    return results


def _clip_count(path: Path, mode: str) -> int:
    """Clips a corpus file holds, 0 if it is missing or was rendered in another mode than `mode`."""
    if not path.exists():
        return 0
    with h5py.File(path, "r") as f:
        return len(f["videos"]) if recorded_mode(dict(f.attrs)) == mode else 0


def _read_corpus_file(path: Path, size: int, limit: int) -> list[Clip]:
    """The first `limit` clips of a corpus file (a file rendered for a larger corpus holds more)."""
    try:
        with h5py.File(path, "r") as f:
            lang = str(f.attrs.get("language", ""))
            keys = sorted(f["videos"], key=lambda k: int(k.split("_")[-1]))[:limit]
            return [Clip(resize_images(f["videos"][k][()], size), lang, str(path)) for k in keys]
    except (OSError, KeyError) as e:
        raise ValueError(f"{path}: not a readable video corpus file ({e}); delete it to render it again") from e


def _center_square(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    s = min(h, w)
    return frame[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]


def _folder_labels(folder: Path) -> dict[str, str]:
    path = folder / "labels.json"
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    if isinstance(raw, list):  # SSv2: [{"id": "123", "label": "..."}]
        return {str(r["id"]): r.get("label", r.get("template", "")) for r in raw}
    return {str(k): str(v) for k, v in raw.items()}


def read_video_file(path: Path, stride: int, size: int) -> np.ndarray:
    """Every stride-th frame of a video file, centre-cropped square and resized: (T, size, size, 3) uint8."""
    import imageio.v2 as imageio

    try:
        reader = imageio.get_reader(str(path), "ffmpeg")
        frames = [_center_square(np.asarray(f)) for i, f in enumerate(reader) if i % stride == 0]
        reader.close()
    except Exception as e:
        raise ValueError(f"{path}: cannot decode video ({type(e).__name__}: {e})") from e
    if not frames:
        raise ValueError(f"{path}: video has no frames")
    return resize_images(np.stack(frames), size)


def load_corpus(cfg: VideoCorpusConfig) -> list[Clip]:
    """Every clip of the corpus at `cfg.image_size`; builds the rendered corpus first if it is missing."""
    if cfg.folder:
        folder = Path(cfg.folder)
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f"{folder}: no videos ({', '.join(VIDEO_EXTENSIONS)}) found")
        labels = _folder_labels(folder)
        return [Clip(read_video_file(p, cfg.stride, cfg.image_size), labels.get(p.stem, ""), str(p))
                for p in tqdm(files, desc="decode videos", unit="video")]
    ensure_corpus(cfg)
    paths = [corpus_file(cfg, t) for t in _tasks(cfg)]
    return [c for p in paths if p.exists() for c in _read_corpus_file(p, cfg.image_size, cfg.episodes_per_task)]


def _task_complete(cfg: VideoCorpusConfig, task: TaskSpec) -> bool:
    """Whether a task's state pass is done and every clip the corpus takes from it is rendered."""
    stats = finished_state_pass(task, cfg.state_pass())
    have = _clip_count(corpus_file(cfg, task), cfg.render_mode)
    return stats is not None and have >= min(cfg.episodes_per_task, stats["successes"])


def ensure_corpus(cfg: VideoCorpusConfig) -> None:
    """Build what the corpus lacks: a missing task, or more episodes per task than were made before (both
    passes resume from their caches). A folder of videos is the user's: nothing to build."""
    if not cfg.folder and not all(_task_complete(cfg, t) for t in _tasks(cfg)):
        build_corpus(cfg)


def demo_clips(images: np.ndarray, lengths: np.ndarray, languages: list[str], stride: int) -> list[Clip]:
    """Target-suite demos seen as action-free video: their frames of one camera at the corpus stride."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return [Clip(images[s:s + n:stride], lang, "target demos") for s, n, lang in zip(starts, lengths, languages)]
