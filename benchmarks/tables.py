"""Results tables and plots, rebuilt from the results cells alone (`make tables`).

    python -m benchmarks.tables --runs results/runs --out results/tables

Cells of the same (suite, method, fraction, profile) are pooled over seeds: the rate is successes /
episodes over all seeds, the interval a Wilson 95% interval on the pooled episodes, and the seed
spread is shown as well. Where cells recorded it, the share of each task's goal predicates that hold at an
episode's end (a graded measure of progress, pooled over episodes) gets its own table. The papers' numbers sit
in their own labelled rows or columns. Comparisons come in two kinds: every method against flat BAKU, pooled (the
issue's question, e.g. HiLAM - BAKU at 10%), and every pair of cells trained on identical demos
(`data.fingerprint`), where only method and seed differ; both with a two-sided Fisher's exact p. Output is
deterministic: the same cells give byte-identical files.
"""
from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from scipy.stats import fisher_exact

from benchmarks.paper_numbers import SOURCE, paper_rate
from hilam.data.recipes import LEGACY
from hilam.envs.render_mode import LIBERO
from hilam.envs.suites import LIBERO_DEMOS
from hilam.evaluate import wilson_interval
from hilam.methods import method_names
from hilam.overrides import overrides_suffix

BASE_PROFILE = "cpu"  # the profile every variant is compared against


@cache  # the registry is read once per method name, not once per table cell
def family(method: str) -> str | None:
    """The registered method a variant `<method>_<change>` ablates ('being_h0_flatvq' -> 'being_h0'); None for a
    method that is no variant. The registry decides, so a new method's ablations need no list kept here."""
    bases = [b for b in method_names() if method.startswith(b + "_")]
    return max(bases, key=len) if bases else None


@dataclass
class Pooled:
    suite: str
    method: str
    frac: float
    profile: str
    seeds: list[int]
    successes: int
    episodes: int
    seed_rates: list[float]
    per_task: dict[str, float]
    demos: list[str]  # the cells' data fingerprints ("unrecorded" for cells made before they were recorded)
    goals: dict | None = None  # goal predicates holding (end, peak, start), pooled over the episodes that recorded them

    @property
    def rate(self) -> float:
        return self.successes / max(self.episodes, 1)

    def cell(self) -> str:
        lo, hi = wilson_interval(self.successes, self.episodes)
        spread = f", seeds sd {np.std(self.seed_rates):.2f}" if len(self.seeds) > 1 else ""
        return f"{100 * self.rate:.1f} [{100 * lo:.0f}, {100 * hi:.0f}] (n={self.episodes}, {len(self.seeds)} seed{'s' * (len(self.seeds) > 1)}{spread})"


REQUIRED = ("suite", "method", "frac", "seed", "profile", "success_rate", "episodes", "per_task")


def recipe_name(cell: dict) -> str:
    """The demo recipe a cell's demos were made with (cells from before recipes: the legacy one)."""
    recipe = (cell.get("data") or {}).get("recipe") or {"name": LEGACY}
    return recipe["name"] if isinstance(recipe, dict) else str(recipe)


def eval_suite(cell: dict) -> str:
    """The benchmark a cell was evaluated on (cells from before --eval-suite: the suite it trained on)."""
    return cell.get("eval_suite") or cell["suite"]


def render_mode(cell: dict) -> str | None:
    """The render mode a cell's frames were drawn in (None: nothing rendered; cells from before render modes: libero)."""
    ev = cell.get("eval") or {}
    return (ev.get("render_mode") or LIBERO) if ev.get("rendered", True) else None


def named_settings(cell: dict) -> dict:
    """The settings a cell changed by name (`--set`), without the render mode (named apart)."""
    return {k: v for k, v in (cell.get("overrides") or {}).items() if k != "render_mode"}


def set_suffix(cell: dict) -> str:
    """'-set<hash>' of a cell run with settings changed by name (`--set`; the render mode is named apart), else ''."""
    return overrides_suffix(named_settings(cell))


def demo_pool(cell: dict) -> int:
    """Demos per task the cell's fraction was drawn from (LIBERO's 50 unless the cell asked for a larger pool)."""
    return (cell.get("cell_config") or {}).get("demos_per_task", LIBERO_DEMOS)


def identity(cell: dict) -> tuple:
    """What makes a cell one seed of one run: two files with the same identity are one cell written twice. The demo
    recipe, the benchmark evaluated on, the render mode and the settings changed by name are part of it."""
    return (cell["suite"], cell["method"], float(cell["frac"]), cell["seed"], cell["profile"], recipe_name(cell),
            eval_suite(cell), render_mode(cell), set_suffix(cell), demo_pool(cell))


