"""Typed config: unknown keys and wrong types are refused with messages naming the key."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from folkclip.config import apply_assignments, from_dict, to_dict
from folkclip.errors import FolkclipError


@dataclass
class Inner:
    steps: int = 10
    rate: float = 0.5
    name: str = "x"
    flag: bool = False
    tags: list[str] = field(default_factory=list)
    maybe: int | None = None


@dataclass
class Outer:
    seed: int = 0
    inner: Inner = field(default_factory=Inner)


def test_from_dict_nested_and_coercions():
    cfg = from_dict(Outer, {"seed": 3, "inner": {"steps": 5, "rate": 1, "tags": ["a"]}})
    assert cfg.seed == 3 and cfg.inner.steps == 5 and cfg.inner.rate == 1.0
    assert isinstance(cfg.inner.rate, float) and cfg.inner.tags == ["a"]
    assert to_dict(cfg)["inner"]["tags"] == ["a"]


@pytest.mark.parametrize("data,needle", [
    ({"sed": 1}, "'sed'"), ({"inner": {"step": 1}}, "'inner.step'"),
    ({"seed": "three"}, "seed"), ({"inner": {"flag": 1}}, "inner.flag"),
    ({"inner": {"steps": 1.5}}, "inner.steps"), ({"seed": True}, "seed"),
])
def test_from_dict_refuses(data, needle):
    with pytest.raises(FolkclipError, match=needle.replace(".", r"\.")):
        from_dict(Outer, data)


def test_overrides_parse_yaml_values_and_check_types():
    cfg = apply_assignments(Outer(), ["seed=7", "inner.rate=0.25", "inner.flag=true",
                                    "inner.tags=[a, b]", "inner.maybe=3", "inner.name=42"])
    assert (cfg.seed, cfg.inner.rate, cfg.inner.flag, cfg.inner.tags, cfg.inner.maybe,
            cfg.inner.name) == (7, 0.25, True, ["a", "b"], 3, "42")
    assert apply_assignments(cfg, ["inner.maybe=null"]).inner.maybe is None
    with pytest.raises(FolkclipError, match="unknown config key 'inner.nope'"):
        apply_assignments(Outer(), ["inner.nope=1"])
    with pytest.raises(FolkclipError, match="inner.steps"):
        apply_assignments(Outer(), ["inner.steps=fast"])
    with pytest.raises(FolkclipError, match="key=value"):
        apply_assignments(Outer(), ["seed"])
