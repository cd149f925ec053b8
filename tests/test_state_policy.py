"""State-based BAKU without a simulator: the dataset reads the privileged observations the expert's state pass recorded
(nothing rendered), pads the tasks' to one width and standardises them per task; the policy feeds the evaluator's
`privileged` observation the same way."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hilam.data.dataset import DatasetConfig, DemoDataset, pad_state
from hilam.data.schema import DemoFileError
from hilam.data.generate import stats_path, states_path
from hilam.envs.suites import task_specs
from hilam.methods import build_method

SUITE = "libero_object"
TASKS = (0, 1)
WIDTH = {0: 9, 1: 13}  # privileged observation sizes differ per task: another set of objects


def write_state_pass(root, task, n: int, width: int, seed: int, privileged: bool = True,
                     state_width: int = 3) -> list[np.ndarray]:
    """A state-pass cache as the generator leaves it (npz + stats), with `n` episodes of random privileged observations
    (and flattened states `state_width` wide: time, then qpos and qvel, the first part of a privileged observation)."""
    rng = np.random.default_rng(seed)
    feats = [rng.normal(loc=task.task_id * 10, size=(5 + i, width)).astype(np.float32) for i in range(n)]
    arrays = {}
    for i, s in enumerate(feats):
        arrays[f"states_{i}"], arrays[f"actions_{i}"], arrays[f"seed_{i}"] = rng.normal(size=(len(s), state_width)), \
            rng.uniform(-1, 1, (len(s), 7)), i
        if privileged:
            arrays[f"privileged_{i}"] = s
    path = states_path(root, task)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    stats_path(root, task).write_text(json.dumps({"successes": n, "attempts": n}))
    return feats


@pytest.fixture
def state_root(tmp_path):
    specs = task_specs(SUITE)
    made = {t: write_state_pass(tmp_path, specs[t], 4, WIDTH[t], seed=t) for t in TASKS}
    return tmp_path, made


def test_state_dataset_reads_the_state_pass_pads_and_standardises_per_task(state_root):
    root, made = state_root
    data = DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=1.0, tasks=TASKS, chunk=3, observation="state"))
    assert data.images == {} and data.proprio is None
    assert data.state.shape == (sum(len(s) for t in TASKS for s in made[t]), max(WIDTH.values()))
    # task 0's rows: its privileged observations, zero-padded to the suite's widest task
    rows = data.state[data.task == 0]
    first = made[0][0]
    np.testing.assert_array_equal(rows[:len(first), :WIDTH[0]], first)
    assert not rows[:, WIDTH[0]:].any()
    b = data.batch(np.arange(4))
    assert set(b) == {"state", "task", "actions", "action_mask"} and b["state"].shape == (4, data.state.shape[1])
    st = data.stats()
    assert st["state_mean"].shape == (10, data.state.shape[1])  # a row per task of the suite
    np.testing.assert_allclose(st["state_mean"][1], data.state[data.task == 1].mean(0), rtol=1e-5)
    assert abs(st["state_mean"][1, 0] - 10) < 1 and abs(st["state_mean"][0, 0]) < 1  # each task by its own demos
    assert (st["state_mean"][5] == 0).all() and (st["state_std"][5] == 1).all()  # no demos: identity


def test_a_fraction_of_the_state_pool_is_the_same_nested_selection_as_for_images(state_root):
    root, made = state_root
    half = DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=0.5, tasks=TASKS, observation="state"))
    assert list(half.demos_per_task.values()) == [2, 2]
    assert len(half) < sum(len(s) for t in TASKS for s in made[t])


def test_unknown_observation_is_refused():
    with pytest.raises(ValueError, match="unknown observation 'depth'"):
        DatasetConfig(observation="depth")


def test_pad_state_refuses_a_state_wider_than_the_policy():
    assert pad_state(np.ones((2, 3)), 5).tolist() == [[1, 1, 1, 0, 0]] * 2
    with pytest.raises(ValueError, match="width 6 does not fit the policy's 5"):
        pad_state(np.ones(6), 5)


def test_a_state_pass_without_privileged_observations_is_refused_with_the_fix(tmp_path):
    task = task_specs(SUITE)[0]
    write_state_pass(tmp_path, task, 2, 9, seed=0, privileged=False)
    with pytest.raises(DemoFileError, match="predates privileged observations.*hilam generate"):
        DemoDataset(DatasetConfig(root=str(tmp_path), suite=SUITE, tasks=(0,), observation="state"))


def test_baku_state_fits_and_acts_on_the_evaluators_privileged_observation(state_root, tmp_path):
    root, made = state_root
    data = DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=1.0, tasks=TASKS, observation="state"))
    method = build_method("baku_state", "smoke", data.instructions)
    assert method.observation == "state" and method.profile.baku.cameras == ()
    train = method.fit(data, tmp_path / "run", seed=0)
    assert train["steps"] == 30
    assert not hasattr(method.objective.model, "image")  # no image encoder is built
    policy = method.policy()
    # the evaluator's observations: no cameras, the env's privileged observation
    specs = task_specs(SUITE)
    obs = [{"privileged": made[t][0][2], "language": specs[t].language} for t in TASKS]
    for s in range(2):
        policy.reset(s)
    a = policy.act(obs, [0, 1])
    assert a.shape == (2, 7) and np.isfinite(a).all() and np.abs(a).max() <= 1
    # the same input as the dataset's sample: the policy's first action is the model's prediction on it
    row = pad_state(made[1][0][2], data.state.shape[1])
    i = int(np.flatnonzero((data.state == row).all(1))[0])  # (demos are stored in their fraction's order)
    direct = method.objective.predict({"state": data.state[[i]], "task": data.task[[i]]})[0, 0]
    np.testing.assert_allclose(a[1], direct.detach().numpy(), rtol=1e-5, atol=1e-6)
    # the state statistics travel with the checkpoint
    sd = method.objective.state_dict()
    assert torch.equal(sd["state_norm.mean"], torch.as_tensor(data.stats()["state_mean"]))


def test_the_poses_feature_set_reads_no_joint_angle_and_no_velocity(tmp_path):
    """`flat.state_features=poses`: of the flattened state (here qpos and qvel = 10 numbers) the policy reads only the
    finger joints (7, 8), and everything after it (the gripper's and objects' poses); the mask travels with the
    checkpoint, so the evaluator's full observation is read the same way."""
    task = task_specs(SUITE)[0]
    made = write_state_pass(tmp_path, task, 3, 16, seed=0, state_width=11)
    data = DemoDataset(DatasetConfig(root=str(tmp_path), suite=SUITE, tasks=(0,), observation="state"))
    assert data.state_mask("poses")[0].tolist() == [0] * 7 + [1, 1, 0] + [1] * 6
    assert (data.state_mask("all") == 1).all() and (data.state_mask("poses")[1] == 1).all()  # a task without demos
    with pytest.raises(ValueError, match="unknown state feature set 'joints'"):
        build_method("baku_state", "smoke", data.instructions, {"flat.state_features": "joints"})
    method = build_method("baku_state", "smoke", data.instructions, {"flat.state_features": "poses"})
    method.fit(data, tmp_path / "run", seed=0)
    policy = method.policy()

    def act(x: np.ndarray) -> np.ndarray:
        policy.reset(0)
        return policy.act([{"privileged": x, "language": task.language}], [0])[0]

    x = made[0][1].copy()
    base = act(x)
    for dim in (0, 6, 9):  # a joint angle, a velocity: not read
        y = x.copy()
        y[dim] += 5.0
        np.testing.assert_array_equal(act(y), base)
    for dim in (7, 12):  # a finger, a pose: read
        y = x.copy()
        y[dim] += 5.0
        assert not np.allclose(act(y), base)
    assert "state_norm.keep" in method.objective.state_dict()


