"""Shared fixtures: small ABC snippets written for these tests."""

from __future__ import annotations

import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis comes with the dev extra; without it only test_fuzz fails
    settings = None
else:
    # Property tests draw the same examples on every run (CI passes or fails the same way);
    # the wide random search is the fuzz campaign, benchmarks/fuzz.py, run on purpose.
    settings.register_profile("folkclip", derandomize=True, database=None, deadline=None,
                              print_blob=True, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("folkclip")

JIG = """X:1
T:Humours of Ballyloughlin, The
T:Ballyloughlin
R:double jig
M:6/8
L:1/8
K:D
|:"D"A|~d2e fed|"G"g2f e>dc|(3Bcd B AFD|^c2- c c2:|
"""

REEL_BOOK = """% a tunebook written for folkclip's tests
L:1/8

X:1
T:The Test Reel -- Reel
M:C|
K:Ador
EAAB cBAG|EAAB c2 Bc|\\
dBGB dBGB|ABAG E2 D2||

X:2
T:Broken Tune
M:4/4
K:Hm
ABCD|

X:3
T:Second Reel
R:reel
M:4/4
K:G
% a comment line inside the body
GABc dedB|[K:D] FAdf a2 fe|
"""


@pytest.fixture
def jig_text() -> str:
    return JIG


@pytest.fixture
def reel_book() -> str:
    return REEL_BOOK


# Tiny two-tower training for smoke runs: a few steps on the `tiny` collection.
TINY_TRAIN = ["--data", "tiny", "--set", "trainer.batch_size=16", "--set",
              "tracking.probe_size=4", "--set", "tracking.logger=csv", "--set",
              "model_preset=gru", "--set", "model.melody.dim=32", "--set", "model.title.dim=32",
              "--set", "model.embed_dim=32", "--set", "trainer.max_steps=4", "--set",
              "trainer.log_every_n_steps=1", "--set", "tracking.probe_steps=[2, 4]"]


@pytest.fixture(scope="session")
def ablation(tmp_path_factory):
    """A smoke ablation: full, rhythm and key+meter removed, one seed each, tiny models."""
    pytest.importorskip("lightning")
    from folkclip_cli.main import main

    out = tmp_path_factory.mktemp("ablation")
    assert main(["ablate", "--remove", "rhythm,key+meter", "--seeds", "1", "--out", str(out),
                 *TINY_TRAIN]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory):
    """A real tune index of the `tiny` collection, built with a tiny model trained for 4 steps."""
    pytest.importorskip("lightning")
    from folkclip.index import TuneIndex
    from folkclip_cli.main import main

    root = tmp_path_factory.mktemp("serve")
    assert main(["train", "--out", str(root / "run"), *TINY_TRAIN]) == 0
    TuneIndex.build(root / "run", ["tiny"], root / "index", progress=False)
    return root / "index"


# A tiny conditional title model: 4 steps of configs/title-lm.yaml on `tiny`, 16 wide.
TINY_TITLE_TRAIN = ["--data", "tiny", "--set", "trainer.max_steps=4", "--set",
                    "title_lm.dim=16", "--set", "title_lm.encoder.dim=16", "--set",
                    "trainer.batch_size=16"]


@pytest.fixture(scope="session")
def tiny_title_model(tmp_path_factory):
    """A title-model run folder (task title_lm) trained for 4 steps on `tiny`."""
    pytest.importorskip("lightning")
    from pathlib import Path

    from folkclip_cli.main import main

    out = tmp_path_factory.mktemp("title-lm") / "run"
    config = Path(__file__).resolve().parents[1] / "configs" / "title-lm.yaml"
    assert main(["train", "--config", str(config), "--out", str(out), *TINY_TITLE_TRAIN]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_named_index(tiny_index, tiny_title_model, tmp_path_factory):
    """A copy of ``tiny_index`` carrying the tiny title model (added by `folkclip index
    ... --title-model` on the finished index, which rebuilds nothing else)."""
    import shutil

    from folkclip_cli.main import main

    out = tmp_path_factory.mktemp("named") / "index"
    shutil.copytree(tiny_index, out)
    assert main(["index", str(tiny_index.parent / "run"), "--data", "tiny", "--out", str(out),
                 "--no-progress", "--title-model", str(tiny_title_model)]) == 0
    return out
