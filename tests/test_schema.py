"""The official HDF5 layout: round trip, image convention, and clear errors on malformed files."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from hilam.data.schema import (
    IMAGE_KEYS,
    LOW_DIM_KEYS,
    DemoFileError,
    read_task_file,
    write_task_file,
)

META = dict(language="put the bowl on the plate", problem_name="LIBERO_Tabletop_Manipulation",
            bddl_file_name="/nonexistent/put_the_bowl_on_the_plate.bddl", env_args={"env_name": "x"})


def test_round_trip_is_identical(tmp_path, demo_factory):
    demos = [demo_factory(12, seed=1), demo_factory(7, seed=2)]
    path = write_task_file(tmp_path / "libero_goal" / "t_demo.hdf5", demos, ids=[3, 11], **META)
    td = read_task_file(path)
    assert td.language == META["language"] and td.demo_ids == [3, 11]
    for a, b in zip(demos, td.demos):
        np.testing.assert_allclose(b.actions, a.actions, rtol=1e-6)
        np.testing.assert_array_equal(b.states, a.states)
        for k in IMAGE_KEYS:
            np.testing.assert_array_equal(b.obs[k], a.obs[k])
        for k in LOW_DIM_KEYS:
            np.testing.assert_allclose(b.obs[k], a.obs[k], rtol=1e-6)
    with h5py.File(path) as f:  # the official layout's fixed parts
        assert set(f["data"].attrs) >= {"env_name", "problem_info", "macros_image_convention", "bddl_file_name",
                                        "bddl_file_content", "env_args", "num_demos", "total"}
        assert f["data/demo_3/dones"][()].tolist() == [0] * 11 + [1]
        assert f["data"].attrs["total"] == 19


def test_opengl_files_are_flipped_upright(tmp_path, demo_factory):
    demo = demo_factory(3)
    path = write_task_file(tmp_path / "t_demo.hdf5", [demo], **META)
    with h5py.File(path, "a") as f:
        f["data"].attrs["macros_image_convention"] = "opengl"
    got = read_task_file(path).demos[0].obs["agentview_rgb"]
    np.testing.assert_array_equal(got, demo.obs["agentview_rgb"][:, ::-1])


def _corrupt(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)
    return path


def _no_steps(f):
    """Every dataset of demo_0 cut to 0 steps: what a recording stopped before its first step leaves."""
    for g in (f["data/demo_0"], f["data/demo_0/obs"]):
        for k in [k for k in g if isinstance(g[k], h5py.Dataset)]:
            empty = g[k][()][:0]
            del g[k]
            g.create_dataset(k, data=empty)


@pytest.mark.parametrize("damage, message", [
    (lambda f: f["data/demo_0"].__delitem__("actions"), "data/demo_0/actions"),
    (lambda f: f["data/demo_0/obs"].__delitem__("agentview_rgb"), "data/demo_0/obs/agentview_rgb"),
    (lambda f: (f["data/demo_0"].__delitem__("actions"),
                f["data/demo_0"].create_dataset("actions", data=np.zeros((5, 6)))), "expected (T, 7)"),
    (lambda f: (f["data/demo_0"].__delitem__("states"),
                f["data/demo_0"].create_dataset("states", data=np.zeros((4, 20)))), "4 steps, expected 5"),
    (lambda f: f["data"].attrs.__delitem__("problem_info"), "problem_info"),
    (lambda f: (f["data/demo_0/obs"].__delitem__("eye_in_hand_rgb"),
                f["data/demo_0/obs"].create_dataset("eye_in_hand_rgb", data=np.zeros((5, 8, 8, 3)))), "uint8"),
    (lambda f: f["data/demo_0/actions"].__setitem__((2, 3), np.nan), "data/demo_0/actions holds 1 NaN or inf"),
    (lambda f: f["data/demo_0/states"].__setitem__((0, 1), -np.inf), "data/demo_0/states holds 1 NaN or inf"),
    (_no_steps, "data/demo_0 has 0 steps"),
])
def test_malformed_files_name_file_and_key(tmp_path, demo_factory, damage, message):
    path = _corrupt(write_task_file(tmp_path / "bad_demo.hdf5", [demo_factory(5)], **META), damage)
    with pytest.raises(DemoFileError) as e:
        read_task_file(path)
    assert str(path) in str(e.value) and message in str(e.value)


def test_truncated_and_missing_files(tmp_path, demo_factory):
    path = write_task_file(tmp_path / "t_demo.hdf5", [demo_factory(20, size=32)], **META)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DemoFileError, match="truncated"):
        read_task_file(path)
    with pytest.raises(DemoFileError, match="no such demonstration file"):
        read_task_file(tmp_path / "absent_demo.hdf5")


def test_write_is_atomic_and_keeps_old_file_on_failure(tmp_path, demo_factory):
    path = write_task_file(tmp_path / "t_demo.hdf5", [demo_factory(4)], **META)
    before = path.read_bytes()
    bad = demo_factory(4)
    bad.obs.pop("agentview_rgb")
    with pytest.raises(KeyError):
        write_task_file(path, [bad], **META)
    assert path.read_bytes() == before


def test_result_json_is_strict_and_unknown_numbers_are_null(tmp_path):
    from hilam.atomic import write_json

    path = write_json(tmp_path / "cell.json", {"train": {"seconds": float("nan"), "steps": 3},
                                                "ci95": (0.1, float("inf")), "rate": np.float64(0.5)})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}")) == {
        "train": {"seconds": None, "steps": 3}, "ci95": [0.1, None], "rate": 0.5}
