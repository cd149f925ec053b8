"""Atomic file writes: a temp file beside the target, renamed into place, so readers never see half a file."""
from __future__ import annotations

import json
import os
from pathlib import Path


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write `obj` as indented JSON to `path` atomically, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)
    return path


def atomic_savez(path: str | os.PathLike, **arrays) -> Path:
    """`np.savez` to `path` atomically, creating parent folders."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path
