"""LIBERO in both directions and any registered benchmark: official files paired as our demos are (LIBERO#54), our
files readable by LIBERO's own tools, one demo source per cell, perturbed benchmarks resolved with their own words,
and policies that embed an instruction they never saw. No simulator except the last test (one env, a few seconds)."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.data.schema import (AS_STORED, IMAGE_KEYS, SHIFTED, SOURCE, DemoFileError, read_task_file, task_file,
                               write_task_file)
from hilam.envs.suites import bddl_language, resolve_suite, task_spec, task_specs
from hilam.policy_io import ChunkPolicy, instruction_rows

SUITE = "libero_object"


def joints_of(state: np.ndarray) -> np.ndarray:
    """The synthetic 'simulator': an observation is a function of the MuJoCo state it was recorded in."""
    return state[:7] * 2.0 + 1.0


def write_libero_file(path: Path, bddl: str, n_demos: int = 2, raw_steps: int = 12, size: int = 8,
                      cap: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """A file laid out exactly as LIBERO's scripts/create_dataset.py writes it: it replays a collected demo (states
    S[0..n], actions a[0..n-1]), records the observation returned by env.step(a[j]) (that of S[j + 1]) beside a[j]
    and S[j], drops the first `cap` steps, images in OpenGL's convention. Returns the raw (S, a) of each demo."""
    raw = []
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_name"] = "Libero_Floor_Manipulation"
        data.attrs["problem_info"] = json.dumps({"problem_name": "libero_floor_manipulation", "domain_name": "robosuite",
                                                 "language_instruction": "pick up the thing"})
        data.attrs["macros_image_convention"] = "opengl"
        data.attrs["bddl_file_name"] = bddl
        data.attrs["bddl_file_content"] = ""
        data.attrs["env_args"] = json.dumps({"type": 1, "env_name": "Libero_Floor_Manipulation",
                                             "problem_name": "libero_floor_manipulation", "bddl_file": bddl,
                                             "env_kwargs": {}})
        total = 0
        for i in range(n_demos):
            rng = np.random.default_rng(i)
            S = rng.normal(size=(raw_steps + 1, 20))
            a = rng.uniform(-1, 1, (raw_steps, 7))
            raw.append((S, a))
            keep = list(range(cap, raw_steps))
            after = [j + 1 for j in keep]  # env.step(a[j]) returns the observation of S[j + 1]
            upright = np.stack([np.full((size, size, 3), j, np.uint8) for j in after])
            upright[:, 0] = 255  # row 0 (top) marked, so a missed flip shows
            g = data.create_group(f"demo_{i}")
            o = g.create_group("obs")
            o.create_dataset("joint_states", data=np.stack([joints_of(S[j]) for j in after]))
            o.create_dataset("gripper_states", data=S[after, 7:9])
            o.create_dataset("ee_states", data=S[after, 9:15])
            o.create_dataset("ee_pos", data=S[after, 9:12])
            o.create_dataset("ee_ori", data=S[after, 12:15])
            for k in IMAGE_KEYS:
                o.create_dataset(k, data=upright[:, ::-1])  # stored bottom row first
            g.create_dataset("actions", data=a[keep])
            g.create_dataset("states", data=S[keep])
            g.create_dataset("robot_states", data=S[after, :9])
            rewards = np.zeros(len(keep), np.uint8)
            rewards[-1] = 1
            g.create_dataset("rewards", data=rewards)
            g.create_dataset("dones", data=rewards)
            g.attrs["num_samples"] = len(keep)
            g.attrs["model_file"] = "<mujoco/>"
            g.attrs["init_state"] = S[keep[0]]
            total += len(keep)
        data.attrs["num_demos"] = n_demos
        data.attrs["total"] = total
    return raw


def test_an_official_file_pairs_each_action_with_the_observation_it_was_chosen_from(tmp_path):
    task = task_spec(SUITE, 0)
    path = task_file(tmp_path, SUITE, task.name)
    path.parent.mkdir(parents=True)
    raw = write_libero_file(path, task.bddl_file)
    td = read_task_file(path)
    assert td.obs_alignment == SHIFTED
    for (S, a), d in zip(raw, td.demos):
        steps = list(range(6, 12))  # LIBERO dropped steps 0-4; the shift drops step 5 (no observation before it)
        assert len(d) == len(steps)
        np.testing.assert_allclose(d.actions, a[steps], rtol=1e-6)
        np.testing.assert_array_equal(d.states, S[steps])
        np.testing.assert_allclose(d.obs["joint_states"], [joints_of(S[j]) for j in steps], rtol=1e-6)
        np.testing.assert_allclose(d.robot_states, S[steps, :9], rtol=1e-6)
        for k in IMAGE_KEYS:  # images shift too, and come upright
            assert d.obs[k][:, 1, 0, 0].tolist() == steps and (d.obs[k][:, 0] == 255).all()
        np.testing.assert_array_equal(d.init_state, S[6])
    ds = DemoDataset(DatasetConfig(root=str(tmp_path), suite=SUITE, frac=1.0, chunk=1, tasks=(0,)))
    assert ds.obs_alignment == {task.name: SHIFTED}
    for i in range(len(ds)):  # the dataset feeds action t with the observation of states[t]
        b = ds[i]
        demo, t = divmod(i, 6)
        S, a = raw[demo]
        np.testing.assert_allclose(b["proprio"][:7], joints_of(S[6 + t]), rtol=1e-5)
        np.testing.assert_allclose(b["actions"][0], a[6 + t], rtol=1e-6)


