"""Tables and plots from synthetic results cells: golden Markdown, determinism, paper numbers kept apart."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.tables import cell_settings, comparisons, load_cells, main, pool, tables

GOLDEN = Path(__file__).parent / "golden"


def write_cell(root: Path, suite: str, method: str, frac: float, seed: int, rate: float, episodes: int = 100,
               demos: str | None = None, profile: str = "cpu") -> None:
    per_task = {"task a": min(1.0, rate + 0.1), "task b": max(0.0, rate - 0.1)}
    cell = {"suite": suite, "method": method, "frac": frac, "seed": seed, "profile": profile, "success_rate": rate,
            "episodes": episodes, "ci95": [0, 1], "per_task": per_task}
    if demos:
        cell["data"] = {"fingerprint": demos}
    path = root / suite / method / f"frac{frac:g}-seed{seed}-{profile}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cell))


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for seed, r in ((0, 0.20), (1, 0.30)):
        write_cell(root, "libero_10", "baku", 0.1, seed, r)
    write_cell(root, "libero_10", "hilam", 0.1, 0, 0.40)
    write_cell(root, "libero_10", "hilam_latent", 0.1, 0, 0.35)
    write_cell(root, "libero_10", "baku", 1.0, 0, 0.70)
    write_cell(root, "libero_object", "baku", 1.0, 0, 0.90, episodes=50)
    return root


def test_tables_match_golden_files(runs: Path, tmp_path: Path):
    out = tmp_path / "tables"
    names = tables(pool(load_cells(runs)), out)
    assert "fractions_libero_10_cpu" in names and "ablations_cpu" in names
    for name in ("fractions_libero_10_cpu.md", "suites_cpu.md", "ablations_cpu.md"):
        assert (out / name).read_text() == (GOLDEN / name).read_text(), name


def test_seeds_are_pooled_and_papers_stay_in_their_own_columns(runs: Path, tmp_path: Path):
    pooled = pool(load_cells(runs))
    p = pooled[("libero_10", "baku", 0.1, "cpu")]
    assert p.episodes == 200 and p.successes == 50 and p.rate == pytest.approx(0.25)
    tables(pooled, tmp_path / "t")
    rows = (tmp_path / "t" / "fractions_libero_10_cpu.csv").read_text().splitlines()
    assert rows[0] == "method,10%,100%"
    assert rows[-2:] == ["paper: BAKU,23,86", "paper: HiLAM,45,94"]  # the paper's numbers in rows of their own


def test_goal_progress_is_pooled_over_the_episodes_that_recorded_it(runs: Path, tmp_path: Path):
    """Two seeds, one recording 100 episodes at 0.5 and one 50 at 0.2: pooled 0.4; a cell without it is left out."""
    for seed, end, n in ((0, 0.5, 100), (1, 0.2, 50)):
        write_cell(runs, "libero_10", "baku", 0.3, seed, 0.1, episodes=n)
        path = runs / "libero_10" / "baku" / f"frac0.3-seed{seed}-cpu.json"
        cell = json.loads(path.read_text())
        path.write_text(json.dumps(cell | {"goal_progress": {"end": end, "peak": end + 0.1, "start": 0.0,
                                                              "episodes": n}}))
    pooled = pool(load_cells(runs))
    g = pooled[("libero_10", "baku", 0.3, "cpu")].goals
    assert g["end"] == pytest.approx(0.4) and g["peak"] == pytest.approx(0.5) and g["episodes"] == 150
    assert pooled[("libero_10", "baku", 0.1, "cpu")].goals is None
    names = tables(pooled, tmp_path / "t")
    assert "goals_libero_10_cpu" in names and "goals_libero_object_cpu" not in names
    rows = (tmp_path / "t" / "goals_libero_10_cpu.csv").read_text().splitlines()
    assert rows[1:] == ["baku,30%,10.0,40.0,50.0,0.0,150 (150)"]


def test_make_tables_twice_gives_identical_files(runs: Path, tmp_path: Path, monkeypatch):
    digests = []
    for out in ("a", "b"):
        monkeypatch.setattr("sys.argv", ["tables", "--runs", str(runs), "--out", str(tmp_path / out)])
        main()
        digests.append({p.name: p.read_bytes() for p in sorted((tmp_path / out).iterdir())})
    assert digests[0] == digests[1] and any(n.endswith(".png") for n in digests[0])


def test_cells_on_other_demos_and_other_families_ablations_are_shown(runs: Path, tmp_path: Path):
    write_cell(runs, "libero_10", "being_h0", 0.1, 0, 0.17, demos="aaaa")
    write_cell(runs, "libero_10", "being_h0_nopretrain", 0.1, 0, 0.05, demos="bbbb")
    tables(pool(load_cells(runs)), tmp_path / "t")
    note = (tmp_path / "t" / "fractions_libero_10_cpu.md").read_text().split("Not every cell")[1]
    assert "- 10%: aaaa: being_h0; bbbb: being_h0_nopretrain; unrecorded: baku, hilam, hilam_latent" in note
    assert "100%" not in note  # one cell at 100%: nothing to tell apart
    rows = (tmp_path / "t" / "ablations_cpu.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["being_h0", "being_h0_nopretrain", "hilam", "hilam_latent"]


def test_rows_run_with_changed_settings_say_what_changed(runs: Path, tmp_path: Path):
    path = runs / "libero_10" / "baku" / "frac1-seed0-cpu.json"
    cell = json.loads(path.read_text())
    path.unlink()
    cell["overrides"] = {"baku.head.loss": "l1"}
    (path.parent / "frac1-seed0-cpu-setx.json").write_text(json.dumps(cell))
    cells = load_cells(runs)
    tables(pool(cells), tmp_path / "t", cell_settings(cells))
    md = (tmp_path / "t" / "fractions_libero_10_cpu.md").read_text()
    suffix = next(c["method"] for c in cells if "-set" in c["method"]).removeprefix("baku")
    assert f"| baku{suffix} |" in md and f"- `{suffix}`: `baku.head.loss=l1`" in md
    plain = (tmp_path / "t" / "methods_libero_10_cpu.md").read_text()  # README's table: the methods without their variants
    assert f"| baku{suffix} |" not in plain and "| hilam |" in plain and "| paper: BAKU | 23 |" in plain


def test_a_broken_cell_is_named(tmp_path: Path):
    bad = tmp_path / "runs" / "libero_10" / "baku" / "frac0.1-seed0-cpu.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(SystemExit, match="frac0.1-seed0-cpu.json"):
        load_cells(tmp_path / "runs")


def test_a_cell_stored_twice_is_refused_not_pooled_as_a_seed(runs: Path):
    """A copy of a cell under another name is the same seed: refused, naming both files; another recipe is not."""
    cell = runs / "libero_10" / "baku" / "frac0.1-seed0-cpu.json"
    (cell.parent / "frac0.1-seed0-cpu (copy).json").write_text(cell.read_text())
    with pytest.raises(SystemExit, match=r"frac0.1-seed0-cpu \(copy\).json and .*frac0.1-seed0-cpu.json"):
        load_cells(runs)
    other = json.loads(cell.read_text()) | {"data": {"recipe": {"name": "dart10", "action_noise": 0.1}}}
    (cell.parent / "frac0.1-seed0-cpu (copy).json").write_text(json.dumps(other))
    cells = load_cells(runs)
    assert len(cells) == 7
    # another recipe's cell is its own row, never a second seed of the legacy (clean) one
    assert sorted(c["method"] for c in cells if c["seed"] == 0 and c["frac"] == 0.1 and "baku" in c["method"]) == [
        "baku", "baku+dart10"]
    # a cell that names the legacy recipe is the same cell as one from before recipes were recorded
    legacy = json.loads(cell.read_text()) | {"data": {"recipe": {"name": "clean"}}}
    (cell.parent / "frac0.1-seed0-cpu (copy).json").write_text(json.dumps(legacy))
    with pytest.raises(SystemExit, match="twice"):
        load_cells(runs)


def test_a_cell_run_with_changed_settings_is_a_row_of_its_own(runs: Path):
    """`--set` overrides make another cell (named -set<hash> as its file is); a render mode alone is named apart."""
    from hilam.overrides import overrides_suffix

    cell = runs / "libero_10" / "baku" / "frac0.1-seed0-cpu.json"
    changed = json.loads(cell.read_text()) | {"overrides": {"train.steps": 30000, "render_mode": "libero"}}
    (cell.parent / "frac0.1-seed0-cpu-set.json").write_text(json.dumps(changed))
    methods = sorted(c["method"] for c in load_cells(runs) if c["seed"] == 0 and c["frac"] == 0.1)
    assert f"baku{overrides_suffix({'train.steps': 30000})}" in methods and "baku" in methods
    no_op = json.loads(cell.read_text()) | {"overrides": {"render_mode": "libero"}}  # the legacy cells' mode
    (cell.parent / "frac0.1-seed0-cpu-set.json").write_text(json.dumps(no_op))
    with pytest.raises(SystemExit, match="twice"):
        load_cells(runs)


@pytest.mark.parametrize("change, message", [({"episodes": 0}, "0 episodes"), ({"seed": None}, "'seed' field"),
                                             ({"per_task": None}, "'per_task' field")])
def test_a_cell_of_no_episodes_or_missing_a_field_is_named(tmp_path: Path, change: dict, message: str):
    write_cell(tmp_path / "runs", "libero_10", "baku", 0.1, 0, 0.2)
    path = tmp_path / "runs" / "libero_10" / "baku" / "frac0.1-seed0-cpu.json"
    cell = json.loads(path.read_text()) | change
    path.write_text(json.dumps({k: v for k, v in cell.items() if v is not None}))
    with pytest.raises(SystemExit, match=rf"frac0.1-seed0-cpu.json: .*{message}"):
        load_cells(tmp_path / "runs")


def test_comparisons_pair_only_identical_demos_and_test_against_baku(tmp_path: Path):
    root = tmp_path / "runs"
    write_cell(root, "libero_10", "baku", 1.0, 0, 0.00, demos="old")
    write_cell(root, "libero_10", "baku", 1.0, 1, 0.07, demos="new")
    write_cell(root, "libero_10", "hilam", 1.0, 1, 0.20, demos="new")
    write_cell(root, "libero_10", "hilam", 1.0, 0, 0.00)  # no fingerprint: pooled, never paired
    cells = load_cells(root)
    names = comparisons(cells, pool(cells), tmp_path / "t")
    assert names == ["vs_baku_cpu", "paired_cpu"]
    paired = (tmp_path / "t" / "paired_cpu.csv").read_text().splitlines()[1:]
    assert paired == ["libero_10,100%,new,baku s1,hilam s1,7.0 (7/100),20.0 (20/100),-13.0,0.012"]
    vs = (tmp_path / "t" / "vs_baku_cpu.csv").read_text().splitlines()[1:]
    # pooled: hilam 20/200 against baku 7/200
    assert vs == ["libero_10,100%,hilam,baku,\"new, unrecorded\",10.0 (20/200),3.5 (7/200),+6.5,0.015"]


def test_profile_variants_are_compared_with_the_cpu_profile(tmp_path: Path):
    root = tmp_path / "runs"
    write_cell(root, "libero_object", "baku", 1.0, 0, 0.61, demos="a")
    write_cell(root, "libero_object", "baku", 1.0, 0, 0.46, demos="b", profile="cpu_aug")
    write_cell(root, "libero_object", "hilam", 1.0, 0, 0.50, profile="cpu_aug")  # no cpu cell to compare with
    cells = load_cells(root)
    names = comparisons(cells, pool(cells), tmp_path / "t")
    assert "vs_cpu_profile" in names
    rows = (tmp_path / "t" / "vs_cpu_profile.csv").read_text().splitlines()[1:]
    assert rows == ["libero_object,100%,baku,cpu_aug,cpu,b,46.0 (46/100),61.0 (61/100),-15.0,0.047"]
