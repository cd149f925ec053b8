"""Training windows: fraction selection, chunk padding at episode ends, batch shapes, clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.data.fractions import select_demos
from hilam.data.schema import DemoFileError, task_file, write_task_file
from hilam.envs.suites import task_specs

SUITE = "libero_object"
POOL = 10


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from tests.conftest import make_demo

    root = tmp_path_factory.mktemp("demos")
    for task in task_specs(SUITE):
        demos = [make_demo(6 + i, size=16, seed=100 * task.task_id + i) for i in range(POOL)]
        write_task_file(task_file(root, SUITE, task.name), demos, language=task.language, problem_name=task.name,
                        bddl_file_name=task.bddl_file, env_args={}, extra_attrs={"pool_size": POOL})
    return root


def test_fraction_selects_the_nested_demos(root):
    ds = DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=0.3, chunk=4))
    assert set(ds.demos_per_task.values()) == {3}
    task0 = task_specs(SUITE)[0]
    expected_lengths = [6 + i for i in select_demos(task0.name, POOL, 0.3)]
    assert ds.demo_lengths[:3].tolist() == expected_lengths
    assert len(ds) == sum(ds.demo_lengths)
    assert ds.instructions[0] == task0.language


def test_demo_ranks_mark_the_demos_a_smaller_fraction_never_saw(root):
    small = DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=0.3, chunk=4))
    large = DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=0.5, chunk=4))
    assert large.demo_starts.tolist() == np.concatenate([[0], np.cumsum(large.demo_lengths)[:-1]]).tolist()
    rank = large.demo_ranks()
    assert rank.tolist() == list(range(5)) * len(large.demos_per_task)
    seen = large.demo_lengths[rank < 3]  # nested fractions: the first 3 per task are the 30% demos
    assert seen.tolist() == small.demo_lengths.tolist()


def test_fingerprint_names_the_demos_trained_on(root, tmp_path):
    import shutil

    from tests.conftest import make_demo

    cfg = DatasetConfig(root=str(root), suite=SUITE, frac=0.3, chunk=4)
    fp = DemoDataset(cfg).fingerprint()
    assert DemoDataset(cfg).fingerprint() == fp  # the same demos, read again
    assert DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=0.3, chunk=8, image_size=8)).fingerprint() == fp
    assert DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=0.5, chunk=4)).fingerprint() != fp
    # one selected demo regenerated with other actions (a changed expert): the same counts, another fingerprint
    shutil.copytree(root, tmp_path / "r")
    task = task_specs(SUITE)[4]
    ids = list(range(POOL))
    demos = [make_demo(6 + i, size=16, seed=100 * task.task_id + i + (i == select_demos(task.name, POOL, 0.3)[0]))
             for i in ids]
    write_task_file(task_file(tmp_path / "r", SUITE, task.name), demos, ids=ids, language=task.language,
                    problem_name=task.name, bddl_file_name=task.bddl_file, env_args={}, extra_attrs={"pool_size": POOL})
    assert DemoDataset(DatasetConfig(root=str(tmp_path / "r"), suite=SUITE, frac=0.3, chunk=4)).fingerprint() != fp


def test_chunks_stop_at_episode_end(root):
    ds = DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=0.1, chunk=4))
    L = int(ds.demo_lengths[0])
    b = ds.batch(np.array([0, L - 2, L]))  # first step, near the end of demo 0, first step of the next demo
    assert b["actions"].shape == (3, 4, 7) and b["agentview_rgb"].dtype == np.uint8
    np.testing.assert_array_equal(b["action_mask"][1], [True, True, False, False])
    np.testing.assert_array_equal(b["actions"][1, 2], ds.actions[L - 1])  # padded with the final action
    np.testing.assert_array_equal(b["actions"][2, 0], ds.actions[L])
    assert b["action_mask"][0].all() and b["proprio"].shape == (3, 9)
    assert b["task"].tolist() == [0, 0, 1]  # 10% of 10 = one demo per task: step L starts task 1


def test_downsampling_at_load(root):
    ds = DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=0.1, image_size=8))
    assert ds.images["eye_in_hand_rgb"].shape[1:] == (8, 8, 3)


def test_missing_demos_for_fraction_is_a_clear_error(tmp_path, root):
    import shutil

    shutil.copytree(root, tmp_path / "r")
    task = task_specs(SUITE)[2]
    path = task_file(tmp_path / "r", SUITE, task.name)
    from tests.conftest import make_demo

    write_task_file(path, [make_demo(5)], ids=[select_demos(task.name, POOL, 1.0)[0]], language="x",
                    problem_name="x", bddl_file_name="x", env_args={}, extra_attrs={"pool_size": POOL})
    DemoDataset(DatasetConfig(root=str(tmp_path / "r"), suite=SUITE, frac=0.1))  # the one demo 10% needs
    with pytest.raises(DemoFileError, match=str(path)):
        DemoDataset(DatasetConfig(root=str(tmp_path / "r"), suite=SUITE, frac=0.5))


@pytest.mark.sim
def test_generate_uses_official_files_as_they_are(tmp_path, root):
    import shutil

    from hilam.data.generate import GenerateConfig, generate

    task = task_specs(SUITE)[0]
    dst = task_file(tmp_path, SUITE, task.name)
    dst.parent.mkdir(parents=True)
    shutil.copy(task_file(root, SUITE, task.name), dst)  # written without our `source` attribute
    (stats,) = generate(GenerateConfig(suite=SUITE, root=str(tmp_path), tasks=(0,), render=False, workers=1))
    assert stats["official"] and stats["successes"] == POOL
    assert not (tmp_path / SUITE / "states").exists()  # no expert episode was run


def test_images_that_are_not_square_are_refused_not_squeezed():
    from hilam.data.dataset import resize_images

    assert resize_images(np.zeros((2, 16, 16, 3), np.uint8), 8).shape == (2, 8, 8, 3)
    for shape in ((2, 32, 48, 3), (2, 48, 32, 3)):
        with pytest.raises(ValueError, match="not square"):
            resize_images(np.zeros(shape, np.uint8), 32)


@pytest.mark.sim  # the generator's worker process
def test_a_corrupt_task_file_fails_generation_naming_task_and_file(tmp_path):
    """Never 'the expert made no demos' nor a task silently left out: the run stops with the file's problem."""
    from hilam.data.generate import GenerateConfig, generate

    task = task_specs(SUITE)[0]
    bad = task_file(tmp_path, SUITE, task.name)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\x89HDF\r\n truncated")
    with pytest.raises(RuntimeError, match=rf"demo generation failed for {task.name}: .*{bad.name}"):
        generate(GenerateConfig(suite=SUITE, root=str(tmp_path), tasks=(0,), render=False, workers=1))
