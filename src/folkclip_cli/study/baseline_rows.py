"""The baselines' rows in the study's tables (issue 19): every baseline folder the study has
(:data:`folkclip_cli.study.baselines.LABELS`: random, nearest-melody, linear) as a row
with its pooled scores, and for every two-tower row its paired Δ against the best baseline
of each direction (the highest pooled MRR), Holm-corrected over the two-tower rows of the
table (:func:`folkclip_cli.study.compare.summarise`). A study folder without baselines
gives no rows and no columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from folkclip_cli.study.compare import GroupSummary, RunResult
    from folkclip_cli.study.plan import StudyPlan

VS_KEYS = ("tune_to_title/mrr", "title_to_tune/mrr")  # the Δ-vs-best-baseline columns


@dataclass
class BaselineRows:
    """What a table adds for the baselines.

    Attributes:
        rows: One summary per baseline folder (scores and CIs, no Δ), cheapest first.
        extra: Columns ``{header: {two-tower label: "Δ ± CI half-width, p (Holm)"}}``.
        data: ``{two-tower label: {key: {"baseline", "delta", "ci", "p", "p_holm"}}}``.
    """

    rows: list[GroupSummary] = field(default_factory=list)
    extra: dict[str, dict[str, str]] = field(default_factory=dict)
    data: dict[str, dict] = field(default_factory=dict)

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(s.label for s in self.rows)


def baseline_results(plan: StudyPlan) -> list[RunResult]:
    """The finished baseline folders of the study, in :data:`LABELS` order."""
    from folkclip_cli.study.baselines import LABELS
    from folkclip_cli.study.compare import read_run

    return [read_run(plan.run_dir(lbl), lbl) for lbl in LABELS
            if (plan.run_dir(lbl) / "eval_test.json").exists()]


def best_baseline(results: list[RunResult], key: str) -> str:
    """The label of the baseline with the highest pooled ``key`` (the first among ties)."""
    return max(results, key=lambda r: r.metrics.get(key, -math.inf)).label


def baseline_rows(plan: StudyPlan, runs: list[RunResult],
                  keys: tuple[str, ...]) -> BaselineRows:
    """The baselines' rows for a table of two-tower ``runs`` (every seed of every row),
    and each row's paired Δ against the best baseline per key of :data:`VS_KEYS`.

    Args:
        plan: The study (its baseline folders are ``plan.run_dir(label)``).
        runs: The table's finished two-tower runs, on the study's own data and folds.
        keys: The table's score keys (the baseline rows' scores).
    """
    from folkclip_cli.study.compare import _fmt, _fmt_p, _name, summarise

    base = baseline_results(plan)
    if not base:
        return BaselineRows()
    out = BaselineRows(rows=summarise(base, None, keys))
    if not runs:
        return out
    for key in VS_KEYS:
        best = best_baseline(base, key)
        ref = next(r for r in base if r.label == best)
        paired = summarise([*runs, ref], best, (key,))
        column = f"Δ {_name(key)} vs {best.removeprefix('baseline-')} baseline, p (Holm)"
        out.extra[column] = {}
        for s in paired:
            if s.label == best:
                continue
            out.extra[column][s.label] = (f"{_fmt(s.delta[key], *s.delta_ci[key], signed=True)}"
                                          f", p {_fmt_p(s.p_holm[key])}")
            out.data.setdefault(s.label, {})[key] = {
                "baseline": best, "delta": s.delta[key], "ci": list(s.delta_ci[key]),
                "p": s.p[key], "p_holm": s.p_holm[key]}
    return out
