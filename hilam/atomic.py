"""Atomic file writes: a temp file beside the target, renamed into place, so readers never see half a file.
Temp names carry the writer's pid, so processes that write the same cache at once (ranks of one `accelerate
launch`) never share a temp file: each renames a whole file and the last one wins."""
from __future__ import annotations

import json
import os
from pathlib import Path


def temp_path(path: str | os.PathLike, suffix: str = "") -> Path:
    """This process's temp file for an atomic write of `path` (same folder, so the rename is atomic);
    `suffix` keeps an extension a writer insists on (np.savez appends .npz to any other name)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write `obj` as indented JSON to `path` atomically, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    tmp.write_text(json.dumps(obj, indent=2))
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