def test_our_files_are_read_as_stored_and_a_one_step_official_demo_is_refused(tmp_path, demo_factory):
    demo = demo_factory(4)
    ours = write_task_file(tmp_path / "ours_demo.hdf5", [demo], language="x", problem_name="p", bddl_file_name="/x",
                           env_args={})
    td = read_task_file(ours)
    assert td.obs_alignment == AS_STORED and len(td.demos[0]) == 4
    with h5py.File(ours, "a") as f:  # a generator file from before the alignment attribute: its source says it
        del f["data"].attrs["obs_alignment"]
        f["data"].attrs["source"] = SOURCE
    assert read_task_file(ours).obs_alignment == AS_STORED
    with h5py.File(ours, "a") as f:  # neither: laid out as LIBERO writes it
        del f["data"].attrs["source"]
    assert len(read_task_file(ours).demos[0]) == 3
    one = write_task_file(tmp_path / "one_demo.hdf5", [demo_factory(1)], language="x", problem_name="p",
                          bddl_file_name="/x", env_args={})
    with h5py.File(one, "a") as f:
        del f["data"].attrs["obs_alignment"]
    with pytest.raises(DemoFileError, match="one_demo.hdf5: /data/demo_0 has 1 step"):
        read_task_file(one)


def test_files_we_write_parse_as_libero_reads_them(tmp_path, demo_factory):
    """The attributes LIBERO's create_dataset.py writes, and its loader's lookups: TASK_MAPPING[problem_name] builds
    the env class named env_name, with env_kwargs."""
    from libero.libero.envs import TASK_MAPPING

    from hilam.data.generate import GenerateConfig, _write

    task = task_spec("libero_10", 0)  # LIVING_ROOM_SCENE2
    path = tmp_path / "t_demo.hdf5"
    _write(path, {0: demo_factory(3)}, task, GenerateConfig(image_size=64), pool_size=1)
    with h5py.File(path) as f:
        attrs = dict(f["data"].attrs)
    info, env_args = json.loads(attrs["problem_info"]), json.loads(attrs["env_args"])
    assert attrs["env_name"] == env_args["env_name"] == "Libero_Living_Room_Tabletop_Manipulation"
    assert info["problem_name"] == env_args["problem_name"] == "libero_living_room_tabletop_manipulation"
    assert TASK_MAPPING[info["problem_name"]].__name__ == attrs["env_name"]
    kwargs = env_args["env_kwargs"]
    assert kwargs["robots"] == ["Panda"] and kwargs["controller_configs"]["type"] == "OSC_POSE"
    assert kwargs["bddl_file_name"] == env_args["bddl_file"] == attrs["bddl_file_name"] == task.bddl_file
    assert kwargs["camera_heights"] == kwargs["camera_widths"] == 64
    assert set(kwargs["camera_names"]) == {"agentview", "robot0_eye_in_hand"} and kwargs["control_freq"] == 20
    assert info["language_instruction"] == task.language and attrs["source"] == SOURCE


def test_a_cell_takes_one_source_unless_asked_and_records_each_tasks(tmp_path):
    from hilam.bench import check_inputs, check_sources

    specs = task_specs(SUITE)
    for t in specs[:2]:
        task_file(tmp_path, SUITE, t.name).parent.mkdir(parents=True, exist_ok=True)
        write_libero_file(task_file(tmp_path, SUITE, t.name), t.bddl_file, n_demos=1)
    with pytest.raises(ValueError) as e:
        check_sources(str(tmp_path), SUITE)
    assert specs[0].name in str(e.value) and specs[5].name in str(e.value) and "--mixed-sources" in str(e.value)
    sources = check_sources(str(tmp_path), SUITE, mixed=True)
    assert sources[specs[0].name] == f"official file {task_file(tmp_path, SUITE, specs[0].name)}"
    assert sources[specs[5].name] == "scripted expert"
    assert set(check_sources(str(tmp_path), SUITE, tasks=(0, 1)).values()) != {"scripted expert"}  # all official
    with pytest.raises(SystemExit, match="--data: .*--mixed-sources"):
        check_inputs([SUITE], [1.0], ["baku"], [0], "smoke", 0, str(tmp_path), str(tmp_path / "cells"), "clean")


