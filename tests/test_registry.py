"""Methods as plug-ins: the harness imports no method, presets follow the profile's scale, variants are override sets
of their method, `--set` overrides are typed and validated, and every committed cell (and shared stage) keeps its
name."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hilam.bench import CellConfig
from hilam.confighash import config_hash
from hilam.data.recipes import LEGACY
from hilam.envs.render_mode import LIBERO
from hilam.envs.suites import LIBERO_DEMOS
from hilam.methods import CellContext, configure, get_method, method_names
from hilam.overrides import parse_sets
from hilam.profiles import PROFILES, get_profile

REPO = Path(__file__).resolve().parents[1]
COMMITTED = sorted((REPO / "results" / "runs").glob("*/*/*.json"))
HARNESS = ["hilam.envs", "hilam.data", "hilam.models", "hilam.train", "hilam.evaluate", "hilam.bench", "hilam.methods",
           "hilam.profiles", "hilam.cli", "benchmarks.tables"]
METHOD_MODULES = ("hilam.method", "hilam.hnet", "hilam.lam", "hilam.skills", "hilam.stages", "hilam.hierarchy",
                  "baselines")


def test_the_harness_imports_no_method():
    """Every harness module (packages walked) loads without HiLAM's H-Net, IDM, skills, stages or any baseline."""
    code = f"""
import importlib, pkgutil, sys
for name in {HARNESS!r}:
    module = importlib.import_module(name)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
print("\\n".join(sorted(sys.modules)))
"""
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                            env=os.environ | {"OMP_NUM_THREADS": "1"}).stdout.split()
    assert "hilam.bench" in loaded and "hilam.data.expert.skills" in loaded
    leaked = [m for m in loaded if m in METHOD_MODULES or m.startswith(tuple(f"{p}." for p in METHOD_MODULES))]
    assert not leaked, leaked


# ---------------------------------------------------------------------------------------------- scales and variants
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_method_configures_on_every_profile_from_its_scales_preset(profile):
    scale = get_profile(profile).scale
    for name in method_names():
        conf = configure(name, profile)
        assert conf.profile.name == profile and conf.overrides == {}
        if conf.cfg is not None:  # a profile of the cpu scale (cpu_long, ...) runs the cpu presets
            assert conf.cfg == configure(conf.spec.base, scale, conf.spec.variant).cfg, name


def test_variants_are_override_sets_of_their_method():
    for name in method_names():
        spec = get_method(name)
        assert spec.name == name and get_method(spec.base).cls is spec.cls
        if spec.base != name:  # a variant: exactly its method with its overrides, recorded as such
            assert spec.variant and name.startswith(spec.base + "_")
            via_set = configure(spec.base, "cpu", spec.variant)
            assert configure(name, "cpu").cfg == via_set.cfg and configure(name, "cpu").profile == via_set.profile
            assert via_set.overrides == spec.variant  # each one changes something


def test_the_former_subclasses_settings_are_kept():
    """What the ablation classes set, field by field (their override sets must not drift)."""
    cpu = get_profile("cpu")
    assert configure("baku_l1", "cpu").profile.baku.head.loss == "l1"
    state = configure("baku_state", "cpu")
    assert state.observation == "state" and not state.new_instructions
    method = state.build(["a task"])
    assert method.profile.baku.cameras == () and method.profile.baku.proprio_dim == 0
    assert method.profile.train == cpu.state_train and method.observation == "state"
    hilam = {name: configure(name, "cpu").cfg for name in method_names() if name.startswith("hilam")}
    assert (hilam["hilam_stage1"].skill_level, hilam["hilam_latent"].skill_level, hilam["hilam"].skill_level) == (1, 0, 2)
    assert not hilam["hilam_nopretrain"].pretrain and hilam["hilam_predskill"].finetune_skill == "predicted"
    assert hilam["hilam_lang"].low_language and hilam["hilam_ahead"].shared.skills.target == "next_window"
    assert (hilam["hilam_widelam"].shared.lam.width, hilam["hilam_widelam"].shared.lam.idm_layers) == (192, 6)
    h2r = {name: configure(name, "cpu").cfg for name in method_names() if name.startswith("human2robot")}
    assert h2r["human2robot_novpm"].features == "video" and not h2r["human2robot_nopretrain"].pretrain_vpm
    assert h2r["human2robot_taskknn"].retrieval_scope == "task"


