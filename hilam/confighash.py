"""Config keys: a short hash of configs (dataclasses) and plain values, naming the run directories of anything
trained once and reused (HiLAM's stages, Being-H0's tokenizer, KS-Gen, HMA), so a changed config trains anew."""
from __future__ import annotations

import hashlib
import json
from dataclasses import Field, fields, is_dataclass
from typing import Any


def keyed_fields(obj: Any) -> Any:
    """A config as plain data for keys: asdict without the fields marked `metadata={"hash": False}`
    (bookkeeping such as time-based checkpointing, which does not change what is trained) and without those marked
    `"unless_default"` while they hold their default (fields added later, so that earlier keys stay valid)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: keyed_fields(getattr(obj, f.name)) for f in fields(obj) if _keyed(f, getattr(obj, f.name))}
    if isinstance(obj, (list, tuple)):
        return [keyed_fields(x) for x in obj]
    if isinstance(obj, dict):
        return {k: keyed_fields(v) for k, v in obj.items()}
    return obj


def _keyed(f: Field, value: Any) -> bool:
    """Whether field `f` holding `value` enters a config's key (see keyed_fields)."""
    mark = f.metadata.get("hash", True)
    return (mark == "unless_default" and value != f.default) or mark is True


def config_hash(*parts: Any) -> str:
    """10 hex digits naming the keyed content of `parts` (configs and plain values, in order)."""
    blob = json.dumps([keyed_fields(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]
