"""recall@k and hit@k side by side in the evaluation JSON, the compare tables and the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from folkclip.abc.parser import parse_tunebook
from folkclip.data.dataset import tokenize_corpus
from folkclip.eval.evaluation import EvalSet, score
from folkclip.io.sources import Corpus

# Tune 1 has two titles: found one of them first -> hit@1 = 1 but recall@1 = 1/2.
BOOK = """X:1
T:Alpha
R:reel
M:4/4
L:1/8
K:G
GABc dedB|

X:2
T:Beta
T:Gamma
R:reel
M:4/4
L:1/8
K:D
FAdf a2fe|
"""


@pytest.fixture(scope="module")
def metrics() -> dict:
    tunes, _ = parse_tunebook(BOOK, "book.abc")
    es = EvalSet(tokenize_corpus(Corpus(tunes, [], [])), [0, 1])
    titles = np.eye(3, dtype=np.float32)  # Alpha, Beta, Gamma
    tunes_emb = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32)
    return score(es, tunes_emb, titles, n_boot=10)


def test_score_reports_both(metrics):
    assert metrics["tune_to_title/recall@1"] == pytest.approx((1 + 0.5) / 2)
    assert metrics["tune_to_title/hit@1"] == pytest.approx(1.0)
    assert metrics["per_type"]["reel"]["tune_to_title/hit@10"] == pytest.approx(1.0)


def test_compare_table_and_report_show_both(metrics):
    pytest.importorskip("matplotlib")
    from folkclip_cli.study.compare import RunResult, markdown_table, summarise
    from folkclip_cli.study.report import metrics_section

    scalars = {k: v for k, v in metrics.items() if "/" in k and isinstance(v, float)}
    table = markdown_table(summarise([RunResult("a", 0, Path("a"), scalars)]))
    assert "tune→title recall@10" in table and "tune→title hit@10" in table
    assert "title→tune hit@10" in table
    section = metrics_section(metrics)  # the report template's data
    assert {"hit@1", "recall@1"} <= {row[0] for row in section["rows"]}
    assert "tune→title hit@10" in section["per_type_head"]
