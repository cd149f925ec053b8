"""Atomic file writes: a temp file beside the target, renamed into place, so readers never see half a file.
Temp names carry the writer's pid, so processes that write the same cache at once (ranks of one `accelerate
launch`) never share a temp file: each renames a whole file and the last one wins."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path


def temp_path(path: str | os.PathLike, suffix: str = "") -> Path:
    """This process's temp file for an atomic write of `path` (same folder, so the rename is atomic);
    `suffix` keeps an extension a writer insists on (np.savez appends .npz to any other name)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")


def finite(obj):
    """`obj` with every NaN or infinite float replaced by None: strict JSON (jq, browsers) has no NaN,
    and an unknown number (a time a resumed run could not measure) is null, not a float."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write `obj` as indented strict JSON (non-finite floats as null) to `path` atomically, creating
    parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    tmp.write_text(json.dumps(finite(obj), indent=2, allow_nan=False))
    os.replace(tmp, path)
    return path


def atomic_savez(path: str | os.PathLike, **arrays) -> Path:
    """`np.savez` to `path` atomically, creating parent folders."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path, ".npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path
