"""The one method protocol every system (BAKU, HiLAM, Human2Robot, Being-H0) implements, and the registry.

Methods register under the `hilam.methods` entry-point group (setup.cfg), so the benchmark finds
baselines without `hilam` importing them.
"""
from __future__ import annotations

import abc
from importlib.metadata import entry_points
from pathlib import Path

from hilam.data.dataset import DemoDataset
from hilam.evaluate import Policy
from hilam.profiles import Profile
from hilam.train import kept_checkpoints


class Method(abc.ABC):
    """Build from a profile, fit on a dataset (resumable, checkpointed in `out_dir`), act through a Policy."""

    name: str = ""
    keep_every: int = 0  # the bench's --keep-every: the last training phase keeps its checkpoints at these steps
    final_phase: str = ""  # subdirectory of the run directory holding the last training phase's checkpoints
    # what the policy reads: "images" (rendered cameras + proprio) or "state" (privileged simulator state; its demos
    # and evaluation render nothing)
    observation: str = "images"
    # whether its policy embeds an instruction it was not trained on (evaluated on a benchmark that words its tasks
    # otherwise, e.g. libero_10_lan); a method that cannot is refused such a benchmark before any work
    new_instructions: bool = False

    def __init__(self, profile: Profile, instructions: list[str]):
        self.profile = profile
        self.instructions = instructions

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


def method_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="hilam.methods"))


def get_method(name: str) -> type[Method]:
    """The Method class registered as `name`."""
    for ep in entry_points(group="hilam.methods"):
        if ep.name == name:
            return ep.load()
    raise ValueError(f"unknown method {name!r}; registered: {', '.join(method_names()) or 'none'}")