def cell_settings(cells: list[dict]) -> dict[str, dict]:
    """'-set<hash>' -> the settings it stands for, from the cells that ran with them."""
    return {set_suffix(c): named_settings(c) for c in cells if set_suffix(c)}


def load_cells(runs: Path) -> list[dict]:
    """Every results cell under `runs`; a file that is not one, a cell of no episodes and a cell stored twice are
    refused, naming the files, since any of them would pool into the tables as a wrong seed."""
    cells, seen = [], {}
    for path in sorted(runs.glob("*/*/*.json")):
        try:
            c = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise SystemExit(f"{path}: not a results cell (JSONDecodeError: {e})")
        missing = [k for k in REQUIRED if k not in c] if isinstance(c, dict) else list(REQUIRED)
        if missing:
            raise SystemExit(f"{path}: not a results cell: no {', '.join(map(repr, missing))} field")
        if not c["episodes"]:
            raise SystemExit(f"{path}: a cell of 0 episodes is no seed's result; rerun or delete it")
        if (twin := seen.setdefault(identity(c), path)) != path:
            raise SystemExit(f"{twin} and {path}: the same cell {identity(c)} twice; delete one")
        if set_suffix(c):  # settings changed by name: a row of its own, named as its file is (method-set<hash>)
            c["method"] = f"{c['method']}{set_suffix(c)}"
        if recipe_name(c) != LEGACY:  # demos of another recipe are another row, never pooled with the legacy ones
            c["method"] = f"{c['method']}+{recipe_name(c)}"
        if demo_pool(c) != LIBERO_DEMOS:  # fractions of another pool are other data: a row of its own (method/pool100)
            c["method"] = f"{c['method']}/pool{demo_pool(c)}"
        if render_mode(c) not in (None, LIBERO):  # drawn otherwise than by LIBERO: a row of its own (method[fast])
            c["method"] = f"{c['method']}[{render_mode(c)}]"
        if eval_suite(c) != c["suite"]:  # evaluated on another benchmark: a row of its own (method@benchmark)
            c["method"] = f"{c['method']}@{eval_suite(c)}"
        cells.append(c)
    return cells


def successes(cell: dict) -> int:
    return round(cell["success_rate"] * cell["episodes"])


def fingerprint(cell: dict) -> str | None:
    """The hash of the demos a cell trained on; None for cells made before it was recorded."""
    return cell.get("data", {}).get("fingerprint")


def pooled_goals(cells: list[dict]) -> dict | None:
    """Goal progress of several cells as one: each share weighted by the episodes that recorded it."""
    known = [c["goal_progress"] for c in cells if c.get("goal_progress")]
    if not known:
        return None
    n = sum(g["episodes"] for g in known)
    return {k: sum(g[k] * g["episodes"] for g in known) / n for k in ("end", "peak", "start")} | {"episodes": n}


def pool(cells: list[dict]) -> dict[tuple, Pooled]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for c in cells:
        groups[(c["suite"], c["method"], float(c["frac"]), c["profile"])].append(c)
    out = {}
    for key, cs in sorted(groups.items()):
        cs = sorted(cs, key=lambda c: c["seed"])
        succ = sum(successes(c) for c in cs)
        tasks = sorted({t for c in cs for t in c["per_task"]})
        per_task = {t: float(np.mean([c["per_task"][t] for c in cs if t in c["per_task"]])) for t in tasks}
        demos = sorted({fingerprint(c) or "unrecorded" for c in cs})
        out[key] = Pooled(*key, [c["seed"] for c in cs], succ, sum(c["episodes"] for c in cs),
                          [c["success_rate"] for c in cs], per_task, demos, pooled_goals(cs))
    return out


def fmt_paper(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.0f}"


def write_table(out: Path, name: str, title: str, header: list[str], rows: list[list[str]], note: str) -> None:
    """The same table as Markdown, CSV and LaTeX."""
    md = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    (out / f"{name}.md").write_text("\n".join(md + ["", note, ""]))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    (out / f"{name}.csv").write_text(buf.getvalue())
    esc = lambda s: s.replace("_", r"\_").replace("%", r"\%").replace("[", "{[}").replace("]", "{]}")  # noqa: E731
    tex = [r"\begin{tabular}{" + "l" * len(header) + "}", r"\toprule", " & ".join(map(esc, header)) + r" \\",
           r"\midrule", *(" & ".join(map(esc, r)) + r" \\" for r in rows), r"\bottomrule", r"\end{tabular}"]
    (out / f"{name}.tex").write_text("\n".join(tex) + "\n")