def test_any_registered_benchmark_with_its_files_resolves_and_the_others_say_why():
    from libero.libero import benchmark

    ok, refused = [], {}
    for name in benchmark.get_benchmark_dict():
        try:
            ok.append(resolve_suite(name))
        except ValueError as e:
            refused[name] = str(e)
    assert len(ok) >= 57 and len([s for s in ok if s.name not in ("libero_spatial", "libero_object", "libero_goal",
                                                                   "libero_10", "libero_90")]) >= 52
    steps = {s.name: s.max_steps for s in ok}
    assert (steps["libero_10_lan"], steps["libero_spatial_swap"], steps["libero_object_task"],
            steps["libero_goal_with_mug"], steps["libero_mine"]) == (520, 220, 280, 300, 520)
    assert "has no tasks" in refused["libero_100"]
    assert "libero_10_env/" in refused["libero_10_env"] and ".bddl" in refused["libero_10_env"]
    assert "pruned_init" in refused["libero_object_with_trigger"]
    with pytest.raises(ValueError, match="unknown LIBERO suite 'libero_nope'"):
        resolve_suite("libero_nope")


def test_instructions_come_from_the_bddl_files_in_the_classic_suites_words():
    from libero.libero import benchmark

    for name in ("libero_spatial", "libero_object", "libero_goal", "libero_10", "libero_90"):  # unchanged
        with redirect_stdout(io.StringIO()):
            b = benchmark.get_benchmark_dict()[name]()
        assert [t.language for t in task_specs(name)] == [b.get_task(i).language for i in range(b.n_tasks)]
    classic, lan = task_specs("libero_10"), task_specs("libero_10_lan")
    assert all(a.name == b.name and a.language != b.language for a, b in zip(classic, lan))
    assert [t.language for t in lan] == [bddl_language(t.bddl_file) for t in lan]
    assert lan[0].language == "place alphabet soup and tomato sauce into basket"
    assert [t.language for t in task_specs("libero_goal_swap")] == [t.language for t in task_specs("libero_goal")]
    # libero_object_task asks for another object: an instruction the classic suite knows, in its words
    objects = {t.language for t in task_specs("libero_object")}
    swapped = task_specs("libero_object_task")
    assert {t.language for t in swapped} <= objects and swapped[0].language != task_specs("libero_object")[0].language


def test_a_policy_embeds_an_instruction_it_never_saw_once_and_passes_it_beside_the_known_ones():
    seen, calls = [], []

    def predict(batch):
        seen.append(batch)
        return np.zeros((len(batch["task"]), 2, 7))

    def encode(texts):
        calls.append(texts)
        return torch.tensor([[float(len(t)), 1.0] for t in texts])

    obs = lambda text: {"joint_states": np.zeros(7), "gripper_states": np.zeros(2), "language": text,  # noqa: E731
                        **{k: np.zeros((8, 8, 3), np.uint8) for k in IMAGE_KEYS}}
    policy = ChunkPolicy(predict, ["a", "bb"], image_size=8, chunk=2, encode=encode)
    for s in (0, 1):
        policy.reset(s)
    policy.act([obs("bb"), obs("new words")], [0, 1])
    policy.act([obs("new words"), obs("a")], [0, 1])
    assert calls == [["new words"]]  # embedded once
    assert seen[0]["task"].tolist() == [1, -1] and seen[0]["lang_new"][1].tolist() == [9.0, 1.0]
    assert "lang_new" in seen[1] and seen[1]["task"].tolist() == [-1, 0]
    table = torch.tensor([[0.0, 0.0], [5.0, 5.0]])
    assert instruction_rows(table, seen[0]["task"], seen[0]["lang_new"]).tolist() == [[5.0, 5.0], [9.0, 1.0]]
    assert instruction_rows(table, [1, 0]).tolist() == [[5.0, 5.0], [0.0, 0.0]]
    strict = ChunkPolicy(predict, ["a"], image_size=8, chunk=2)
    strict.reset(0)
    with pytest.raises(KeyError, match="'new words' is not one the policy was trained on"):
        strict.act([obs("new words")], [0])


