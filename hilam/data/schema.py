"""LIBERO's official demonstration layout (robomimic-style HDF5, one file per task): write, read, validate.

The same reader loads the official files and the ones our scripted expert writes. Images are held
upright in memory (`hilam.envs.libero_env.to_upright`); each file records its image convention.

Alignment: LIBERO's own writer (`scripts/create_dataset.py`) stores beside `actions[t]` the observation recorded
after that action, while `states[t]` is from before it (LIBERO#54), so in an official file `obs[t]` is the one of
`states[t + 1]`. The reader shifts such files by one step (actions[1:], states[1:], obs[:-1], robot_states[:-1]),
so that for every file it returns, observation t is the one action t was chosen from. Files our writer made say
so (`data.attrs["obs_alignment"]`, or the generator's `source`) and are taken as stored.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from hilam.atomic import temp_path
from hilam.envs.libero_env import IMAGE_CONVENTION, to_upright

SOURCE = "hilam scripted expert"  # data.attrs["source"] of our generator's files; any other file is a user's, used as is
OBS_BEFORE_ACTION = "obs[t] is observed before actions[t]"  # data.attrs["obs_alignment"] of every file we write
AS_STORED, SHIFTED = "as stored", "shifted one step (LIBERO#54)"  # TaskDemos.obs_alignment
SCRIPTED = "scripted expert"  # source_of a task whose demos our generator makes

IMAGE_KEYS = ("agentview_rgb", "eye_in_hand_rgb")
LOW_DIM_KEYS = {"gripper_states": 2, "joint_states": 7, "ee_states": 6, "ee_pos": 3, "ee_ori": 3}
DEMO_DATASETS = {"actions": 7, "robot_states": 9}  # plus `states` (T, D), `rewards`, `dones` (T,)


class DemoFileError(ValueError):
    """A demonstration file that does not follow the official layout; the message names file and key."""


@dataclass
class Demo:
    """One demonstration; observation t is the one action t was chosen from."""

    actions: np.ndarray  # (T, 7) float
    states: np.ndarray  # (T, D) flattened MuJoCo states
    obs: dict[str, np.ndarray]  # IMAGE_KEYS (T, H, W, 3) uint8 upright + LOW_DIM_KEYS
    robot_states: np.ndarray | None = None  # (T, 9) gripper qpos, eef pos, eef quat
    model_file: str = ""
    init_state: np.ndarray | None = None
    privileged: np.ndarray | None = None  # (T, F) what state-based policies observe (hilam.envs.privileged)

    def __len__(self) -> int:
        return len(self.actions)


@dataclass
class TaskDemos:
    """All demonstrations of one task plus what the file says about the task."""

    path: Path
    language: str
    problem_name: str
    bddl_file_name: str
    demos: list[Demo]
    demo_ids: list[int]  # the <i> of each data/demo_<i> group, ascending
    env_args: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)
    obs_alignment: str = AS_STORED  # or SHIFTED: a file laid out as LIBERO writes it, paired up by the reader


def task_file(root: str | os.PathLike, suite: str, task_name: str) -> Path:
    """`<root>/<suite>/<TASK_NAME>_demo.hdf5`, the official path of a task's demos."""
    return Path(root) / suite / f"{task_name}_demo.hdf5"


def obs_alignment(attrs: dict) -> str:
    """How the reader pairs a file's observations with its actions, from its `data` attributes: AS_STORED for the
    files we write (they say so), SHIFTED for any other (LIBERO's layout: obs[t] is from after actions[t])."""
    ours = attrs.get("obs_alignment") == OBS_BEFORE_ACTION or attrs.get("source") == SOURCE
    return AS_STORED if ours else SHIFTED


def source_of(path: str | os.PathLike) -> str:
    """Who made a task file's demos: "scripted expert" for our generator's files (and where there is no file yet:
    the generator makes it), else "official file <path>"; an unreadable file raises DemoFileError."""
    path = Path(path)
    if not path.exists() or file_attrs(path).get("source") == SOURCE:
        return SCRIPTED
    return f"official file {path}"


