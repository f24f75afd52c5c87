"""Typed configuration: nested dataclasses built from dicts/YAML, with checked overrides.

``from_dict(TrainConfig, data)`` refuses unknown keys and wrong types with a message
that names the key; ``apply_assignments(cfg, ["trainer.max_steps=5", "seed=3"])``
parses each value as YAML and checks it against the field's type.

A field's rules sit in its type, beside its default: ``Literal["cosine", "constant"]``
admits only those values (the message lists them) and ``Annotated[int, Range(ge=1)]``
bounds a number, e.g. ``batch_size: Annotated[int, Range(ge=1)] = 64``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from folkclip.errors import FolkclipError

T = TypeVar("T")
_FLOAT_TEXT = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds of a numeric config field, used as ``Annotated[float, Range(gt=0)]``.

    Attributes:
        ge: Smallest value allowed. gt: Values must exceed it.
        le: Largest value allowed. lt: Values must stay below it.
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def describe(self) -> str:
        """The bounds in words, e.g. ``>= 1`` or ``> 0 and < 1``."""
        parts = [f"{op} {v:g}" for op, v in ((">=", self.ge), (">", self.gt), ("<=", self.le),
                                             ("<", self.lt)) if v is not None]
        return " and ".join(parts)

    def check(self, value: float, where: str) -> None:
        """Raise :class:`FolkclipError` naming ``where`` when ``value`` is out of bounds."""
        ok = ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
              and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))
        if not math.isfinite(value):
            raise FolkclipError(f"{where} must be a finite number, got {value!r}")
        if not ok:
            raise FolkclipError(f"{where} must be {self.describe()}, got {value!r}")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _check(value: Any, tp: Any, where: str) -> Any:
    """Check (and gently coerce) ``value`` against type ``tp``; return the value to store."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Annotated:
        value = _check(value, args[0], where)
        for rule in tp.__metadata__:
            if isinstance(rule, Range) and value is not None:
                rule.check(value, where)
        return value
    if origin is typing.Literal:
        if value not in args or isinstance(value, bool) != isinstance(args[0], bool):
            raise FolkclipError(f"{where} must be one of {', '.join(map(str, args))}; "
                                f"got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(value, arg, where)
            except FolkclipError as err:
                errors.append(str(err))
        raise FolkclipError(errors[0] if errors else f"{where}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise FolkclipError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise FolkclipError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        out = [_check(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise FolkclipError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 reads "1e-3" (no dot) as text
    if tp is bool and not isinstance(value, bool):
        raise FolkclipError(f"{where}: expected true/false, got {value!r}")
    if tp in (int, float, str) and (not isinstance(value, tp) or isinstance(value, bool)
                                     and tp is not bool):
        raise FolkclipError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a (nested) dict, refusing unknown keys and wrong types.

    Raises:
        FolkclipError: Naming the offending key and, for unknown keys, the valid ones.
    """
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in names:
            raise FolkclipError(f"unknown config key {path!r}; valid keys here: {', '.join(names)}")
        kwargs[key] = _check(value, hints[key], path)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise FolkclipError(f"{where or cls.__name__}: {err}") from None


def to_dict(obj: Any) -> dict[str, Any]:
    """A plain dict (tuples as lists) of a dataclass, fit for JSON/YAML."""
    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(obj))


def apply_override(obj: T, dotted: str, value: Any, _prefix: str = "") -> T:
    """Return a copy of dataclass ``obj`` with field ``dotted`` (``a.b.c``) set to ``value``.

    Raises:
        FolkclipError: For an unknown key or a value of the wrong type.
    """
    head, _, rest = dotted.partition(".")
    names = {f.name for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
    full = _prefix + dotted
    if head not in names:
        raise FolkclipError(f"unknown config key {full!r}; valid keys: {', '.join(sorted(names))}")
    current = getattr(obj, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise FolkclipError(f"config key {_prefix + head!r} has no sub-key {rest!r}")
        new = apply_override(current, rest, value, f"{_prefix}{head}.")
    else:
        new = _check(value, _hints(type(obj))[head], full)
    return dataclasses.replace(obj, **{head: new})  # type: ignore[type-var]


def apply_assignments(obj: T, assignments: list[str]) -> T:
    """Apply ``key=value`` strings (values parsed as YAML: ``3``, ``0.1``, ``true``, ``[a, b]``)."""
    import yaml

    for text in assignments:
        if "=" not in text:
            raise FolkclipError(f"--set expects key=value, got {text!r}")
        key, raw = text.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        try:
            obj = apply_override(obj, key.strip(), value)
        except FolkclipError as first:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise
            try:  # YAML read "42" as a number; the field may want the text
                obj = apply_override(obj, key.strip(), raw.strip())
            except FolkclipError:
                raise first from None
    return obj


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping.

    Raises:
        FolkclipError: When the file is missing or not a mapping.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FolkclipError(f"config file {str(p)!r} not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        where = " ".join(str(err).split())  # one line
        raise FolkclipError(f"config file {str(p)!r} is not valid YAML: {where}") from None
    except (OSError, UnicodeDecodeError, RecursionError, ValueError) as err:
        raise FolkclipError(f"config file {str(p)!r} cannot be read: "
                            f"{type(err).__name__}: {err}") from None
    if not isinstance(data, dict):
        raise FolkclipError(f"config file {str(p)!r} must hold a mapping")
    return data
