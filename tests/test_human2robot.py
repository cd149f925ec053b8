"""Human2Robot baseline: retrieval, demo pairing, VPM mechanics (zero-init behaviour path, one-step features,
falling denoising loss), the action decoder, the whole method on synthetic demos, and a real-simulator smoke run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.human2robot.cache import CachedFeatures
from baselines.human2robot.config import preset
from baselines.human2robot.data import Episodes, PairedClips
from baselines.human2robot.decoder import ActionDecoder, VPMFeatures
from baselines.human2robot.diffusion import DDPM
from baselines.human2robot.method import Human2RobotMethod
from baselines.human2robot.objectives import VideoPredictionObjective
from baselines.human2robot.retrieval import FirstFrameIndex
from baselines.human2robot.vpm import VideoPredictionModel
from hilam.data.dataset import DatasetConfig, DemoDataset
from hilam.data.schema import IMAGE_KEYS, task_file, write_task_file
from hilam.envs.suites import task_specs
from hilam.methods import build_method
from hilam.profiles import get_profile
from tests.helpers import adam_steps

SUITE, TASKS, DEMOS, SIZE = "libero_object", (0, 1, 2), 3, 32
COLOURS = np.array([[220, 40, 40], [40, 200, 60], [50, 70, 230]])


def task_frames(task: int, T: int, seed: int, size: int = SIZE) -> np.ndarray:
    """A task-coloured scene with a bright square moving right (the "robot"), plus per-demo noise."""
    rng = np.random.default_rng(seed)
    frames = np.empty((T, size, size, 3), np.uint8)
    for t in range(T):
        img = COLOURS[task] * 0.6 + rng.normal(0, 12, (size, size, 3))
        x = int(t * (size - 8) / max(T - 1, 1))
        img[size // 2 - 4:size // 2 + 4, x:x + 8] = 255
        frames[t] = np.clip(img, 0, 255)
    return frames


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> DemoDataset:
    from tests.conftest import make_demo

    root = tmp_path_factory.mktemp("h2r_demos")
    for task in task_specs(SUITE):
        if task.task_id not in TASKS:
            continue
        demos = []
        for i in range(DEMOS):
            d = make_demo(24 + i, size=SIZE, seed=100 * task.task_id + i)
            for k in IMAGE_KEYS:
                d.obs[k] = task_frames(task.task_id, len(d.actions), seed=1000 * task.task_id + 10 * i + len(k))
            d.actions = np.clip(d.actions * 0.05 + 0.5 * (task.task_id - 1), -1, 1)  # a per-task action offset
            d.obs["joint_states"] = d.obs["joint_states"] * 0.1 + task.task_id  # proprio tells the task apart
            demos.append(d)
        write_task_file(task_file(root, SUITE, task.name), demos, language=task.language, problem_name=task.name,
                        bddl_file_name=task.bddl_file, env_args={}, extra_attrs={"pool_size": DEMOS})
    return DemoDataset(DatasetConfig(root=str(root), suite=SUITE, frac=1.0, chunk=10, tasks=TASKS))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine two threads wait on each other
    (measured here: the decoder test took 43 s with 2 threads, 3 s with 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cfg():
    return preset("smoke")


@pytest.fixture(scope="module")
def episodes(data, cfg) -> Episodes:
    return Episodes(data, cfg.vpm.frame_size, cfg.robot_camera, cfg.demo_camera)


def test_knn_retrieves_an_episode_of_the_same_task(episodes, cfg):
    index = FirstFrameIndex(episodes.first_frames, cfg.embed_size, labels=episodes.task)
    queries = np.stack([task_frames(t, 2, seed=999 + t)[0] for t in TASKS])  # unseen first frames
    found = index.nearest(queries)
    assert episodes.task[found].tolist() == list(TASKS)
    assert index.leave_one_out_accuracy() == 1.0
    # scoped search never leaves the given task, even when asked for another task's episodes
    assert episodes.task[index.nearest(queries, scope=np.array([2, 0, 1]))].tolist() == [2, 0, 1]


def test_human_clip_comes_from_another_demo_of_the_same_task(data, episodes, cfg):
    clips = PairedClips(data, episodes, cfg.vpm.stride, cfg.vpm.horizon)
    idx = np.arange(len(data))
    partner, own = clips.partner(idx), episodes.episode_of[idx]
    assert (episodes.task[partner] == episodes.task[own]).all() and (partner != own).all()
    assert len(set(partner[own == 0].tolist())) == DEMOS - 1  # different steps see different partners
    b = clips.batch(idx[:5])
    s, f = cfg.vpm.frame_size, cfg.vpm.horizon
    assert b["frame"].shape == (5, s, s, 3) and b["future"].shape == b["demo"].shape == (5, f, s, s, 3)
    np.testing.assert_array_equal(b["future"][0, 0], episodes.robot[cfg.vpm.stride])  # step 0 + stride


def make_vpm(cfg) -> tuple[VideoPredictionModel, DDPM]:
    torch.manual_seed(0)
    return VideoPredictionModel(cfg.vpm), DDPM(cfg.vpm.diffusion_steps, cfg.vpm.cosine_offset)


def test_zero_initialised_behaviour_extractor_leaves_the_denoiser_unchanged(cfg):
    vpm, _ = make_vpm(cfg)
    v, g = cfg.vpm, torch.Generator().manual_seed(1)
    noisy = torch.randn(2, v.horizon, 3, v.frame_size, v.frame_size, generator=g)
    frame, t = torch.randn(2, 3, v.frame_size, v.frame_size, generator=g), torch.tensor([3, 11])
    demo_a, demo_b = torch.randn_like(noisy), torch.randn_like(noisy) * 3
    with torch.no_grad():
        base = vpm(noisy, t, frame, None)
        assert torch.equal(vpm(noisy, t, frame, demo_a), base) and torch.equal(vpm(noisy, t, frame, demo_b), base)
        torch.nn.init.normal_(vpm.behaviour.out.weight, std=0.1)  # once trained, the demonstration matters
        assert not torch.allclose(vpm(noisy, t, frame, demo_a), base)


def test_one_step_features_have_the_up_block_shapes(cfg):
    vpm, ddpm = make_vpm(cfg)
    feats = VPMFeatures(vpm, ddpm, cfg.vpm, cfg.decoder)
    v, B = cfg.vpm, 3
    batch = {"frame": np.zeros((B, v.frame_size, v.frame_size, 3), np.uint8),
             "demo": np.zeros((B, v.horizon, v.frame_size, v.frame_size, 3), np.uint8)}
    maps = feats.maps(batch)
    levels = len(v.widths)
    assert [tuple(m.shape) for m in maps] == [
        (B, v.horizon, c, v.frame_size >> (levels - 1 - j), v.frame_size >> (levels - 1 - j))
        for j, c in enumerate(reversed(v.widths))]
    assert feats(batch).shape == (B, feats.n_tokens, cfg.decoder.gpt.n_embd)
    assert not any(p.requires_grad for p in feats.vpm.parameters())


def test_denoising_loss_falls(data, episodes, cfg):
    vpm, ddpm = make_vpm(cfg)
    obj = VideoPredictionObjective(vpm, ddpm)
    clips = PairedClips(data, episodes, cfg.vpm.stride, cfg.vpm.horizon)
    held = clips.batch(np.arange(0, len(data), 3))
    g = torch.Generator().manual_seed(2)
    t = torch.randint(0, ddpm.steps, (len(held["frame"]),), generator=g)
    noise = torch.randn(*held["future"].shape[:2], 3, *held["future"].shape[2:4], generator=g)
    with torch.no_grad():
        before = float(obj.loss(held, t, noise))
    rng = np.random.default_rng(0)
    adam_steps(obj.parameters(), lambda: obj(clips.batch(rng.integers(0, len(data), 8))), 30)
    with torch.no_grad():
        after = float(obj.loss(held, t, noise))
    assert after < 0.8 * before, (before, after)


def test_action_decoder_loss_falls_on_cached_one_step_features(data, episodes, cfg):
    vpm, ddpm = make_vpm(cfg)
    st = data.stats()
    feats = VPMFeatures(vpm, ddpm, cfg.vpm, cfg.decoder)
    dec = ActionDecoder(feats, cfg.decoder, st["proprio_mean"], st["proprio_std"])
    cache = CachedFeatures(PairedClips(data, episodes, cfg.vpm.stride, cfg.vpm.horizon), feats, 64, seed=0)
    assert [x.shape[1:] for x in cache.pooled] == [(cfg.vpm.horizon * cfg.decoder.pool ** 2, c)
                                                    for c in reversed(cfg.vpm.widths)]
    batch = cache.batch(np.arange(len(data)))
    losses = adam_steps([p for p in dec.parameters() if p.requires_grad], lambda: dec(batch), 80)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses
    assert all(p.grad is None for p in dec.features.vpm.parameters())  # the VPM stays frozen


def fake_obs(task: int, size: int = 128) -> dict:
    return {"agentview_rgb": task_frames(task, 2, seed=7 + task, size=size)[0],
            "eye_in_hand_rgb": task_frames(task, 2, seed=8 + task, size=size)[0],
            "joint_states": np.zeros(7), "gripper_states": np.zeros(2)}


@pytest.mark.parametrize("name", ["human2robot", "human2robot_novpm", "human2robot_nopretrain"])
def test_method_fits_and_acts_with_retrieved_demos(name, data, tmp_path):
    method = build_method(name, "smoke", data.instructions)
    out = method.fit(data, tmp_path, seed=0)
    assert out["steps"] == method.cfg.decoder_train.steps and np.isfinite(out["final_loss"])
    assert ("vpm" in out) == (name == "human2robot")
    policy = method.policy()
    for s in (0, 1):
        policy.reset(s)
    obs = [fake_obs(t) | {"language": data.instructions[t]} for t in (2, 0)]
    for _ in range(3):
        actions = policy.act(obs, [0, 1])
    assert actions.shape == (2, 7) and np.abs(actions).max() <= 1.0
    assert [policy.slots[s].step for s in (0, 1)] == [3, 3]
    assert policy.retrieval_accuracy() == 1.0  # retrieved once per episode, from the right task
    d = method.describe()
    assert d["eval_retrieval_same_task"] == 1.0 and d["eval_retrieval_episodes"] == 2
    assert d["episodes"] == len(TASKS) * DEMOS


def test_a_finished_decoder_run_resumes_without_rebuilding_the_feature_cache(data, tmp_path, monkeypatch):
    """The cache costs minutes per 10k samples on a CPU and only feeds decoder training: resuming a finished cell
    (to finish its evaluation) must not rebuild it, and must give the same trained decoder."""
    import baselines.human2robot.method as h2r_method
    from hilam.train import finished

    first = Human2RobotMethod(get_profile("smoke"), data.instructions)
    out = first.fit(data, tmp_path, seed=0)
    steps = first.cfg.decoder_train.steps
    assert finished(tmp_path / "decoder", steps) and not finished(tmp_path / "decoder", steps + 1)
    assert not finished(tmp_path / "nothing", 1) and first.stats["feature_cache_mb"] > 0

    class NoCache(CachedFeatures):
        def __init__(self, *args, **kwargs):
            raise AssertionError("the feature cache was rebuilt for a finished decoder run")

    monkeypatch.setattr(h2r_method, "CachedFeatures", NoCache)
    again = Human2RobotMethod(get_profile("smoke"), data.instructions)
    resumed = again.fit(data, tmp_path, seed=0)
    assert resumed["steps"] == steps and resumed["final_loss"] == out["final_loss"]
    assert again.stats["feature_cache_mb"] is None
    for a, b in zip(first.decoder.state_dict().values(), again.decoder.state_dict().values()):
        assert torch.equal(a, b)


def test_smoke_run_on_the_real_simulator(tmp_path, object_demos):
    """Demos from the scripted expert, the Method class trained on them, one evaluated episode."""
    from hilam.evaluate import EvalConfig, evaluate

    profile = get_profile("smoke")
    data = DemoDataset(DatasetConfig(root=str(object_demos), suite="object", frac=1.0, tasks=(3,), chunk=10,
                                     image_size=profile.image_size))
    method = Human2RobotMethod(profile, data.instructions)
    method.fit(data, tmp_path / "run", seed=0)
    r = evaluate(method.policy(), EvalConfig(suite="object", tasks=(3,), episodes_per_task=1, workers=1, max_steps=30))
    assert r["episodes"] == 1 and not r["errors"]
    d = method.describe()
    assert d["episodes"] == 2 and d["episodes_paired_with_themselves"] == 0 and d["eval_retrieval_same_task"] == 1.0
