"""One smoke-profile cell run by every rank of a multi-process launch (`torchrun --nproc_per_node 2 -m
tests.distributed_cell OUT`): what `accelerate launch -m hilam.cli bench ...` does on several GPUs, on CPU."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from accelerate import PartialState

from hilam import bench

EVAL_EPISODES = 3  # more than the ranks, so the episode split is uneven


def main(out: Path) -> None:
    # OUT/demos holds the expert's demos already (tests/conftest.py: object_demos); every rank checks and reuses them
    cell = bench.CellConfig(suite="object", method="baku", frac=1.0, seed=0, profile="smoke", workers=1,
                            data=str(out / "demos"), runs=str(out / "runs"), results=str(out / "results"),
                            tasks=(3,), demos_per_task=2, overrides={"eval_episodes_per_task": EVAL_EPISODES})
    result = bench.run_cell(cell)
    rank = PartialState().process_index
    (out / f"returned_rank{rank}.json").write_text(json.dumps({k: result[k] for k in ("success_rate", "episodes")}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
