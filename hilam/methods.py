"""The one method protocol every system (BAKU, HiLAM, Human2Robot, Being-H0) implements, its registry, and how a
method name, a profile and `--set` overrides become one configured method.

Methods register as classes under the `hilam.methods` entry-point group (setup.cfg), and their variants as tables
of override sets under `hilam.variants` (one table per method package, named by the method it varies), so the
benchmark finds every method without `hilam` importing it, and a variant is one line in its method's table.
"""
from __future__ import annotations

import abc
import copy
from dataclasses import dataclass, field, fields
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from hilam.data.dataset import DemoDataset
from hilam.envs.render_mode import check_render_mode
from hilam.evaluate import Policy
from hilam.overrides import set_path
from hilam.profiles import Profile, get_profile
from hilam.train import kept_checkpoints

PROFILE_FIXED = ("name", "scale")  # what `--set` may not change: choose another profile instead


@dataclass(frozen=True)
class CellContext:
    """Where a cell keeps what its method shares with other cells: its runs folder (shared pretrained stages go to
    `<runs>/shared`), its action-free video folder, and the simulator processes it may start."""

    runs: str = "runs"
    video: str = "data/video"
    workers: int = 0  # 0 = one per core

    @property
    def shared(self) -> str:
        """The folder of stages trained once and reused by every cell (keyed by their configs)."""
        return str(Path(self.runs) / "shared")


class Method(abc.ABC):
    """Build from a profile (and its own config), fit on a dataset (resumable, checkpointed in `out_dir`), act
    through a Policy."""

    name: str = ""  # the registered name; a variant's instance carries the variant's (set by `Configured.build`)
    config_key: ClassVar[str] = ""  # the `--set` prefix of the method's own config ("": it has none)
    keep_every: int = 0  # the bench's --keep-every: the last training phase keeps its checkpoints at these steps
    final_phase: str = ""  # subdirectory of the run directory holding the last training phase's checkpoints
    # what the policy reads: "images" (rendered cameras + proprio) or "state" (privileged simulator state; its demos
    # and evaluation render nothing)
    observation: str = "images"
    # whether its policy embeds an instruction it was not trained on (evaluated on a benchmark that words its tasks
    # otherwise, e.g. libero_10_lan); a method that cannot is refused such a benchmark before any work
    new_instructions: bool = False

    def __init__(self, profile: Profile, instructions: list[str], cfg: Any = None):
        """`cfg`: the method's own config (None: its preset for the profile's scale)."""
        self.profile = profile
        self.instructions = instructions
        self.cfg = self.preset(profile.scale) if cfg is None else cfg

    @classmethod
    def preset(cls, scale: str) -> Any:
        """The method's own config at a profile scale (paper, cpu, smoke); None for a method without one."""
        return None

    @classmethod
    def observes(cls, cfg: Any) -> str:
        """What the policy built with own config `cfg` reads ("images" or "state"), known before it is built."""
        return cls.observation

    @classmethod
    def embeds_new_instructions(cls, cfg: Any) -> bool:
        """Whether the policy built with own config `cfg` embeds unseen instructions, known before it is built."""
        return cls.new_instructions

    def place(self, context: CellContext) -> None:
        """Put what the method shares between cells (pretrained stages, corpora) where the cell says; the benchmark
        calls it after building. Nothing by default."""

    def prepare(self) -> None:
        """Build what `fit` reads besides the demos (e.g. an action-free corpus); run by one process per node
        before the others start, so ranks of one launch never render the same data twice."""

    @abc.abstractmethod
    def fit(self, data: DemoDataset, out_dir: Path, seed: int) -> dict:
        """Train (or resume); returns the `train` part of a results cell."""

    @abc.abstractmethod
    def policy(self) -> Policy:
        """A batched policy for the evaluator."""

    def describe(self) -> dict:
        """Sizes and settings that ran, recorded in the results cell."""
        return {}

    def checkpoints(self, run_dir: Path) -> dict[int, Path]:
        """step -> checkpoint of the last training phase kept in a cell's run directory (see `restore`)."""
        return kept_checkpoints(Path(run_dir) / self.final_phase)

    def restore(self, checkpoint: Path) -> None:
        """After `fit`: load the last training phase's weights from one of its `checkpoints`, to evaluate the
        policy at that point of training."""
        raise NotImplementedError(f"method {self.name!r} cannot restore intermediate checkpoints")


@dataclass(frozen=True)
class MethodSpec:
    """A registered method name: its class, and for a variant the method it varies and the settings it changes."""

    name: str
    cls: type[Method]
    base: str  # the registered class it is (itself for a method, the varied method for a variant)
    variant: dict = field(default_factory=dict)  # the variant's overrides ({} for a method)


def _classes() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group="hilam.methods")}


def variant_tables() -> dict[str, dict[str, dict]]:
    """base method -> its variants' override sets (each method package's VARIANTS table, registered by name)."""
    return {ep.name: ep.load() for ep in entry_points(group="hilam.variants")}


