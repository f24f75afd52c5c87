"""Config values checked when the config is loaded, before any data is read: enumerations
(``Literal``), numeric ranges (``Annotated[..., Range(...)]``) and wrong shapes."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Annotated, Literal

import pytest

from folkclip.config import Range, apply_assignments, from_dict
from folkclip.errors import FolkclipError
from folkclip_cli.train.config import TrainConfig, load_config


@dataclass
class Rules:
    kind: Literal["a", "b"] = "a"
    size: Annotated[int, Range(ge=1)] = 1
    share: Annotated[float, Range(gt=0, lt=1)] = 0.5
    shares: list[Annotated[float, Range(ge=0)]] = field(default_factory=list)


def test_literal_and_range_in_the_shared_machinery():
    assert from_dict(Rules, {"kind": "b", "size": 3, "share": 0.25, "shares": [0, 2]}) == \
        Rules("b", 3, 0.25, [0.0, 2.0])
    for data, needle in [({"kind": "c"}, "kind must be one of a, b; got 'c'"),
                         ({"size": 0}, "size must be >= 1, got 0"),
                         ({"share": 1}, "share must be > 0 and < 1, got 1.0"),
                         ({"share": float("nan")}, "share must be a finite number"),
                         ({"shares": [1, -1]}, "shares[1] must be >= 0, got -1.0")]:
        with pytest.raises(FolkclipError, match=needle.replace("[", r"\[").replace("]", r"\]")):
            from_dict(Rules, data)
    assert apply_assignments(Rules(), ["share=1e-3"]).share == 0.001  # YAML reads 1e-3 as text
    with pytest.raises(FolkclipError, match="size must be >= 1, got 0"):
        apply_assignments(Rules(), ["size=0"])  # the range message, not "expected int, got '0'"


@pytest.mark.parametrize("override, needle", [
    ("loss.kind=hing", "loss.kind must be one of infonce, hinge; got 'hing'"),
    ("optim.schedule=cosin", "optim.schedule must be one of cosine, constant; got 'cosin'"),
    ("loss.same_title=maks", "loss.same_title must be one of mask, positive, none"),
    ("tracking.logger=tb", "tracking.logger must be one of tensorboard, mlflow, wandb, csv"),
    ("trainer.strategy=dpp", "trainer.strategy must be one of auto, ddp"),
    ("trainer.accelerator=gpus", "trainer.accelerator must be one of auto, cpu, gpu"),
    ("trainer.precision=31", "trainer.precision must be one of 32-true"),
    ("task=lm", "task must be one of contrastive, melody_lm"),
    ("trainer.devices=0", "trainer.devices must be >= 1, got 0"),
    ("trainer.batch_size=0", "trainer.batch_size must be >= 1, got 0"),
    ("trainer.num_nodes=-2", "trainer.num_nodes must be >= 1"),
    ("trainer.max_epochs=0", "trainer.max_epochs must be >= 1"),
    ("trainer.max_steps=0", r"trainer.max_steps must be -1 \(no limit\) or >= 1"),
    ("trainer.max_steps=-5", "trainer.max_steps must be >= -1"),
    ("trainer.checkpoint_every_n_steps=-1", "trainer.checkpoint_every_n_steps must be >= 0"),
    ("trainer.monitor=val/mrr", "trainer.monitor for task contrastive must be one of"),
    ("optim.lr=-0.1", "optim.lr must be > 0, got -0.1"),
    ("optim.lr=0", "optim.lr must be > 0"),
    ("optim.lr=.inf", "optim.lr must be a finite number"),
    ("optim.weight_decay=-1", "optim.weight_decay must be >= 0"),
    ("optim.warmup_steps=-1", "optim.warmup_steps must be >= 0"),
    ("loss.margin=-1", "loss.margin must be >= 0"),
    ("data.fractions=[1.5, -0.25, -0.25]", r"data.fractions\[0\] must be >= 0 and <= 1"),
    ("data.fractions=[0.5, 0.2, 0.2]", "data.fractions must be three shares"),
    ("data.fractions=[0.9, 0.0, 0.1]", "validation above 0"),
    ("data.remove=[rhythmn]", "data.remove: unknown switch.*rhythmn"),
    ("data.max_events=4", "data.max_events must be >= 8"),
    ("data.first_bars=-1", "data.first_bars must be >= 0"),
    ("seed=-1", "seed must be >= 0"),
    ("tracking.top_k=0", "tracking.top_k must be >= 1"),
    ("tracking.probe_steps=[5, -1]", r"tracking.probe_steps\[1\] must be >= 0"),
    ("model.melody.dim=0", "melody.dim must be a positive integer"),
])
def test_train_config_refuses_bad_values_when_loaded(override, needle):
    with pytest.raises(FolkclipError, match=needle):
        load_config(None, [override])


@pytest.mark.parametrize("text, needle", [
    ("model: 3\n", "model: expected a mapping, got 3"),
    ("model_preset: gru\nmodel: 3\n", "model: expected a mapping, got 3"),
    ("model_preset: gru\nmodel: {melody: 3}\n", "model.melody: expected a mapping"),
    ("model_preset: [gru]\n", "model_preset: expected a name"),
    ("trainer: 5\n", "trainer: expected a mapping"),
    ("loss: {kind: hing}\n", "loss.kind must be one of infonce, hinge"),
    ("seed: 1.5\n", "seed: expected int"),
    ("- a list\n", "must hold a mapping"),
])
def test_config_files_of_the_wrong_shape(tmp_path, text, needle):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(FolkclipError, match=needle):
        load_config(path)


def test_good_values_pass_and_melody_lm_takes_its_own_monitors():
    cfg = load_config(None, ["optim.lr=1e-3", "trainer.precision=bf16-mixed",
                             "trainer.max_steps=5", "data.fractions=[0.7, 0.15, 0.15]"])
    assert cfg.optim.lr == 0.001 and cfg.trainer.max_steps == 5
    assert load_config(None, ["task=melody_lm", "model.melody.arch=lm",
                              "trainer.monitor=val/token_ppl"]).task == "melody_lm"
    with pytest.raises(FolkclipError, match="for task melody_lm must be one of val/loss"):
        load_config(None, ["task=melody_lm", "model.melody.arch=lm"])


def test_every_shipped_config_loads(tmp_path):
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        assert isinstance(load_config(path), TrainConfig)


def test_trainer_choices_are_what_lightning_accepts():
    L = pytest.importorskip("lightning")
    from lightning.fabric.connector import _PRECISION_INPUT_STR
    from lightning.pytorch.accelerators import AcceleratorRegistry
    from lightning.pytorch.strategies import StrategyRegistry

    from folkclip_cli.train.config import ACCELERATORS, PRECISIONS, STRATEGIES

    assert L is not None
    assert set(typing.get_args(STRATEGIES)) - {"auto"} <= set(
        StrategyRegistry.available_strategies())
    assert set(typing.get_args(ACCELERATORS)) - {"auto", "gpu"} <= set(
        AcceleratorRegistry.available_accelerators())
    assert set(typing.get_args(PRECISIONS)) <= set(typing.get_args(_PRECISION_INPUT_STR))


def test_cli_refuses_before_reading_any_data(tmp_path, capsys, monkeypatch):
    import folkclip.data.dataset
    from folkclip_cli.main import main

    def no_data(*args, **kwargs):
        raise AssertionError("data was read before the config was checked")

    monkeypatch.setattr(folkclip.data.dataset, "load_tokenized", no_data)
    for override, needle in [("trainer.devices=0", "trainer.devices must be >= 1"),
                             ("trainer.batch_size=0", "trainer.batch_size must be >= 1"),
                             ("loss.kind=hing", "loss.kind must be one of")]:
        assert main(["train", "--out", str(tmp_path / "r"), "--set", override]) == 2
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kwargs, needle", [
    ({"first_bars": "3"}, "tokenizer first_bars must be an integer"),
    ({"max_events": 2.5}, "tokenizer max_events must be an integer"),
    ({"remove": "key"}, "tokenizer remove must be a list"),
    ({"remove": ("keys",)}, "unknown removal switch"),
    ({"first_bars": -1}, "first_bars must be >= 0"),
])
def test_tokenizer_config_refuses_bad_values(kwargs, needle):
    from folkclip.data.tokenize import TokenizerConfig

    with pytest.raises(FolkclipError, match=needle):
        TokenizerConfig(**kwargs)


@pytest.mark.parametrize("spec", ["first_bars=x", "first_bars=", "first_bars=-1",
                                  "first_bars=1e3", "first_bars=" + "9" * 5000])
def test_tokenizer_spec_refuses_bad_first_bars(spec):
    from folkclip.data.tokenize import TokenizerConfig

    with pytest.raises(FolkclipError, match="first_bars"):
        TokenizerConfig.from_spec(spec)