def test_state_noise_perturbs_the_state_only_while_training():
    from hilam.models.baku import Baku, BakuConfig
    from hilam.models.gpt import GPTConfig

    torch.manual_seed(0)
    cfg = BakuConfig(cameras=(), proprio_dim=0, state_dim=6, lang_dim=4, repr_dim=16,
                     gpt=GPTConfig(n_layer=1, n_head=2, n_embd=16, dropout=0.0), state_noise=0.5)
    model = Baku(cfg)
    state, lang = torch.randn(3, 6), torch.randn(3, 4)
    model.train()
    assert not torch.allclose(model({}, None, lang, state), model({}, None, lang, state))
    model.eval()
    assert torch.equal(model({}, None, lang, state), model({}, None, lang, state))
    quiet = Baku(BakuConfig(**{**cfg.__dict__, "state_noise": 0.0})).train()
    assert torch.equal(quiet({}, None, lang, state), quiet({}, None, lang, state))


def test_state_history_is_the_same_window_in_training_and_at_evaluation(state_root, tmp_path):
    """`baku.state_history=3, baku.history_stride=2`: a training sample reads states t-4, t-2, t (the demo's first state
    before its start); the evaluator's policy, fed an episode step by step, builds the same window, and its action
    depends on the past states, not only the newest."""
    from hilam.data.dataset import StateHistorySource

    root, made = state_root
    data = DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=1.0, tasks=TASKS, observation="state"))
    source = StateHistorySource(data, 3, 2)
    start = int(data.demo_starts[1])  # a demo that does not begin at row 0
    window = source.batch(np.arange(start, start + 5))["state"]
    assert window.shape == (5, 3, data.state.shape[1])
    np.testing.assert_array_equal(window[0], data.state[[start] * 3])  # step 0: no past yet
    np.testing.assert_array_equal(window[3], data.state[[start, start + 1, start + 3]])
    np.testing.assert_array_equal(window[4], data.state[[start, start + 2, start + 4]])

    settings = {"baku.state_history": 3, "baku.history_stride": 2}
    method = build_method("baku_state", "smoke", data.instructions, settings)
    method.fit(data, tmp_path / "run", seed=0)
    policy = method.policy()
    task = task_specs(SUITE)[TASKS[0]]
    demo = made[TASKS[0]][1]
    i = int(np.flatnonzero((data.state == pad_state(demo[0], data.state.shape[1])).all(1))[0])
    fed = []  # the state windows the policy gives its model
    predict = policy.predict
    policy.predict = lambda batch: (fed.append(batch["state"][0]), predict(batch))[1]
    for episode in range(2):  # a second episode starts from its own first state again
        policy.reset(0)
        for t in range(5):
            policy.act([{"privileged": demo[t], "language": task.language}], [0])
    expected = source.batch(np.arange(i, i + 5))["state"]
    np.testing.assert_array_equal(np.stack(fed), np.concatenate([expected, expected]))
    # the model reads the past: the same newest state after another past gives another chunk
    sample = source.batch(np.asarray([i + 4]))
    other = sample | {"state": sample["state"] + np.array([3.0, 0.0, 0.0])[None, :, None]}
    assert not torch.allclose(method.objective.predict(sample), method.objective.predict(other))


def test_state_history_without_a_state_token_is_refused():
    from hilam.models.baku import Baku, BakuConfig

    with pytest.raises(ValueError, match="state_history=2 needs a state token"):
        Baku(BakuConfig(state_history=2, lang_dim=4, repr_dim=16))
    with pytest.raises(ValueError, match="must be >= 1"):
        BakuConfig(history_stride=0)