def _variants() -> dict[str, tuple[str, dict]]:
    """variant name -> (the method it varies, its overrides); a name registered twice is refused naming both."""
    classes, out = _classes(), {}
    for base, table in variant_tables().items():
        for name, overrides in table.items():
            if name in classes or name in out:
                other = "a method" if name in classes else f"a variant of {out[name][0]!r}"
                raise ValueError(f"{name!r} is registered as a variant of {base!r} and as {other}")
            out[name] = (base, dict(overrides))
    return out


def method_names() -> list[str]:
    """Every registered method and variant name."""
    return sorted([*_classes(), *_variants()])


def get_method(name: str) -> MethodSpec:
    """The method or variant registered as `name`."""
    classes, variants = _classes(), _variants()
    if name in classes:
        return MethodSpec(name, classes[name].load(), name)
    if name in variants:
        base, overrides = variants[name]
        if base not in classes:
            raise ValueError(f"variant {name!r} varies {base!r}, which is not a registered method")
        return MethodSpec(name, classes[base].load(), base, overrides)
    raise ValueError(f"unknown method {name!r}; registered: {', '.join(method_names()) or 'none'}")


@dataclass
class Configured:
    """A method name with its profile and own config after its variant's and the user's overrides."""

    spec: MethodSpec
    profile: Profile
    cfg: Any  # the method's own config
    overrides: dict  # the user's overrides that change something, typed (a cell's `overrides`)

    @property
    def observation(self) -> str:
        return self.spec.cls.observes(self.cfg)

    @property
    def new_instructions(self) -> bool:
        return self.spec.cls.embeds_new_instructions(self.cfg)

    def build(self, instructions: list[str]) -> Method:
        """The untrained method for a dataset's instructions (on copies: methods may fill in their configs)."""
        method = self.spec.cls(copy.deepcopy(self.profile), instructions, copy.deepcopy(self.cfg))
        method.name = self.spec.name
        return method


def configure(name: str, profile: str | Profile, overrides: dict[str, Any] | None = None) -> Configured:
    """Method `name` on `profile` (a name or a Profile): its scale's preset, its variant's overrides, then
    `overrides` (dotted keys into the profile's settings or the method's own config; text values are read as the
    setting's type). A bad key or value is refused naming what is valid; an override that changes nothing is
    dropped, so such a cell is the plain one."""
    spec = get_method(name)
    prof = get_profile(profile) if isinstance(profile, str) else profile
    roots = {"profile": prof, "method": spec.cls.preset(prof.scale)}
    for key, value in spec.variant.items():
        _apply(roots, spec, key, value)
    applied = {}
    for key, value in (overrides or {}).items():
        before = _get(roots, spec, key)
        typed = _apply(roots, spec, key, value)
        if typed != before:
            applied[key] = typed
    try:
        check_render_mode(roots["profile"].render_mode)
    except ValueError as e:
        raise ValueError(f"--set render_mode: {e}") from None
    return Configured(spec, roots["profile"], roots["method"], applied)


def build_method(name: str, profile: str | Profile, instructions: list[str],
                 overrides: dict[str, Any] | None = None) -> Method:
    """The untrained method `name` on `profile` with `overrides` (see `configure`), for these instructions."""
    return configure(name, profile, overrides).build(instructions)


def settable_roots(spec: MethodSpec) -> list[str]:
    """The first parts a `--set` key may start with for this method."""
    own = [spec.cls.config_key] if spec.cls.config_key else []
    return [f.name for f in fields(Profile) if f.name not in PROFILE_FIXED] + own


def _root(roots: dict, spec: MethodSpec, key: str) -> tuple[str, list[str]]:
    """Which tree a dotted key lands in ("profile" or "method") and its path there."""
    parts = key.split(".")
    if spec.cls.config_key and parts[0] == spec.cls.config_key:
        if len(parts) == 1:
            raise ValueError(f"--set {key}: {key} is a group of settings; set one of them ({key}.<setting>)")
        return "method", parts[1:]
    if parts[0] in settable_roots(spec):
        return "profile", parts
    if parts[0] in PROFILE_FIXED:
        raise ValueError(f"--set {key}: the profile's {parts[0]} is fixed; choose another --profile")
    raise ValueError(f"--set {key}: unknown setting {parts[0]!r} for {spec.name}; settings start with one of: "
                     f"{', '.join(settable_roots(spec))}")


def _get(roots: dict, spec: MethodSpec, key: str) -> Any:
    tree, path = _root(roots, spec, key)
    obj = roots[tree]
    for part in path:
        obj = getattr(obj, part, None)
    return obj


def _apply(roots: dict, spec: MethodSpec, key: str, value: Any) -> Any:
    """Set one override on `roots` (in place of the tree it lands in); returns the typed value."""
    tree, path = _root(roots, spec, key)
    where = spec.cls.config_key if tree == "method" else ""  # the profile's settings are keys of their own
    try:
        roots[tree], typed = set_path(roots[tree], path, value, where)
    except ValueError as e:
        raise ValueError(f"--set {key}: {e}") from None
    return typed