def tables(pooled: dict[tuple, Pooled], out: Path, settings: dict[str, dict] | None = None) -> list[str]:
    """Write every table; returns the names written. `settings`: what each '-set<hash>' in a row's name changed
    (`load_cells`), listed under the tables those rows are in."""
    settings = settings or {}
    out.mkdir(parents=True, exist_ok=True)
    def note(where: str) -> str:
        return (f"Ours: success % [Wilson 95% interval] (episodes, seeds), scripted demos. 'paper:' {where}: {SOURCE}, "
                "human demos, 50 episodes per task; not comparable in absolute terms.")

    names = []
    for profile in sorted({k[3] for k in pooled}):
        mine = {k: v for k, v in pooled.items() if k[3] == profile}
        methods = sorted({k[1] for k in mine})
        suites = sorted({k[0] for k in mine})
        # suites x methods with all demos
        full = [k for k in mine if k[2] == 1.0]
        if full:
            header = ["suite", *methods, "paper: BAKU", "paper: HiLAM"]
            rows = [[s, *(mine[(s, m, 1.0, profile)].cell() if (s, m, 1.0, profile) in mine else "" for m in methods),
                     fmt_paper(paper_rate(s, "baku", 1.0)), fmt_paper(paper_rate(s, "hilam", 1.0))]
                    for s in suites if any(k[0] == s for k in full)]
            write_table(out, f"suites_{profile}", f"All demos, profile {profile}", header, rows, note("columns"))
            names.append(f"suites_{profile}")
        # methods x fractions per suite (the data-efficiency table); the papers' rows last
        for s in suites:
            fracs = sorted({k[2] for k in mine if k[0] == s})
            ms = [m for m in methods if any(k[:2] == (s, m) for k in mine)]
            header = ["method", *(f"{100 * f:g}%" for f in fracs)]
            rows = [[m, *(mine[(s, m, f, profile)].cell() if (s, m, f, profile) in mine else "" for f in fracs)]
                    for m in ms]
            rows += [[f"paper: {label}", *(fmt_paper(paper_rate(s, m, f)) for f in fracs)]
                     for m, label in (("baku", "BAKU"), ("hilam", "HiLAM"))]
            write_table(out, f"fractions_{s}_{profile}", f"{s}: data fractions, profile {profile}", header, rows,
                        note("rows") + settings_legend(ms, settings)
                        + demo_sets({k: v for k, v in mine.items() if k[0] == s}))
            names.append(f"fractions_{s}_{profile}")
            # the same for the methods themselves on the default demos and settings alone (README's table)
            plain = [r for r in rows if (r[0] in method_names() and not family(r[0])) or r[0].startswith("paper: ")]
            write_table(out, f"methods_{s}_{profile}", f"{s}: data fractions of the methods, profile {profile}", header,
                        plain, note("rows") + f"\n\nTheir variants and ablations, other demo recipes, settings changed "
                        f"by name and larger demo pools: `fractions_{s}_{profile}.md`.")
            names.append(f"methods_{s}_{profile}")
            # per-task success of every (method, fraction)
            keys = [k for k in sorted(mine) if k[0] == s]
            tasks = sorted({t for k in keys for t in mine[k].per_task})
            header = ["task", *(f"{k[1]} {100 * k[2]:g}%" for k in keys)]
            rows = [[t, *(f"{100 * mine[k].per_task[t]:.0f}" if t in mine[k].per_task else "" for k in keys)]
                    for t in tasks]
            write_table(out, f"per_task_{s}_{profile}", f"{s}: per-task success %, profile {profile}", header, rows,
                        "Mean over seeds of each task's success rate.")
            names.append(f"per_task_{s}_{profile}")
            # goal progress, for the cells that recorded it
            if with_goals := [k for k in keys if mine[k].goals]:
                header = ["method", "demos", "success %", "goals held at the end %", "most at once %", "at reset %",
                          "episodes (goals recorded)"]
                rows = [[k[1], f"{100 * k[2]:g}%", f"{100 * mine[k].rate:.1f}",
                         *(f"{100 * mine[k].goals[x]:.1f}" for x in ("end", "peak", "start")),
                         f"{mine[k].episodes} ({mine[k].goals['episodes']})"] for k in with_goals]
                write_table(out, f"goals_{s}_{profile}", f"{s}: goal progress, profile {profile}", header, rows,
                            "Mean share of a task's goal predicates (LIBERO's goal is their conjunction) that hold at "
                            "an episode's end, the most that held at once during it, and at its reset (what doing "
                            "nothing scores); pooled over the seeds' episodes that recorded them.")
                names.append(f"goals_{s}_{profile}")
        # ablations: each variant beside the method it ablates, wherever any variant ran
        abl = [k for k in mine if family(k[1])]
        if abl:
            cols = sorted({(k[0], k[2]) for k in abl})
            variants = sorted({m for k in abl for m in (k[1], family(k[1]))}, key=lambda m: (family(m) or m, m))
            header = ["variant", *(f"{s} {100 * f:g}%" for s, f in cols)]
            rows = [[m, *(mine[(s, m, f, profile)].cell() if (s, m, f, profile) in mine else "" for s, f in cols)]
                    for m in variants]
            write_table(out, f"ablations_{profile}", f"Ablations, profile {profile}", header, rows, note("columns"))
            names.append(f"ablations_{profile}")
    return names