# the stage keys before methods became packages (empty corpus: its fingerprint is fixed), per scale and render mode
STAGE_KEYS = {
    ("cpu", "libero"): {"hilam": ("lam-f073e2cc8b", "skills-523ba2cf27"), "hilam_ahead": ("lam-f073e2cc8b", "skills-f20dd8ea58"),
                        "hilam_widelam": ("lam-3446b6fb6f", "skills-028663b8d1")},
    ("cpu", "fast"): {"hilam": ("lam-7b92bbd79a", "skills-382ef71e5e"), "hilam_ahead": ("lam-7b92bbd79a", "skills-b19fd1f296"),
                      "hilam_widelam": ("lam-ff9c4904cb", "skills-ef42d67d30")},
    ("paper", "libero"): {"hilam": ("lam-f45a1fa3c6", "skills-74a1e6d399"),
                          "hilam_ahead": ("lam-f45a1fa3c6", "skills-065831a8c5"),
                          "hilam_widelam": ("lam-aa8e21ef8d", "skills-46494d1127")},
    ("smoke", "fast"): {"hilam": ("lam-d750a2a656", "skills-f66ceb5967"),
                        "hilam_ahead": ("lam-d750a2a656", "skills-0655071ba8"),
                        "hilam_widelam": ("lam-e69f465b1c", "skills-7abc98e807")},
}


@pytest.mark.parametrize("scale, mode", sorted(STAGE_KEYS))
def test_hilam_stage_keys_are_unchanged_for_every_variant(scale, mode):
    from hilam.method.stages import SharedStages

    for name in (n for n in method_names() if get_method(n).base == "hilam"):
        method = configure(name, scale, {"render_mode": mode}).build(["a task"])
        method.place(CellContext())
        stages = SharedStages(method.cfg.shared)
        stages.corpus = []
        expected = STAGE_KEYS[(scale, mode)].get(name, STAGE_KEYS[(scale, mode)]["hilam"])
        assert (stages.lam_dir().name, stages.skills_dir().name) == expected, name


# ------------------------------------------------------------------------------------------------- committed cells
def recorded_mode(cell: dict) -> str | None:
    ev = cell.get("eval") or {}
    return (ev.get("render_mode") or LIBERO) if ev.get("rendered", True) else None


def committed_cell(path: Path) -> tuple[dict, CellConfig]:
    """A committed cell and the CellConfig that names it: its method, fraction, seed, profile, recipe, demo pool,
    evaluated benchmark and overrides, drawn in its recorded render mode (cells from before render modes: libero)."""
    c = json.loads(path.read_text())
    recipe = (c.get("data") or {}).get("recipe") or {"name": LEGACY}
    overrides = dict(c.get("overrides") or {})
    mode = recorded_mode(c)
    if mode and mode != get_profile(c["profile"]).render_mode:
        overrides["render_mode"] = mode
    return c, CellConfig(suite=c["suite"], method=c["method"], frac=c["frac"], seed=c["seed"], profile=c["profile"],
                         recipe=recipe["name"], eval_suite=c.get("eval_suite") or "", overrides=overrides,
                         demos_per_task=(c.get("cell_config") or {}).get("demos_per_task", LIBERO_DEMOS),
                         results=str(REPO / "results" / "runs"), runs="runs")


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(REPO / "results" / "runs")))
def test_every_committed_cell_resolves_to_its_file_and_run_directory(path):
    c, cell = committed_cell(path)
    assert cell.path() == path
    stem = path.stem.removesuffix(f"-on-{c.get('eval_suite')}")
    assert cell.run_dir() == Path("runs") / c["suite"] / c["method"] / stem


def test_committed_cells_find_the_shared_stages_they_trained():
    """HiLAM's skill stage follows from its recorded IDM stage; Being-H0's tokenizer and pretrained model from the
    corpus: with each cell's method as configured now, the keys are the recorded directories'."""
    from dataclasses import replace

    from baselines.being_h0.shared import pretrain_dir, tokenizer_dir

    checked = set()
    for path in COMMITTED:
        c, cell = committed_cell(path)
        method = cell.configured().build(["a task"])
        method.place(CellContext())
        shared = ((c.get("method_config") or {}).get("skills") or {}).get("shared") or c["method_config"].get("motion")
        if not shared:
            continue
        if "lam" in shared:
            s = method.cfg.shared
            lam, skills = Path(shared["lam"]["dir"]).name, Path(shared["skills"]["dir"]).name
            assert skills == f"skills-{config_hash(lam, s.skills, s.skills_train, 0)}", path
        else:
            video = replace(method.cfg.video, image_size=method.profile.image_size)
            tok = tokenizer_dir(method.cfg, video, method.shared_root)
            assert str(tok) == shared["tokenizer"]["dir"], path
            lang_dim = 384  # the width of all-MiniLM-L6-v2, the cpu profile's encoder
            assert method.language.encoder == "minilm"
            assert str(pretrain_dir(method.cfg, tok, method.profile.image_size, method.language, lang_dim)) == \
                shared["pretrain"]["dir"], path
        checked.add(c["method"])
    assert checked == {"hilam", "being_h0", "being_h0_flatvq"}