def test_a_cell_evaluated_on_another_benchmark_is_its_own_cell_sharing_the_training(tmp_path):
    from hilam.bench import CellConfig, check_eval_suite

    base = CellConfig(suite="libero_10", results=str(tmp_path / "cells"), runs=str(tmp_path / "runs"))
    lan = CellConfig(suite="libero_10", eval_suite="libero_10_lan", results=base.results, runs=base.runs)
    assert lan.path() == base.path().with_name(base.path().stem + "-on-libero_10_lan.json")
    assert lan.run_dir() == base.run_dir() and CellConfig(suite="long", eval_suite="libero_10").path() == \
        CellConfig(suite="long").path()
    assert base.eval_files() == ("eval_journal.jsonl", "videos")
    assert lan.eval_files() == ("eval_journal-libero_10_lan.jsonl", "videos-libero_10_lan")
    check_eval_suite("libero_10", "libero_10_lan", "baku")  # BAKU embeds the new words
    check_eval_suite("libero_10", "libero_10_swap", "baku_state")  # same words
    with pytest.raises(ValueError, match="baku_state's policy cannot embed"):
        check_eval_suite("libero_10", "libero_10_lan", "baku_state")
    with pytest.raises(ValueError, match=r"libero_mine has tasks 0..1, not \[5\]"):
        check_eval_suite("libero_10", "libero_mine", "baku", tasks=(5,))


def test_cells_evaluated_on_another_benchmark_are_rows_of_their_own(tmp_path):
    from benchmarks.tables import load_cells

    for on in ("", "-on-libero_10_lan"):
        path = tmp_path / "libero_10" / "baku" / f"frac0.1-seed0-cpu{on}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        cell = {"suite": "libero_10", "method": "baku", "frac": 0.1, "seed": 0, "profile": "cpu", "success_rate": 0.2,
                "episodes": 10, "ci95": [0, 1], "per_task": {}}
        path.write_text(json.dumps(cell | ({"eval_suite": "libero_10_lan"} if on else {})))
    assert sorted(c["method"] for c in load_cells(tmp_path)) == ["baku", "baku@libero_10_lan"]


@pytest.mark.sim
def test_a_perturbed_benchmark_resets_and_observes_as_libero_does():
    """libero_10_lan task 0 from its first official init state; the observation's end-effector keys are robosuite's
    observables as LIBERO's create_dataset.py stores them (ee_ori from robot0_eef_quat, robot_states as
    get_robot_state_vector)."""
    from robosuite.utils.transform_utils import quat2axisangle

    from hilam.envs.libero_env import LiberoEnv
    from hilam.envs.suites import official_init_states

    task = task_spec("libero_10_lan", 0)
    env = LiberoEnv(task, render=False)
    try:
        obs = env.reset(init_state=official_init_states("libero_10_lan", 0)[0])
        assert env._env.language_instruction == task.language
        raw = env.sim_env._get_observations(force_update=True)
        np.testing.assert_allclose(obs["hand_quat"], raw["robot0_eef_quat"], atol=1e-9)
        np.testing.assert_allclose(obs["ee_ori"], quat2axisangle(raw["robot0_eef_quat"].copy()), atol=1e-9)
        np.testing.assert_allclose(obs["ee_pos"], raw["robot0_eef_pos"], atol=1e-9)
        np.testing.assert_allclose(obs["joint_states"], raw["robot0_joint_pos"], atol=1e-9)
        robot_state = np.concatenate([obs["gripper_states"], obs["ee_pos"], obs["hand_quat"]])
        np.testing.assert_allclose(robot_state, env.sim_env.get_robot_state_vector(raw), atol=1e-9)
    finally:
        env.close()


@pytest.mark.sim
def test_a_state_cell_trained_on_libero_object_is_evaluated_on_its_swapped_benchmark(tmp_path):
    """Simulator, ~30 s: one expert demo, the smoke profile, one episode of libero_object_swap task 3."""
    from hilam.bench import CellConfig, run_cell

    cell = CellConfig(suite="object", eval_suite="libero_object_swap", method="baku_state", frac=1.0, seed=0,
                      profile="smoke", workers=1, data=str(tmp_path / "demos"), runs=str(tmp_path / "runs"),
                      results=str(tmp_path / "results"), tasks=(3,), demos_per_task=1)
    r = run_cell(cell)
    name = task_spec("libero_object", 3).name
    assert cell.path().name == "frac1-seed0-smoke-pool1-on-libero_object_swap.json" and cell.path().exists()
    assert (r["suite"], r["eval_suite"], r["episodes"]) == ("libero_object", "libero_object_swap", 1)
    assert list(r["per_task"]) == [task_spec("libero_object_swap", 3).name]
    assert "--eval-suite libero_object_swap" in r["command"]
    assert r["data"]["sources"] == {name: "scripted expert"} and r["data"]["source"] == "scripted expert (hilam)"
    assert r["data"]["obs_alignment"] == {name: AS_STORED}
    assert (cell.run_dir() / "eval_journal-libero_object_swap.jsonl").exists()