def libero_env_args(bddl_file: str, image_size: int) -> dict:
    """What LIBERO's `scripts/create_dataset.py` writes as `data.attrs` for a task's rendered demos: `env_name` (the
    env class, e.g. `Libero_Living_Room_Tabletop_Manipulation`), `problem_info` (the BDDL file's problem name,
    lower-cased: `libero.libero.envs.TASK_MAPPING`'s key, domain, language) and `env_args` (type, env_name,
    problem_name, bddl_file and the full `env_kwargs` that rebuild the env: `TASK_MAPPING[problem_name](**env_kwargs)`)."""
    import robosuite
    from libero.libero.envs import TASK_MAPPING
    from libero.libero.envs.bddl_utils import get_problem_info

    info = get_problem_info(bddl_file)
    if info["problem_name"] not in TASK_MAPPING:
        raise ValueError(f"{bddl_file}: problem {info['problem_name']!r} is no LIBERO env "
                         f"(libero.libero.envs.TASK_MAPPING has {sorted(TASK_MAPPING)})")
    env_name = TASK_MAPPING[info["problem_name"]].__name__
    env_kwargs = {"robots": ["Panda"], "controller_configs": robosuite.load_controller_config(default_controller="OSC_POSE"),
                  "bddl_file_name": bddl_file, "has_renderer": False, "has_offscreen_renderer": True,
                  "ignore_done": True, "use_camera_obs": True, "camera_depths": False,
                  "camera_names": ["robot0_eye_in_hand", "agentview"], "reward_shaping": True, "control_freq": 20,
                  "camera_heights": image_size, "camera_widths": image_size, "camera_segmentations": None}
    return {"env_name": env_name, "problem_info": info,
            "env_args": {"type": 1, "env_name": env_name, "problem_name": info["problem_name"], "bddl_file": bddl_file,
                         "env_kwargs": env_kwargs}}


def write_task_file(path: str | os.PathLike, demos: list[Demo], *, language: str, problem_name: str,
                    bddl_file_name: str, env_args: dict, ids: list[int] | None = None,
                    extra_attrs: dict | None = None, compression: str | None = "lzf") -> Path:
    """Write demos in the official layout as groups demo_<ids[k]>, atomically (temp file, then rename). Observation
    t of each demo is the one action t was chosen from (`Demo`), and the file says so (data.attrs["obs_alignment"]).
    `env_args["env_name"]` (the env class, see `libero_env_args`) becomes `data.attrs["env_name"]`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    bddl_content = Path(bddl_file_name).read_text() if Path(bddl_file_name).exists() else ""
    with h5py.File(tmp, "w") as f:
        data = f.create_group("data")
        data.attrs["env_name"] = env_args.get("env_name", problem_name)
        data.attrs["problem_info"] = json.dumps(
            {"problem_name": problem_name, "domain_name": "robosuite", "language_instruction": language})
        data.attrs["macros_image_convention"] = IMAGE_CONVENTION
        data.attrs["obs_alignment"] = OBS_BEFORE_ACTION
        data.attrs["bddl_file_name"] = bddl_file_name
        data.attrs["bddl_file_content"] = bddl_content
        data.attrs["env_args"] = json.dumps(env_args)
        data.attrs["num_demos"] = len(demos)
        data.attrs["total"] = int(sum(len(d) for d in demos))
        for k, v in (extra_attrs or {}).items():
            data.attrs[k] = v
        for i, d in zip(range(len(demos)) if ids is None else ids, demos):
            g = data.create_group(f"demo_{i}")
            T = len(d)
            g.attrs["num_samples"] = T
            g.attrs["model_file"] = d.model_file
            g.attrs["init_state"] = d.states[0] if d.init_state is None else d.init_state
            g.create_dataset("actions", data=np.asarray(d.actions, np.float64))
            g.create_dataset("states", data=np.asarray(d.states, np.float64))
            rs = d.robot_states if d.robot_states is not None else np.zeros((T, 9))
            g.create_dataset("robot_states", data=np.asarray(rs, np.float64))
            rewards = np.zeros(T, np.uint8)
            rewards[-1] = 1
            g.create_dataset("rewards", data=rewards)
            g.create_dataset("dones", data=rewards.copy())
            o = g.create_group("obs")
            for k in IMAGE_KEYS:
                o.create_dataset(k, data=np.asarray(d.obs[k], np.uint8), compression=compression,
                                 chunks=(1, *np.shape(d.obs[k])[1:]))
            for k in LOW_DIM_KEYS:
                o.create_dataset(k, data=np.asarray(d.obs[k], np.float64))
    os.replace(tmp, path)
    return path


def file_attrs(path: str | os.PathLike) -> dict:
    """The `data` group's attributes of a demo file, without reading any demo."""
    try:
        with h5py.File(path, "r") as f:
            return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f["data"].attrs.items()}
    except (OSError, KeyError) as e:
        raise DemoFileError(f"{path}: cannot read data.attrs ({e})") from e


def stored_demo_ids(path: str | os.PathLike) -> list[int]:
    """The <i> of every data/demo_<i> group in a file, without reading any data (empty if unreadable)."""
    try:
        with h5py.File(path, "r") as f:
            return sorted(int(k.split("_")[1]) for k in f["data"] if k.startswith("demo_"))
    except (OSError, KeyError, ValueError):
        return []


def _attr(f: h5py.File, path: Path, key: str):
    if key not in f["data"].attrs:
        raise DemoFileError(f"{path}: missing attribute data.attrs[{key!r}]")
    v = f["data"].attrs[key]
    return v.decode() if isinstance(v, bytes) else v