def fisher_p(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Two-sided Fisher's exact p for two (successes, episodes) counts."""
    return float(fisher_exact([[a[0], a[1] - a[0]], [b[0], b[1] - b[0]]])[1])


def comparison_row(a: tuple[int, int], b: tuple[int, int]) -> list[str]:
    """Both rates, their difference in points and Fisher's p."""
    pct = lambda x: 100 * x[0] / max(x[1], 1)  # noqa: E731
    return [f"{pct(a):.1f} ({a[0]}/{a[1]})", f"{pct(b):.1f} ({b[0]}/{b[1]})", f"{pct(a) - pct(b):+.1f}",
            f"{fisher_p(a, b):.2g}"]


def comparisons(cells: list[dict], pooled: dict[tuple, Pooled], out: Path) -> list[str]:
    """Every method against flat BAKU (pooled over seeds and demo sets) and every pair of cells on identical demos."""
    out.mkdir(parents=True, exist_ok=True)
    head = ["A", "B", "A - B (points)", "Fisher p"]
    names = []
    for profile in sorted({k[3] for k in pooled}):
        rows = [[s, f"{100 * f:g}%", m, "baku", ", ".join(p.demos),
                 *comparison_row((p.successes, p.episodes), (b.successes, b.episodes))]
                for (s, m, f, pr), p in sorted(pooled.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1]))
                if pr == profile and m != "baku" and (b := pooled.get((s, "baku", f, pr)))]
        if rows:
            write_table(out, f"vs_baku_{profile}", f"Each method against flat BAKU, profile {profile}",
                        ["suite", "demos", "method A", "method B", "A's demo sets", *head], rows,
                        "Pooled over seeds (and over demo sets where cells differ: see the fractions tables). "
                        "Success % (successes/episodes); two-sided Fisher's exact p.")
            names.append(f"vs_baku_{profile}")
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for c in cells:
            if c["profile"] == profile and (fp := fingerprint(c)):
                groups[(c["suite"], float(c["frac"]), fp)].append(c)
        rows = [[s, f"{100 * f:g}%", fp, f"{a['method']} s{a['seed']}", f"{b['method']} s{b['seed']}",
                 *comparison_row((successes(a), a["episodes"]), (successes(b), b["episodes"]))]
                for (s, f, fp), cs in sorted(groups.items())
                for a, b in itertools.combinations(sorted(cs, key=lambda c: (c["method"], c["seed"])), 2)]
        if rows:
            write_table(out, f"paired_{profile}", f"Cells on identical demos, profile {profile}",
                        ["suite", "demos", "demo set", "cell A", "cell B", *head], rows,
                        "Pairs of cells whose `data.fingerprint` is the same: only method and seed differ. "
                        "Success % (successes/episodes); two-sided Fisher's exact p. Cells that predate "
                        "fingerprints are left out.")
            names.append(f"paired_{profile}")
    # profile variants (cpu_aug, cpu_long, paper...) against the base profile, same suite, method and fraction
    rows = [[s, f"{100 * f:g}%", m, pr, BASE_PROFILE, ", ".join(p.demos),
             *comparison_row((p.successes, p.episodes), (b.successes, b.episodes))]
            for (s, m, f, pr), p in sorted(pooled.items())
            if pr != BASE_PROFILE and (b := pooled.get((s, m, f, BASE_PROFILE)))]
    if rows:
        write_table(out, f"vs_{BASE_PROFILE}_profile", f"Each profile against the {BASE_PROFILE} profile",
                    ["suite", "demos", "method", "profile A", "profile B", "A's demo sets", *head], rows,
                    "Same suite, method and fraction, pooled over seeds; only the profile (sizes, steps, "
                    "augmentation: hilam/profiles.py) differs, and the demo sets where the fingerprints say so. "
                    "Success % (successes/episodes); two-sided Fisher's exact p.")
        names.append(f"vs_{BASE_PROFILE}_profile")
    return names


