"""Conformance of every registered method and variant on the smoke profile: built through the registry, fitted for two
steps (every training budget set to 2 with `--set`-style overrides), acting on a batch through its policy, and saved
and loaded back (a second fit on the same run directory trains nothing and acts alike; its last checkpoint restores
the same policy). Synthetic demos everywhere; HiLAM reads a folder of synthetic videos as its action-free corpus;
methods whose prepare() needs the simulator (Being-H0's motion pretraining replays corpus rollouts) run on the
session's corpus folder and are `sim`."""
from __future__ import annotations

from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from filelock import FileLock

from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.data.schema import task_file, write_task_file
from hilam.envs.suites import task_specs
from hilam.methods import CellContext, configure, method_names
from hilam.profiles import get_profile
from hilam.train import TrainConfig
from tests.conftest import make_demo
from tests.test_state_policy import write_state_pass
from tests.test_video import write_video

SUITE, TASKS, SIZE = "libero_object", (0, 1), 32
STEPS = 2
# methods whose prepare() renders or replays simulator rollouts (Being-H0 pretrains on the corpus's end-effector
# trajectories); the others prepare from synthetic data and belong to the fast tier
PREPARE_ON_SIMULATOR = {"being_h0", "being_h0_flatvq"}


def train_overrides(obj: object, prefix: str) -> dict[str, int]:
    """Every training budget in a config tree cut to STEPS, as dotted overrides (a checkpoint at every step)."""
    out = {}
    for f in fields(obj):
        value, key = getattr(obj, f.name), f"{prefix}{f.name}"
        if isinstance(value, TrainConfig):
            out |= {f"{key}.steps": STEPS, f"{key}.ckpt_every": 1, f"{key}.log_every": 1}
        elif is_dataclass(value):
            out |= train_overrides(value, f"{key}.")
    return out


def two_step_overrides(name: str, tmp: Path) -> dict:
    """What makes method `name` fit in two steps, with its instruction cache (and any video folder) under tmp."""
    conf = configure(name, "smoke")
    own = f"{conf.spec.cls.config_key}." if conf.spec.cls.config_key else ""
    out = train_overrides(get_profile("smoke"), "") | {"language.cache_dir": str(tmp / "language")}
    if conf.cfg is not None and is_dataclass(conf.cfg):
        out |= train_overrides(conf.cfg, own)
    if conf.spec.base == "hilam":  # its action-free corpus: a folder of synthetic videos (no simulator)
        out[f"{own}shared.video.folder"] = str(videos(tmp / "videos"))
    return out


def videos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frames in enumerate((40, 36)):
        write_video(folder / f"{i}.mp4", frames)
    return folder


def demos(root: Path, observation: str) -> DemoDataset:
    """Two synthetic demos of each of two libero_object tasks: rendered (official layout) or state-pass only."""
    specs = task_specs(SUITE)
    for t in TASKS:
        if observation == "state":
            write_state_pass(root, specs[t], 2, 9 + t, seed=t)
        else:
            write_task_file(task_file(root, SUITE, specs[t].name),
                            [make_demo(24 + 2 * i, size=SIZE, seed=10 * t + i) for i in range(2)],
                            language=specs[t].language, problem_name=specs[t].name, bddl_file_name=specs[t].bddl_file,
                            env_args={}, extra_attrs={"pool_size": 2})
    return DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=1.0, tasks=TASKS, image_size=SIZE,
                                     chunk=get_profile("smoke").baku.head.chunk, observation=observation))


def observations(data: DemoDataset, observation: str) -> list[dict]:
    """What the evaluator hands a policy for two environment slots (one per task)."""
    rng = np.random.default_rng(0)
    out = []
    for t in TASKS:
        text = data.instructions[t]
        if observation == "state":
            out.append({"privileged": rng.normal(size=9 + t), "language": text})
        else:
            out.append({"agentview_rgb": rng.integers(0, 256, (128, 128, 3), dtype=np.uint8),
                        "eye_in_hand_rgb": rng.integers(0, 256, (128, 128, 3), dtype=np.uint8),
                        "joint_states": rng.normal(size=7), "gripper_states": rng.normal(size=2), "language": text})
    return out


def act(method, obs: list[dict]) -> np.ndarray:
    """The first actions of fresh episodes in two slots (seeded: a policy may draw noise)."""
    policy = method.policy()
    for slot in range(len(obs)):
        policy.reset(slot)
    torch.manual_seed(0)
    return policy.act(obs, list(range(len(obs))))


def conformance(name: str, tmp: Path, context: CellContext) -> None:
    conf = configure(name, "smoke", two_step_overrides(name, tmp))
    data = demos(tmp / "demos", conf.observation)

    def fitted(prepare_lock: Path | None = None):
        method = conf.build(data.instructions)
        assert method.name == name and method.observation == conf.observation
        method.place(context)
        if prepare_lock:
            with FileLock(str(prepare_lock)):  # xdist workers share the session's corpus
                method.prepare()
        else:
            method.prepare()
        return method, method.fit(data, tmp / "run", seed=0)

    lock = Path(f"{context.video}.lock") if name in PREPARE_ON_SIMULATOR else None
    method, train = fitted(lock)
    assert train["steps"] == STEPS and np.isfinite(train["final_loss"])
    obs = observations(data, conf.observation)
    actions = act(method, obs)
    assert actions.shape == (2, 7) and np.isfinite(actions).all() and np.abs(actions).max() <= 1
    assert method.describe()  # what the cell records about it
    # saved: a second build fits nothing new (it loads the finished run) and acts as the first
    again, resumed = fitted(lock)
    assert resumed["steps"] == STEPS
    np.testing.assert_allclose(act(again, obs), actions, atol=1e-5)
    # restored: the last training phase's checkpoint gives the same policy
    kept = again.checkpoints(tmp / "run")
    assert max(kept) == STEPS, kept
    again.restore(kept[STEPS])
    np.testing.assert_allclose(act(again, obs), actions, atol=1e-5)


@pytest.mark.parametrize("name", [n for n in method_names() if n not in PREPARE_ON_SIMULATOR])
def test_method_builds_fits_acts_saves_and_restores(name, tmp_path):
    conformance(name, tmp_path, CellContext(runs=str(tmp_path / "runs"), video=str(tmp_path / "video"), workers=1))


@pytest.mark.parametrize("name", sorted(PREPARE_ON_SIMULATOR))
def test_method_that_prepares_on_the_simulator_builds_fits_acts_saves_and_restores(name, tmp_path, object_corpus):
    conformance(name, tmp_path, CellContext(runs=str(object_corpus / "runs"), video=str(object_corpus / "video"),
                                            workers=1))


def test_every_registered_name_is_tested_here():
    assert PREPARE_ON_SIMULATOR <= set(method_names())
