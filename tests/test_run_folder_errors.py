"""Damaged run folders and bad arguments give one-line errors (exit 2), and anything that
still escapes a command is reported as an internal error (exit 1), never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("lightning")

import folkclip
from folkclip_cli.main import main
from folkclip.errors import FolkclipError

TINY = ["--data", "tiny", "--set", "trainer.batch_size=16", "--set", "tracking.probe_size=2",
        "--set", "trainer.progress_bar=false", "--set", "tracking.logger=csv",
        "--set", "model_preset=gru", "--set", "model.melody.dim=16", "--set",
        "model.title.dim=16", "--set", "model.embed_dim=16", "--set", "trainer.max_steps=3"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--out", str(out), *TINY]) == 0
    return out


def _copy(run: Path, tmp_path: Path, name: str = "run") -> Path:
    target = tmp_path / name
    shutil.copytree(run, target)
    return target


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _one_line_error(capsys, code: int, *needles: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("folkclip: error: "), err
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_truncated_model_json(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    _truncate(run / "model" / "model.json")
    for argv in (["evaluate", str(run)], ["map", str(run)],
                 ["report", str(run), "--no-maps"]):
        _one_line_error(capsys, main(argv), "model.json", "not valid JSON")
    with pytest.raises(FolkclipError, match="model.json: not valid JSON"):
        folkclip.load(run)


@pytest.mark.parametrize("text, needle", [
    ("[1, 2]", "expected a JSON object, found list"),
    ('{"model": {}}', "missing vocab, tokenizer, max_events"),
    ('{"model": {"embed_dim": 0}, "vocab": {}, "tokenizer": {}, "max_events": 1}',
     "model.json: model.embed_dim must be a positive integer"),
    ('{"model": {}, "vocab": [], "tokenizer": {}, "max_events": 1}', "malformed"),
])
def test_model_json_of_the_wrong_shape(finished, tmp_path, text, needle):
    run = _copy(finished, tmp_path)
    (run / "model" / "model.json").write_text(text)
    with pytest.raises(FolkclipError, match=needle):
        folkclip.load(run)


def test_truncated_weights(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    _truncate(run / "model" / "weights.pt")
    _one_line_error(capsys, main(["evaluate", str(run)]), "weights.pt", "cannot be loaded")


def test_truncated_eval_test_json(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    _truncate(run / "eval_test.json")
    for argv in (["compare", str(run)], ["report", str(run), "--no-maps"]):
        _one_line_error(capsys, main(argv), "eval_test.json", "not valid JSON")


@pytest.mark.parametrize("text, needle", [
    ("", "config.yaml: empty"),
    ("seed: [\n", "not valid YAML"),
    ("- 1\n", "must hold a mapping"),
    ("trainer: {batch_size: 0}\n", "not a valid run config: trainer.batch_size must be >= 1"),
])
def test_damaged_config_yaml(finished, tmp_path, capsys, text, needle):
    run = _copy(finished, tmp_path)
    (run / "config.yaml").write_text(text)
    for argv in (["evaluate", str(run)], ["map", str(run)], ["compare", str(run)],
                 ["report", str(run), "--no-maps"]):
        _one_line_error(capsys, main(argv), "config.yaml", needle)


def test_truncated_checkpoint_refused_on_resume(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    _truncate(run / "checkpoints" / "last.ckpt")
    code = main(["train", "--out", str(run), "--resume", *TINY])
    _one_line_error(capsys, code, "last.ckpt cannot be read", "delete it")


def test_ablate_resume_with_a_damaged_record(tmp_path, capsys):
    seed0 = tmp_path / "abl" / "full" / "seed0"
    seed0.mkdir(parents=True)
    (seed0 / "sweep_run.json").write_text('{"config": null, "overr')
    code = main(["ablate", "--remove", "key", "--out", str(tmp_path / "abl"), "--seeds", "1",
                 *TINY])
    _one_line_error(capsys, code, "sweep_run.json", "not valid JSON")


@pytest.mark.parametrize("argv", [
    ["ablate", "--remove", "first_bars=x", "--data", "tiny"],
    ["ablate", "--remove", "first_bars=-2", "--data", "tiny"],
    ["data", "tokens", "tiny", "--remove", "first_bars=x"],
])
def test_bad_first_bars(argv, tmp_path, capsys):
    _one_line_error(capsys, main([*argv[:2], *argv[2:], *(
        ["--out", str(tmp_path / "a")] if argv[0] == "ablate" else [])]), "first_bars")


def _crash(args):
    raise ValueError("a bug\nover two lines")


def test_internal_error_is_reported_not_a_traceback(monkeypatch, capsys):
    from folkclip_cli import data

    monkeypatch.setattr(data, "cmd_inspect", _crash)
    assert main(["data", "inspect", "tiny"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0] == "folkclip: internal error: ValueError: a bug over two lines"
    assert "please report it to" in lines[1] and "--debug" in lines[1] and len(lines) == 2
    assert main(["--debug", "data", "inspect", "tiny"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in _crash" in err
    assert "folkclip: internal error: ValueError: a bug over two lines" in err


def test_internal_error_message_is_capped(monkeypatch, capsys):
    from folkclip_cli import data
    from folkclip_cli import main as cli

    def huge(args):
        raise RuntimeError("9" * 10_000)

    monkeypatch.setattr(data, "cmd_inspect", huge)
    assert main(["data", "inspect", "tiny"]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert len(first) < cli.MAX_MESSAGE + 100 and first.endswith("...")
