"""The skill model's objective: which latent it is trained to predict ("next" or "next_window") and which frames
the frozen FDM decodes it from."""
import numpy as np
import pytest
import torch

from hilam.data.video import Clip
from hilam.confighash import keyed_fields
from hilam.method.config import HNetConfig, LatentActionConfig, SkillConfig
from hilam.method.latent_actions import FrameStore, LatentActionObjective
from hilam.method.skills import LatentSequences, SkillModel, SkillObjective

GAP = 3  # the labelling gap in frames
LAM = LatentActionConfig(image_size=8, patch=4, width=16, heads=2, idm_layers=1, fdm_layers=1, latent_dim=4)


def objective(target: str) -> SkillObjective:
    """Two clips whose frames and latents both carry their global frame index (pixel 0 and latent dim 0)."""
    lengths = (40, 50)
    starts = np.cumsum((0,) + lengths[:-1])
    clips, latents = [], []
    for start, n in zip(starts, lengths):
        idx = start + np.arange(n)
        frames = np.zeros((n, 8, 8, 3), np.uint8)
        frames[:, 0, 0, 0] = idx
        clips.append(Clip(frames, "", "synthetic"))
        latents.append(np.stack([idx, *np.random.default_rng(int(start)).normal(size=(3, n))], 1))
    store = FrameStore(clips)
    cfg = SkillConfig(hnet=HNetConfig(width=16, heads=2, main_layers=1), crop=24, rec_samples=3, target=target)
    torch.manual_seed(0)
    return SkillObjective(SkillModel(cfg, LAM.latent_dim), LatentActionObjective(LAM, store, 1).fdm,
                          LatentSequences.from_latents(latents, GAP), store)


@pytest.mark.parametrize("target,offset", [("next", 1), ("next_window", GAP)])
def test_the_fdm_decodes_the_predicted_latent_from_the_frame_it_labels(target, offset):
    obj = objective(target)
    batch = obj.crop_batch(np.arange(8))
    index = np.rint(batch["z"][..., 0] * obj.seqs.std[0] + obj.seqs.mean[0]).astype(int)  # frame of each position
    rows = np.arange(8)[:, None]
    src = index[rows, batch["rec_t"] + offset]
    assert obj.offset == offset and np.all(batch["rec_first"][..., 0, 0, 0] == src)
    assert np.all(batch["rec_later"][..., 0, 0, 0] == obj.store.later(src, GAP))


def test_the_latent_loss_is_zero_only_for_a_prediction_of_the_configured_target():
    """An oracle that outputs z_{t+o} at step t scores 0 on the target o steps ahead and not on the other."""
    for target, offset in (("next", 1), ("next_window", GAP)):
        obj = objective(target)
        batch = obj.crop_batch(np.arange(8))
        real = obj.model.forward
        obj.model.forward = lambda z, mask, o=offset: (torch.roll(z, -o, 1), real(z, mask)[1])
        assert obj.losses(batch)["latent"] < 1e-6
        wrong = GAP if offset == 1 else 1
        obj.model.forward = lambda z, mask, o=wrong: (torch.roll(z, -o, 1), real(z, mask)[1])
        assert obj.losses(batch)["latent"] > 0.1


def test_hilam_ahead_keys_its_own_skill_stage_and_leaves_the_default_key_unchanged():
    from hilam.method.config import preset
    from hilam.methods import configure

    base, ahead = configure("hilam", "cpu").cfg.shared, configure("hilam_ahead", "cpu").cfg.shared
    assert base.skills.target == "next" and ahead.skills.target == "next_window" and ahead.lam == base.lam
    assert "target" not in keyed_fields(base.skills) and keyed_fields(ahead.skills)["target"] == "next_window"
    assert preset("cpu").shared.skills.target == "next"
    with pytest.raises(ValueError, match="unknown skill-model target"):
        SkillConfig(target="previous")