def settings_legend(rows: list[str], settings: dict[str, dict]) -> str:
    """A note saying what each '-set<hash>' among `rows` changed by name (`--set`)."""
    used = sorted({suffix for suffix in settings if any(suffix in r for r in rows)})
    return ("\n\nSettings changed by name (`--set`) in rows named `-set<hash>`:\n"
            + "\n".join(f"- `{u}`: " + ", ".join(f"`{k}={v}`" for k, v in sorted(settings[u].items())) for u in used)
            ) if used else ""


def demo_sets(cells: dict[tuple, Pooled]) -> str:
    """A note naming which cells of a fraction trained on which demos, where they did not all share one set."""
    lines = []
    for f in sorted({k[2] for k in cells}):
        by_set: dict[str, list[str]] = defaultdict(list)
        for k in sorted(cells):
            if k[2] == f:
                for d in cells[k].demos:
                    by_set[d].append(k[1])
        if len(by_set) > 1:
            lines.append(f"{100 * f:g}%: " + "; ".join(f"{d}: {', '.join(ms)}" for d, ms in sorted(by_set.items())))
    return ("\n\nNot every cell of a row trained on the same demos (`data.fingerprint` of each cell):\n"
            + "\n".join(f"- {x}" for x in lines)) if lines else ""


def plots(pooled: dict[tuple, Pooled], out: Path) -> list[str]:
    """Success vs data fraction per method with interval bands, and per-task bars, one PNG per suite and profile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig, name: str) -> str:
        fig.tight_layout()
        fig.savefig(out / name, dpi=100, metadata={"Software": None})  # no version stamp: identical bytes every run
        plt.close(fig)
        return name

    names = []
    for s, profile in sorted({(k[0], k[3]) for k in pooled}):
        keys = [k for k in sorted(pooled) if k[0] == s and k[3] == profile]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for m in sorted({k[1] for k in keys}):
            pts = [pooled[k] for k in keys if k[1] == m]
            x = [p.frac * 100 for p in pts]
            ci = np.array([wilson_interval(p.successes, p.episodes) for p in pts]) * 100
            line, = ax.plot(x, [p.rate * 100 for p in pts], "o-", label=m)
            ax.fill_between(x, ci[:, 0], ci[:, 1], color=line.get_color(), alpha=0.15)
        ax.set(xlabel="demos used (%)", ylabel="success (%)", ylim=(0, 100), title=f"{s} ({profile})")
        ax.legend(fontsize=8)
        names.append(save(fig, f"success_vs_fraction_{s}_{profile}.png"))
        tasks = sorted({t for k in keys for t in pooled[k].per_task})
        fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(tasks)), 3.5))
        width = 0.8 / len(keys)
        for i, k in enumerate(keys):
            ax.bar(np.arange(len(tasks)) + i * width, [100 * pooled[k].per_task.get(t, np.nan) for t in tasks], width,
                   label=f"{k[1]} {100 * k[2]:g}%")
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, [t[:24] for t in tasks], rotation=60, ha="right", fontsize=6)
        ax.set(ylabel="success (%)", ylim=(0, 100), title=f"{s} per task ({profile})")
        ax.legend(fontsize=6)
        names.append(save(fig, f"per_task_{s}_{profile}.png"))
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="results/runs")
    ap.add_argument("--out", default="results/tables")
    a = ap.parse_args()
    cells = load_cells(Path(a.runs))
    pooled = pool(cells)
    if not pooled:
        raise SystemExit(f"{a.runs}: no results cells yet; run `make bench` first")
    out = Path(a.out)
    names = tables(pooled, out, cell_settings(cells)) + comparisons(cells, pooled, out) + plots(pooled, out)
    print(f"{len(names)} tables and plots from {sum(len(p.seeds) for p in pooled.values())} cells -> {out}")


if __name__ == "__main__":
    main()
