"""Demo recipes: how the scripted expert's demonstrations are made, beyond the expert itself.

A scripted closed-loop expert repeats near-identical trajectories from one robot start pose, so a cloned
policy that drifts off them has never seen a correction. Two classic remedies, both recorded in every demo
file and results cell:
- start noise: Gaussian noise on the arm's joints at reset, robosuite's own `initialization_noise`
  (robosuite's default is 0.02 rad; LIBERO's `ControlEnv` turns it off, while LIBERO's official init states
  carry joint noise of 0.013-0.025 rad per joint);
- DART (Laskey et al., CoRL 2017, "DART: Noise Injection for Robust Imitation Learning"): the env executes the
  expert's action plus Gaussian noise on the 6 arm dimensions while the demo records the clean action, so the
  demos visit off-trajectory states and show the expert's correction from there.
A policy in the loop goes further (DAgger, Ross et al., AISTATS 2011, with its mixing of expert and learner): a
trained state policy (`driver`, a results cell) shares control of the arm with the expert, which executes its own
arm action with probability `beta` at each step and the policy's otherwise (the gripper command stays the expert's:
robosuite's gripper integrates the command's sign, and one flipping from step to step leaves it half closed), while
the demo records the expert's action at every state: the demos then visit the states the cloned policy itself
drifts into, labelled with the expert's way back (the scripted expert re-reads the scene every step, so it answers
from wherever the policy has taken the arm).
A third knob removes what a policy cannot see: the expert draws some choices once per episode (its speed cap, 1 cm
offsets of approach and release points, a few degrees of grasp yaw) that no observation reveals, so demos disagree
on what to do from the same state; `jitter=False` fixes each at the middle of its range.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DemoRecipe:
    name: str
    start_noise: float = 0.0  # std (rad) of Gaussian noise on the 7 arm joints at reset
    action_noise: float = 0.0  # std of Gaussian noise added to the executed arm action dims 0-5 (action units)
    jitter: bool = True  # the expert's unobserved per-episode choices: drawn, or fixed at their ranges' middles
    driver: str = ""  # results cell (JSON) of a trained state policy that shares control (DAgger); "" = the expert alone
    beta: float = 1.0  # with a driver: probability per step that the expert's own action is the one executed

    def __post_init__(self):
        if not 0.0 <= self.beta <= 1.0 or (self.driver and self.beta == 1.0):
            raise ValueError(f"recipe {self.name!r}: beta must lie in [0, 1], and below 1 with a driver (got {self.beta})")

    def record(self) -> dict:
        """What demo files and cells store about the recipe (the driver's fields only where there is one, so
        recipes without one read as they did before it existed)."""
        out = asdict(self)
        return out if self.driver else {k: v for k, v in out.items() if k not in ("driver", "beta")}


RECIPES: dict[str, DemoRecipe] = {r.name: r for r in (
    DemoRecipe("clean"),  # the expert as it is: one start pose, no noise (every demo made before recipes existed)
    DemoRecipe("start", start_noise=0.02),  # robosuite's default joint noise at reset
    DemoRecipe("dart10", start_noise=0.02, action_noise=0.1),
    DemoRecipe("dart20", start_noise=0.02, action_noise=0.2),
    DemoRecipe("fixed", jitter=False),  # the expert's choices fixed: demos differ by placement alone
    DemoRecipe("dart10_fixed", start_noise=0.02, action_noise=0.1, jitter=False),  # diversity from noise alone
    DemoRecipe("dart20_fixed", start_noise=0.02, action_noise=0.2, jitter=False),
    # dart20_fixed with the state policy of its 60k-step libero_10 cell (28%) executing half the steps (DAgger's first
    # iteration, beta 0.5)
    DemoRecipe("dart20_fixed_dagger", start_noise=0.02, action_noise=0.2, jitter=False, beta=0.5,
               driver="results/runs/libero_10/baku_state/frac1-seed0-cpu-dart20_fixed-set226e5869.json"),
)}
LEGACY = "clean"  # what a demo cache or cell that records no recipe was made with
DEFAULT_RECIPE = "clean"


def get_recipe(name: str) -> DemoRecipe:
    """The named recipe; an unknown name is refused with the known ones."""
    if name not in RECIPES:
        raise ValueError(f"unknown demo recipe {name!r}; known: {', '.join(RECIPES)}")
    return RECIPES[name]
