"""``folkclip report``: one self-contained HTML page for a run and for an ablation."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("lightning")

from folkclip_cli.main import main  # noqa: E402
from folkclip_cli.study.report import markdown_to_html  # noqa: E402


def _self_contained(page: str) -> None:
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from a network
    assert "<script src" not in page


def test_run_report_has_every_section(ablation, tmp_path, capsys):
    run = ablation / "full" / "seed0"
    out = tmp_path / "run.html"
    assert main(["report", str(run), "--out", str(out), "--examples", "2"]) == 0
    page = out.read_text()
    _self_contained(page)
    for heading in ("Test metrics", "Per tune type", "Training curves",
                    "Predictions during training", "Embedding maps", "Best predicted test tunes",
                    "Worst predicted test tunes", "Config"):
        assert f">{heading}" in page, heading
    assert page.count('src="data:image/png;base64,') >= 3  # curves, trajectories, maps
    assert (run / "map" / "map_metrics.json").exists()  # the maps were made for the report
    assert "ranked" in page and "X:" in page  # example tunes carry their ABC text
    assert "tune_to_title" not in page.split("Test metrics")[0]


def test_ablation_report_has_table_plot_and_runs(ablation, tmp_path):
    out = tmp_path / "ablation.html"
    assert main(["report", str(ablation), "--out", str(out), "--no-maps", "--examples",
                 "0"]) == 0
    page = out.read_text()
    _self_contained(page)
    assert "<th>remove</th>" in page and "<td>key+meter</td>" in page
    assert "Every run" in page and 'alt="ablation"' in page


def test_report_refuses_other_folders(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a finished run" in capsys.readouterr().err


def test_markdown_tables_become_html():
    text = "| a | b |\n|---|---|\n| 1 | x<y |\n\nnote & more"
    html = markdown_to_html(text)
    assert "<th>a</th><th>b</th>" in html and "<td>x&lt;y</td>" in html
    assert "<p class=muted>note &amp; more</p>" in html
