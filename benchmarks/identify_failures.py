"""Where do typed fragments fail? Each query of ``benchmarks/identify.py``'s typed condition
falls in one class:

* ``hit``: the right identity group ranks first;
* ``candidate miss``: no tune of the right group is among the n-gram stage's candidates;
  ``(full alignment would win / ties / loses)`` says what aligning every tune would give;
* ``tie``: a tune of the right group is a candidate and scores as high as the winner;
* ``outscored``: it is a candidate and another group's tune scores higher.

``shared`` marks queries whose unedited fragment another group's tune matches at least as
well as its own tune does (a phrase shared by several tunes: no matcher can tell them
apart from these bars alone).

    python benchmarks/identify_failures.py --index INDEX [--bars 2] [--queries 300]

It aligns every query against every tune, so it is slow (about 1 s per query).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from identify_queries import held_out_groups, typed_query


def _symbols(q: object) -> tuple[np.ndarray, np.ndarray]:
    from folkclip.identify.symbols import melody_symbols

    return melody_symbols(np.asarray(q.midi_pitch, float), q.inter_onset())  # type: ignore


def main(argv: list[str] | None = None) -> int:
    import identify as bench

    from folkclip.identify.limits import CANDIDATE_SYMBOLS
    from folkclip.identify.symbols import START

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", required=True)
    p.add_argument("--bars", type=int, default=2)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    ident, melodies, _, _ = bench.load(Path(args.index))
    groups = np.asarray(ident.data.groups)
    cal, ev = held_out_groups(groups, bench.HELD_OUT_SHARE, np.random.default_rng(0))
    base = frozenset(np.nonzero(cal | ev)[0].tolist())
    inside = np.nonzero(~(cal | ev))[0]
    every = inside  # the tunes a query may be ranked against
    rng = np.random.default_rng(args.seed)
    classes: dict[str, int] = {}
    done = 0
    while done < args.queries:
        t = int(rng.choice(inside))
        clean_rng = copy.deepcopy(rng)  # the same fragment, key and tempo, no edits
        q = typed_query(melodies[t], args.bars, rng)
        clean = typed_query(melodies[t], args.bars, clean_rng, edits=False)
        if q is None or len(q) < 5:
            continue
        done += 1
        g = int(groups[t])
        ranked = ident.rank(q, 5, base)
        q_iv, q_rh = _symbols(q)
        n_sym = int(np.count_nonzero(q_iv != START))
        wanted = max(ident.candidates, CANDIDATE_SYMBOLS // max(n_sym, 1))  # as rank() does
        cand, _ = ident.data.candidates(q_iv, wanted + len(base))
        cand = cand[~np.isin(cand, list(base))][:wanted]
        raw, _, _ = ident._align(q_iv, q_rh, every)
        own, other = raw[groups[every] == g].max(), raw[groups[every] != g].max()
        c_iv, c_rh = _symbols(clean)
        craw, _, _ = ident._align(c_iv, c_rh, every)
        shared = craw[groups[every] != g].max() >= craw[groups[every] == g].max()
        if ranked and ranked[0].group == g:
            kind = "hit"
        elif not np.any(groups[cand] == g):
            verdict = "would win" if own > other else "ties" if own == other else "loses"
            kind = f"candidate miss (full alignment {verdict})"
        elif ranked and abs(ranked[0].raw - own) < 1e-6:
            kind = "tie"
        else:
            kind = "outscored"
        kind += ", shared" if shared else ""
        classes[kind] = classes.get(kind, 0) + 1
    print(f"{args.queries} typed {args.bars}-bar queries, seed {args.seed}")
    for kind, n in sorted(classes.items(), key=lambda x: -x[1]):
        print(f"{n:5d}  {n / args.queries:.3f}  {kind}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
