"""Print the README chapter's compact tables from a finished study folder.

    python scripts/study_readme_tables.py runs/study

Reads ``tables/{encoders,removal,transfer,probes,title_words}.csv``, ``baselines.csv``
(when the study has baselines) and ``nottingham_*`` written by ``folkclip study`` (``make study``) and prints Markdown: the
paired differences with their 95% CIs and Holm-corrected p-values, to four decimals.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

T2T, TI2T = "tune_to_title/mrr", "title_to_tune/mrr"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _p(x: str) -> str:
    v = float(x)
    return "—" if math.isnan(v) else f"{v:.1e}" if v < 0.001 else f"{v:.3f}"


def _delta(r: dict, key: str) -> str:
    d = float(r[f"delta {key}"])
    if math.isnan(float(r[f"p {key}"])) or (d == 0 and float(r[f"delta {key} ci_low"]) == 0):
        return "—"
    return (f"{d:+.4f} ({float(r[f'delta {key} ci_low']):+.4f} to "
            f"{float(r[f'delta {key} ci_high']):+.4f}), p {_p(r[f'p_holm {key}'])}")


def paired(path: Path, first: str, extra: tuple[str, ...] = ()) -> str:
    rows = _rows(path)
    # the study's Δ against its best baseline, where it has baselines (baseline rows: "—")
    # and, where a row has several seeds, the seed count and spread
    extra = (*extra, *(c for c in (rows[0] if rows else {}) if c.startswith("Δ ")
                       and c.endswith("baseline, p (Holm)")),
             *(c for c in (rows[0] if rows else {}) if c == "seeds" or c.startswith("seed sd")))
    head = [first, "tune→title MRR", "Δ tune→title MRR (95% CI), Holm p",
            "title→tune MRR", "Δ title→tune MRR (95% CI), Holm p", *extra]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r[first], f"{float(r[T2T]):.4f}", _delta(r, T2T), f"{float(r[TI2T]):.4f}",
                 _delta(r, TI2T), *(r.get(e, "") or "—" for e in extra)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    folder = Path((argv or sys.argv[1:] or ["runs/study"])[0])
    t = folder / "tables"
    budget = json.loads((folder / "study.json").read_text())["budget"]
    print(f"<!-- {json.dumps(budget)} -->\n")
    tables = [("Part 1", "encoders.csv", "encoder", ()),
              ("Part 1, MiniLM titles (Δ vs header-only with MiniLM titles)",
               "encoders_minilm.csv", "encoder", ()),
              ("Baselines (part 4 of issue 19)", "baselines.csv", "baseline", ()),
              ("Part 2", "removal.csv", "remove", ("residual information",)),
              ("Part 3", "transfer.csv", "variant", ("training tunes",))]
    for title, name, first, extra in tables:  # a study in progress has only some of them
        if (t / name).exists() and _rows(t / name):
            print(f"{title}\n\n" + paired(t / name, first, extra) + "\n")
    if (t / "probes.md").exists():
        print("Part 4\n\n" + (t / "probes.md").read_text())
    if (t / "title_words.md").exists():
        words = (t / "title_words.md").read_text().splitlines()
        print("Part 5 (best 12, worst 3)\n\n" + "\n".join(words[:14] + ["| … |"] + words[-3:])
              + "\n")
    if (t / "nottingham_cv.csv").exists():
        print("Part 6\n\n" + (t / "nottingham_transfer.md").read_text() + "\n"
              + paired(t / "nottingham_cv.csv", "model"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
