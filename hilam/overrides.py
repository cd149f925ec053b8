"""Settings changed by name: `--set train.steps=30000 hilam.skill_level=1` (and the variants' override sets).

A key is a dotted path into a tree of dataclasses: its first part names a root (a field of the profile, or the
method's own config by its `config_key`), the rest walks fields down to a leaf. A value given as text is read as the
leaf's type (bool, int, float, str, tuple of those, or None where the field allows it); one given as a Python value
(a variant's table) is checked against it. An unknown name is refused naming the valid ones at that level.
"""
from __future__ import annotations

import hashlib
import json
import types
import typing
from dataclasses import fields, is_dataclass, replace
from typing import Any

NONE_WORDS = ("none", "null")
TRUE_WORDS, FALSE_WORDS = ("true", "yes", "1", "on"), ("false", "no", "0", "off")
SUFFIX_DIGITS = 8  # hex digits of a cell name's `-set<hash>` suffix


def parse_sets(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """['a.b=1', 'c=x,y'] -> {'a.b': '1', 'c': 'x,y'}; an item without '=' or with an empty key is refused."""
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected key=value (e.g. train.steps=30000)")
        out[key.strip()] = value.strip()
    return out


def set_path(obj: Any, path: list[str], value: Any, where: str) -> tuple[Any, Any]:
    """(a copy of dataclass `obj` with the field at `path` set to `value` read as its type, that typed value).
    `where` names `obj` in messages (the key's prefix so far; '' at a root whose fields are keys themselves)."""
    name, rest = path[0], path[1:]
    known = {f.name: f for f in fields(obj)}
    if name not in known:
        raise ValueError(f"{where} ({type(obj).__name__}) has no setting {name!r}; "
                       f"its settings: {', '.join(known)}")
    hint = typing.get_type_hints(type(obj))[name]
    here = f"{where}.{name}" if where else name
    current = getattr(obj, name)
    if rest:
        if current is None and (inner := _dataclass_of(hint)) is not None:
            current = inner()  # an optional config left at None ("the profile's"): its defaults, then the change
        if not is_dataclass(current):
            raise ValueError(f"{here} is a value, not a group of settings; set it as {here}=...")
        new, typed = set_path(current, rest, value, here)
        return replace(obj, **{name: new}), typed
    group = _dataclass_of(hint)
    if group is not None:  # a group may only be cleared to None (where allowed), else set one of its settings
        if not (_is_none(value) and type(None) in typing.get_args(hint)):
            raise ValueError(f"{here} is a group of settings; set one of them: "
                             f"{here}.<{', '.join(f.name for f in fields(group))}>")
        return replace(obj, **{name: None}), None
    typed = coerce(value, hint, here)
    return replace(obj, **{name: typed}), typed


def _is_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.lower() in NONE_WORDS)


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass a field holds (also when it may be None), else None."""
    for t in (hint, *typing.get_args(hint)):
        if isinstance(t, type) and is_dataclass(t):
            return t
    return None


def coerce(value: Any, hint: Any, key: str) -> Any:
    """`value` as type `hint`: text is parsed, a Python value is checked (an int is a float; a list is a tuple)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if _is_none(value) and type(None) in args:
            return None
        errors = []
        for t in (a for a in args if a is not type(None)):
            try:
                return coerce(value, t, key)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError("; ".join(errors))
    if origin is tuple:
        items = [x.strip() for x in value.split(",") if x.strip()] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"{key} takes a comma-separated list, not {value!r}")
        item_type = args[0] if args else str
        return tuple(coerce(x, item_type, key) for x in items)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in TRUE_WORDS + FALSE_WORDS:
            return value.lower() in TRUE_WORDS
        raise ValueError(f"{key} takes true or false, not {value!r}")
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"{key} takes a number ({hint.__name__}), not {value!r}")
        try:
            number = hint(value) if isinstance(value, str) else value
        except ValueError:
            raise ValueError(f"{key} takes a number ({hint.__name__}), not {value!r}") from None
        if hint is int and number != int(number):
            raise ValueError(f"{key} takes a whole number, not {value!r}")
        return hint(number)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{key} takes text, not {value!r}")
        return value
    raise ValueError(f"{key}: settings of type {hint} cannot be set by name")


def canonical_json(overrides: dict[str, Any]) -> str:
    """One text per set of typed overrides (keys sorted, tuples as lists): what a cell's suffix hashes."""
    return json.dumps(overrides, sort_keys=True, default=str)


def overrides_suffix(overrides: dict[str, Any]) -> str:
    """'-set<8 hex>' naming a cell run with these (typed) overrides; '' without any."""
    if not overrides:
        return ""
    return "-set" + hashlib.sha1(canonical_json(overrides).encode()).hexdigest()[:SUFFIX_DIGITS]