def _dataset(g: h5py.Group, path: Path, key: str, width: int | None, T: int | None, dtype=None) -> np.ndarray:
    if key not in g:
        raise DemoFileError(f"{path}: missing dataset {g.name}/{key}")
    arr = g[key][()]
    if T is not None and arr.shape[0] != T:
        raise DemoFileError(f"{path}: {g.name}/{key} has {arr.shape[0]} steps, expected {T} (as 'actions')")
    if width is not None and (arr.ndim != 2 or arr.shape[1] != width):
        raise DemoFileError(f"{path}: {g.name}/{key} has shape {arr.shape}, expected (T, {width})")
    return arr if dtype is None else arr.astype(dtype, copy=False)


def _finite(arr: np.ndarray, path: Path, g: h5py.Group, key: str) -> np.ndarray:
    """The array, refused if it holds NaN or inf: a policy would train on them without a word."""
    if bad := arr.size - np.count_nonzero(np.isfinite(arr)):
        raise DemoFileError(f"{path}: {g.name}/{key} holds {bad} NaN or inf values")
    return arr


def read_task_file(path: str | os.PathLike, *, images: bool = True, max_demos: int | None = None) -> TaskDemos:
    """Read and validate one task file (official or ours), each demo paired so that observation t is the one
    action t was chosen from (an official file shifted one step, see the module doc); raises DemoFileError naming
    file and key."""
    path = Path(path)
    if not path.exists():
        raise DemoFileError(f"{path}: no such demonstration file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DemoFileError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {e}") from e
    with f:
        if "data" not in f:
            raise DemoFileError(f"{path}: missing group 'data'")
        try:
            info = json.loads(_attr(f, path, "problem_info"))
            env_args = json.loads(_attr(f, path, "env_args"))
        except json.JSONDecodeError as e:
            raise DemoFileError(f"{path}: data.attrs problem_info/env_args is not valid JSON: {e}") from e
        convention = _attr(f, path, "macros_image_convention")
        alignment = obs_alignment(dict(f["data"].attrs))
        names = sorted((k for k in f["data"] if k.startswith("demo_")), key=lambda k: int(k.split("_")[1]))
        if not names:
            raise DemoFileError(f"{path}: no demo_<i> groups under 'data'")
        demos, ids = [], [int(n.split("_")[1]) for n in names[:max_demos]]
        for name in names[:max_demos]:
            g = f["data"][name]
            try:
                actions = _finite(_dataset(g, path, "actions", 7, None, np.float32), path, g, "actions")
                T = len(actions)
                if T == 0:
                    raise DemoFileError(f"{path}: {g.name} has 0 steps")
                states = _finite(_dataset(g, path, "states", None, T), path, g, "states")
                robot_states = _dataset(g, path, "robot_states", 9, T, np.float32)
                if "obs" not in g:
                    raise DemoFileError(f"{path}: missing group {g.name}/obs")
                obs = {k: _dataset(g["obs"], path, k, w, T, np.float32) for k, w in LOW_DIM_KEYS.items()}
                if images:
                    for k in IMAGE_KEYS:
                        img = _dataset(g["obs"], path, k, None, T)
                        if img.ndim != 4 or img.shape[-1] != 3 or img.dtype != np.uint8 or img.shape[1] != img.shape[2]:
                            raise DemoFileError(f"{path}: {g.name}/obs/{k} is {img.dtype}{img.shape}, "
                                                f"expected square uint8 (T, H, H, 3)")
                        obs[k] = to_upright(img, convention)
            except OSError as e:  # a truncated file can open yet fail on read
                raise DemoFileError(f"{path}: cannot read {g.name} (truncated file?): {e}") from e
            if alignment == SHIFTED:  # LIBERO's obs[t] is from after actions[t]: pair actions[t + 1] with it
                if T < 2:
                    raise DemoFileError(f"{path}: {g.name} has 1 step; laid out as LIBERO writes it (no "
                                        f"data.attrs['obs_alignment']), its observations follow its actions, so a "
                                        f"demo needs 2 steps to pair one action with the observation it was chosen from")
                actions, states, robot_states = actions[1:], states[1:], robot_states[:-1]
                obs = {k: v[:-1] for k, v in obs.items()}
            model = g.attrs.get("model_file", "")
            demos.append(Demo(actions=actions, states=states, obs=obs, robot_states=robot_states,
                              model_file=model.decode() if isinstance(model, bytes) else model,
                              init_state=states[0] if alignment == SHIFTED else
                              np.asarray(g.attrs.get("init_state", states[0]))))
        return TaskDemos(path=path, language=info.get("language_instruction", ""),
                         problem_name=info.get("problem_name", ""), env_args=env_args,
                         bddl_file_name=_attr(f, path, "bddl_file_name"), demos=demos, demo_ids=ids,
                         attrs={k: f["data"].attrs[k] for k in f["data"].attrs}, obs_alignment=alignment)