# ------------------------------------------------------------------------------------------------------- overrides
def test_overrides_are_typed_and_a_bad_name_is_refused_naming_the_valid_ones():
    conf = configure("hilam", "cpu", parse_sets(["hilam.skill_level=1", "train.steps=30000", "hilam.pretrain=false",
                                                 "baku.encoder.widths=16,32", "hilam.language.encoder=t5"]))
    assert conf.cfg.skill_level == 1 and conf.profile.train.steps == 30000 and conf.cfg.pretrain is False
    assert conf.profile.baku.encoder.widths == (16, 32) and conf.cfg.language.encoder == "t5"
    assert get_profile("cpu").train.steps == 15000  # the named profile is untouched
    with pytest.raises(ValueError, match="has no setting 'skil_level'; its settings: skill_level, pretrain"):
        configure("hilam", "cpu", {"hilam.skil_level": 1})
    with pytest.raises(ValueError, match="unknown setting 'hilam' for baku; settings start with one of: image_size"):
        configure("baku", "cpu", {"hilam.skill_level": 1})
    with pytest.raises(ValueError, match="takes a whole number"):
        configure("baku", "cpu", {"train.steps": 1.5})
    with pytest.raises(ValueError, match="takes true or false"):
        configure("hilam", "cpu", {"hilam.pretrain": "maybe"})
    with pytest.raises(ValueError, match="is a group of settings; set one of them: train.<steps, batch_size"):
        configure("baku", "cpu", {"train": "1"})
    with pytest.raises(ValueError, match="fixed; choose another --profile"):
        configure("baku", "cpu", {"scale": "paper"})
    with pytest.raises(ValueError, match="unknown render mode"):
        configure("baku", "cpu", {"render_mode": "pretty"})
    with pytest.raises(ValueError, match="unknown skill-model target"):
        configure("hilam", "cpu", {"hilam.shared.skills.target": "previous"})
    with pytest.raises(ValueError, match="expected key=value"):
        parse_sets(["train.steps"])


def test_overrides_name_the_cell_apart_and_one_that_changes_nothing_is_the_plain_cell():
    plain = CellConfig(method="hilam", profile="cpu")
    same = CellConfig(method="hilam", profile="cpu", overrides={"hilam.skill_level": "2"})  # the preset's value
    assert same.configured().overrides == {} and same.path() == plain.path()
    one = CellConfig(method="hilam", profile="cpu", overrides={"hilam.skill_level": "1"})
    typed = CellConfig(method="hilam", profile="cpu", overrides={"hilam.skill_level": 1})
    assert one.path() == typed.path() != plain.path() and one.run_dir().name == one.path().stem
    assert one.path().stem.startswith(plain.path().stem + "-set") and len(one.set_suffix()) == len("-set") + 8
    # a render mode is named as -fast is, not hashed: the LIBERO-drawn cpu cells keep their names
    assert CellConfig(method="hilam", profile="cpu", overrides={"render_mode": "libero"}).path().name == \
        "frac0.1-seed0-cpu.json"
    # a variant is not an override of its method: its cells are its own, under its name
    assert CellConfig(method="hilam_stage1", profile="cpu").path().parent.name == "hilam_stage1"
    assert CellConfig(method="hilam_stage1", profile="cpu").set_suffix() == ""


def test_make_bench_passes_its_set_to_the_command():
    out = subprocess.run(["make", "-n", "bench", "SET=train.steps=2 hilam.skill_level=1", "VENV=.venv"],
                         capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert "--set train.steps=2 hilam.skill_level=1" in out


def test_a_larger_demo_pool_is_another_cell_and_another_table_row():
    """A fraction of 100 demos per task is other training data than the same fraction of LIBERO's 50: its cell,
    run directory and table row are its own, never the 50-demo cell reloaded or pooled."""
    from benchmarks.tables import demo_pool, identity

    plain = CellConfig(method="baku_state", profile="cpu", frac=1.0, recipe="dart20_fixed")
    more = CellConfig(**{**plain.__dict__, "demos_per_task": 100})
    assert plain.path().name == "frac1-seed0-cpu-dart20_fixed.json"
    assert more.path().name == "frac1-seed0-cpu-dart20_fixed-pool100.json" and more.run_dir() != plain.run_dir()
    cell = {"suite": "libero_10", "method": "baku_state", "frac": 1.0, "seed": 0, "profile": "cpu",
            "cell_config": {"demos_per_task": 50}}
    bigger = {**cell, "cell_config": {"demos_per_task": 100}}
    assert [demo_pool(c) for c in (cell, bigger, {k: v for k, v in cell.items() if k != "cell_config"})] == [50, 100, 50]
    assert identity(cell) != identity(bigger)
