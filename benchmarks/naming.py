"""Do generated names fit their own tunes? The naming benchmark.

    python benchmarks/naming.py --bits runs/bits --two-tower runs/default [--n 400]
                                [--examples 20] [--seed 0] [--out naming.json]

Test tunes are the two-tower run's test split (its model never saw them). Each is named by
the title model of the ``folkclip bits`` fold that held it out (``BITS/runs/melody/fold<k>``,
so no title model saw it either; only tunes of folds whose models are finished), once with the melody model and once with the
unconditional one (``BITS/runs/none/fold<k>``), at temperature 0.8, top-p 0.9, seeded.

Printed (and written to ``--out``):

* title->tune MRR under the two-tower model, candidates the test tunes, for the real
  titles, the names written from the melody and the unconditional names, with bootstrap
  95% CIs and paired differences (permutation p);
* novelty rate (the name is no title of the collection), distinct-1/2 (distinct word
  unigrams / bigrams over all of them, all names pooled), type-word agreement (of the names
  holding a tune-type word such as "reel" or "jig", the share naming the tune's own type;
  real titles for reference);
* up to ``--examples`` (real title, generated name) pairs per tune type.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

TYPE_WORDS = {"reel": "reel", "reels": "reel", "jig": "jig", "jigs": "jig",
              "hornpipe": "hornpipe", "polka": "polka", "slide": "slide", "waltz": "waltz",
              "strathspey": "strathspey", "march": "march", "air": "air", "lament": "air",
              "mazurka": "mazurka", "barndance": "barndance", "schottische": "barndance"}
_WORD = re.compile(r"[a-z']+")


def words(title: str) -> list[str]:
    return _WORD.findall(title.casefold())


def distinct(titles: list[str], n: int) -> float:
    """Distinct word n-grams over all word n-grams of ``titles`` (Li et al.'s distinct-n)."""
    grams = [tuple(w[i:i + n]) for w in map(words, titles) for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def type_agreement(titles: list[str], types: list[str]) -> tuple[float, float]:
    """(share of titles holding a type word, share of those whose word names the tune's
    own type) over the tunes of known type."""
    held, agree = 0, 0
    known = [(t, ty) for t, ty in zip(titles, types) if ty not in ("unknown", "other")]
    for title, ty in known:
        named = {TYPE_WORDS[w] for w in words(title) if w in TYPE_WORDS}
        if named:
            held += 1
            agree += ty in named
    return (held / len(known) if known else float("nan"),
            agree / held if held else float("nan"))


def mrr_title_to_tune(fm, tc, tunes: list[int], titles: list[str]) -> np.ndarray:  # noqa: ANN001
    """Per query title, the reciprocal rank of its own tune among ``tunes`` (N,)."""
    from folkclip.eval.evaluation import embed_tunes
    from folkclip.eval.metrics import rank_positions

    tune_emb = embed_tunes(fm.model, tc, tunes, max_events=fm.max_events, ids=tc.remap(fm.vocab))
    title_emb = fm.embed_titles(titles)  # (N, D)
    ranks = rank_positions(title_emb @ tune_emb.T, [[k] for k in range(len(tunes))])
    return np.array([1.0 / r[0] for r in ranks])


def main(argv: list[str] | None = None) -> int:
    from folkclip.data.dataset import load_tokenized
    from folkclip.data.splits import assign_folds
    from folkclip.eval.metrics import bootstrap_ci
    from folkclip.eval.stats import paired_difference
    from folkclip.export import load
    from folkclip.generate.names import names_from_events
    from folkclip.models.title_lm import condition_batch, load_title_lm, title_lm_dir
    from folkclip_cli.train.config import read_run_config

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bits", required=True, help="a finished `folkclip bits` folder")
    p.add_argument("--two-tower", required=True, help="a two-tower run folder")
    p.add_argument("--n", type=int, default=400, help="test tunes named (first N)")
    p.add_argument("--examples", type=int, default=20, help="examples printed per type")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="naming.json")
    args = p.parse_args(argv)

    bits = Path(args.bits)
    cfg = json.loads((bits / "runs" / "melody" / "fold0" / "bits_settings.json").read_text())
    folds = int(cfg["data"]["folds"])
    run_cfg = read_run_config(args.two_tower)["data"]
    done = [k for k in range(folds) if all(
        title_lm_dir(bits / "runs" / c / f"fold{k}") for c in ("melody", "none"))]
    if not done:
        raise SystemExit(f"{bits}: no fold has finished both the melody and none models")
    models = {c: {k: load_title_lm(bits / "runs" / c / f"fold{k}") for k in done}
              for c in ("melody", "none")}
    first = models["melody"][done[0]]
    tc = load_tokenized(cfg["data"]["sources"], first.tokenizer_config)
    ids = tc.remap(first.vocab)
    fold_of = assign_folds(tc.identities(), folds, int(cfg["data"]["split_seed"]))
    test = tc.split(run_cfg["split_seed"], tuple(run_cfg["fractions"]))["test"]
    tunes = [int(i) for i in test
             if tc.meta[int(i)]["title"] and int(fold_of[int(i)]) in done][: args.n]
    fm = load(args.two_tower)

    real = [tc.meta[i]["title"] for i in tunes]
    named: dict[str, list] = {}
    for c, per_fold in models.items():
        named[c] = []
        for i in tunes:
            lm = per_fold[int(fold_of[i])]
            batch = condition_batch(tc, [i], lm.model.config.condition, lm.max_events, ids=ids)
            named[c].append(names_from_events(lm, batch, 1, seed=args.seed + i)[0])
    titles = {"real titles": real, "named from the melody": [g.title for g in named["melody"]],
              "unconditional names": [g.title for g in named["none"]]}
    rr = {k: mrr_title_to_tune(fm, tc, tunes, v) for k, v in titles.items()}
    chance = float(np.mean([1.0 / r for r in range(1, len(tunes) + 1)]))
    types = [tc.meta[i]["type"] for i in tunes]
    result: dict = {"n_tunes": len(tunes), "folds": folds, "folds_used": done, "chance_mrr": chance, "rows": {}}
    print(f"{len(tunes)} test tunes of {args.two_tower} held out by folds {done} of {folds} "
          f"(chance MRR {chance:.4f})")
    print("| titles | title->tune MRR (95% CI) | novel | distinct-1 | distinct-2 | "
          "with a type word | of those, the tune's type |")
    print("|---|---|---|---|---|---|---|")
    for k, v in titles.items():
        low, high = bootstrap_ci(rr[k], seed=args.seed)
        novel = (float(np.mean([g.novel for g in named["melody" if "melody" in k else "none"]]))
                 if k != "real titles" else float("nan"))
        held, agree = type_agreement(v, types)
        row = {"mrr": float(rr[k].mean()), "ci": [low, high], "novel": novel,
               "distinct_1": distinct(v, 1), "distinct_2": distinct(v, 2),
               "type_word": held, "type_agree": agree}
        result["rows"][k] = row
        print(f"| {k} | {row['mrr']:.4f} ({low:.4f}-{high:.4f}) | "
              f"{'-' if k == 'real titles' else f'{novel:.0%}'} | {row['distinct_1']:.3f} | "
              f"{row['distinct_2']:.3f} | {held:.0%} | {agree:.0%} |")
    for a, b in (("named from the melody", "unconditional names"),
                 ("real titles", "named from the melody")):
        d = paired_difference(rr[a], rr[b], seed=args.seed)
        result[f"{a} - {b}"] = {"delta": d.mean, "ci": [d.low, d.high], "p": d.p}
        print(f"MRR({a}) - MRR({b}) = {d.mean:+.4f} ({d.low:+.4f} to {d.high:+.4f}), "
              f"p = {d.p:.4f}")
    by_type: dict[str, list] = defaultdict(list)
    for i, t, g in zip(tunes, real, named["melody"]):
        by_type[tc.meta[i]["type"]].append((t, g.title, g.novel))
    result["examples"] = {}
    for ty, rows in sorted(by_type.items(), key=lambda kv: -len(kv[1])):
        result["examples"][ty] = rows[: args.examples]
        print(f"\n{ty} ({len(rows)} test tunes): real title -> named from the melody")
        for t, g, novel in rows[: args.examples]:
            print(f"  {t} -> {g}{'' if novel else '  (existing title)'}")
    result["name_lengths"] = Counter(len(words(g.title)) for g in named["melody"])
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
