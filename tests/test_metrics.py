"""Tests for folkclip.eval.metrics: hand-worked values, brute-force ranks, and a reference library."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from folkclip.eval import metrics as M
from folkclip.eval.metrics import (
    average_precision,
    bootstrap_ci,
    dcg,
    hit_at_k,
    ndcg,
    per_query_metrics,
    rank_positions,
    recall_at_k,
    reciprocal_rank,
    relevance_from_labels,
    retrieval_metrics,
    two_way_metrics,
)

L3 = 1 / math.log2(3)  # 0.6309297536
L5 = 1 / math.log2(5)  # 0.4306765581
L6 = 1 / math.log2(6)  # 0.3868528072

EXPECTED_KEYS = {
    "mrr", "dcg", "ndcg", "ndcg@10", "recall@1", "recall@5", "recall@10", "hit@1", "hit@5",
    "hit@10", "map", "median_rank", "mean_rank", "n_queries",
}


# --------------------------------------------------------------------------- rank_positions
def test_rank_positions_ties_broken_by_index():
    # scores:   idx0=0.1 idx1=0.9 idx2=0.5 idx3=0.9 idx4=0.3
    # ranking (desc score, then lower index first): 1, 3, 2, 4, 0
    # -> idx3 is rank 2 (tied with idx1, which has the lower index), idx4 rank 4,
    #    idx0 rank 5 (last), idx1 rank 1.
    s = np.array([[0.1, 0.9, 0.5, 0.9, 0.3]])
    assert rank_positions(s, [[3, 4]])[0].tolist() == [2, 4]
    assert rank_positions(s, [[0]])[0].tolist() == [5]
    assert rank_positions(s, [np.array([4, 1, 1])])[0].tolist() == [1, 4]  # dedup + sorted
    assert rank_positions(s, [[]])[0].tolist() == []


def test_rank_positions_all_equal_scores():
    # every score tied -> rank = index + 1
    s = np.zeros((2, 6))
    out = rank_positions(s, [[5, 0], [2]])
    assert out[0].tolist() == [1, 6]
    assert out[1].tolist() == [3]


def _brute_ranks(scores, relevant):
    out = []
    for q in range(scores.shape[0]):
        order = np.lexsort((np.arange(scores.shape[1]), -scores[q]))  # stable: score, index
        pos = np.empty(scores.shape[1], dtype=np.int64)
        pos[order] = np.arange(1, scores.shape[1] + 1)
        out.append(np.sort(pos[np.unique(np.asarray(relevant[q], dtype=np.int64))]))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("chunk", [1, 7, 1 << 22])
def test_rank_positions_matches_argsort(seed, chunk, monkeypatch):
    monkeypatch.setattr(M, "_CHUNK_ELEMENTS", chunk)  # exercise block boundaries
    rng = np.random.default_rng(seed)
    q, c = 25, 40
    scores = rng.integers(0, 6, size=(q, c)).astype(np.float64)  # heavy ties
    scores[0] = 1.0  # one row all tied
    relevant = [rng.choice(c, size=rng.integers(0, 6), replace=False) for _ in range(q)]
    relevant[1] = [c - 1]  # make sure a last-index item is in there
    got = rank_positions(scores, relevant)
    want = _brute_ranks(scores, relevant)
    assert len(got) == q
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_rank_positions_float32_and_large_shape():
    rng = np.random.default_rng(0)
    n = 5000
    scores = rng.standard_normal((n, n)).astype(np.float32)
    relevant = [[i] for i in range(n)]
    got = rank_positions(scores, relevant)
    diag = scores[np.arange(n), np.arange(n)]
    for i in (0, 1, 1234, n - 1):
        assert got[i][0] == 1 + np.sum(scores[i] > diag[i]) + np.sum(scores[i, :i] == diag[i])


@pytest.mark.parametrize(
    "scores, relevant",
    [
        (np.array([[0.1, np.nan]]), [[0]]),
        (np.array([[0.1, 0.2]]), [[2]]),
        (np.array([[0.1, 0.2]]), [[-1]]),
        (np.array([[0.1, 0.2]]), [[0], [1]]),
        (np.array([0.1, 0.2]), [[0]]),
    ],
)
def test_rank_positions_rejects_bad_input(scores, relevant):
    with pytest.raises(ValueError):
        rank_positions(scores, relevant)


# ------------------------------------------------------------------------ per-query metrics
def test_metrics_two_relevant():
    r = np.array([4, 2])  # unsorted on purpose; sorted: [2, 4]
    assert reciprocal_rank(r) == pytest.approx(0.5)  # 1/2
    # DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161
    assert dcg(r) == pytest.approx(L3 + L5)
    # IDCG (2 relevant at ranks 1,2) = 1 + 1/log2(3) = 1.63093 -> nDCG = 0.65092
    assert ndcg(r) == pytest.approx((L3 + L5) / (1 + L3))
    assert ndcg(r) == pytest.approx(0.650920, abs=1e-6)
    # nDCG@3: only rank 2 counts; ideal@3 = still 2 items -> 0.63093 / 1.63093 = 0.38685
    assert ndcg(r, k=3) == pytest.approx(L3 / (1 + L3))
    # nDCG@1: nothing in top 1, ideal@1 = 1 -> 0
    assert ndcg(r, k=1) == 0.0
    # recall: 0/2 in top1, 1/2 in top2..3, 2/2 in top4
    assert recall_at_k(r, 1) == 0.0
    assert recall_at_k(r, 3) == 0.5
    assert recall_at_k(r, 4) == 1.0
    # hit: any relevant item in the top k -> 0 at k=1, 1 from k=2 on (recall is 1/2 there)
    assert hit_at_k(r, 1) == 0.0
    assert hit_at_k(r, 2) == 1.0 and hit_at_k(r, 3) == 1.0 and hit_at_k(r, 4) == 1.0
    # AP = (1/2 + 2/4) / 2 = 0.5
    assert average_precision(r) == pytest.approx(0.5)


def test_metrics_three_relevant_ap():
    # AP = (1/1 + 2/3 + 3/6) / 3 = 2.16667 / 3 = 0.72222
    assert average_precision([1, 3, 6]) == pytest.approx((1 + 2 / 3 + 0.5) / 3)
    # DCG = 1 + 1/log2(4) + 1/log2(7)
    assert dcg([1, 3, 6]) == pytest.approx(1 + 0.5 + 1 / math.log2(7))
    # nDCG@2: DCG@2 = 1 ; ideal@2 = 1 + 1/log2(3) -> 1 / 1.63093 = 0.61315
    assert ndcg([1, 3, 6], k=2) == pytest.approx(1 / (1 + L3))


def test_metrics_perfect_ranking():
    r = [1, 2, 3]
    assert reciprocal_rank(r) == 1.0
    assert ndcg(r) == pytest.approx(1.0)
    assert ndcg(r, k=2) == pytest.approx(1.0)  # ideal truncated at 2 as well
    assert average_precision(r) == pytest.approx(1.0)
    assert recall_at_k(r, 2) == pytest.approx(2 / 3)


def test_metrics_relevant_item_last():
    # 5 candidates, single relevant item ranked last
    r = [5]
    assert reciprocal_rank(r) == pytest.approx(0.2)  # 1/5
    assert dcg(r) == pytest.approx(L6)  # 1/log2(6) = 0.38685
    assert ndcg(r) == pytest.approx(L6)  # ideal = 1/log2(2) = 1
    assert ndcg(r, k=4) == 0.0
    assert recall_at_k(r, 4) == 0.0
    assert recall_at_k(r, 5) == 1.0
    assert average_precision(r) == pytest.approx(0.2)  # (1/5)/1


def test_metrics_with_unranked_relevant_items():
    # 3 relevant items, only one ranked (at 2)
    assert recall_at_k([2], 5, n_relevant=3) == pytest.approx(1 / 3)
    assert average_precision([2], n_relevant=3) == pytest.approx((1 / 2) / 3)
    # ideal = 1 + 1/log2(3) + 1/log2(4) = 2.13093 -> 0.63093 / 2.13093 = 0.29608
    assert ndcg([2], n_relevant=3) == pytest.approx(L3 / (1 + L3 + 0.5))
    # @1 ideal truncated to one item: [1, 2] -> 1 / 1
    assert ndcg([1, 2], k=1, n_relevant=3) == pytest.approx(1.0)
    assert reciprocal_rank([], n_relevant=2) == 0.0


def test_metrics_no_relevant_is_nan_and_bad_ranks_raise():
    for f in (reciprocal_rank, ndcg, average_precision):
        assert math.isnan(f([]))
    assert math.isnan(recall_at_k([], 5))
    assert dcg([]) == 0.0
    with pytest.raises(ValueError):
        reciprocal_rank([0])
    with pytest.raises(ValueError):
        average_precision([2, 2])
    with pytest.raises(ValueError):
        recall_at_k([1, 2], 1, n_relevant=1)


# ------------------------------------------------------------------ retrieval_metrics
def _small_case():
    scores = np.array([
        [0.9, 0.1, 0.5, 0.5],  # order 0,2,3,1 ; relevant {2,3} -> ranks [2,3] (tie by index)
        [0.2, 0.8, 0.3, 0.1],  # order 1,2,0,3 ; relevant {3}   -> rank [4] (last)
        [0.3, 0.3, 0.3, 0.3],  # no relevant item -> excluded
    ])
    return scores, [[3, 2], [3], []]


def test_retrieval_metrics_hand_worked():
    scores, relevant = _small_case()
    m = retrieval_metrics(scores, relevant)
    assert set(m) == EXPECTED_KEYS
    assert m["n_queries"] == 2
    # RR: 1/2, 1/4 -> 0.375
    assert m["mrr"] == pytest.approx(0.375)
    # DCG: q0 = 1/log2(3) + 1/log2(4) = 1.13093, q1 = 1/log2(5) = 0.43068
    assert m["dcg"] == pytest.approx((L3 + 0.5 + L5) / 2)
    # nDCG: q0 = 1.13093 / 1.63093 = 0.69343, q1 = 0.43068 / 1 -> mean 0.56206
    assert m["ndcg"] == pytest.approx(((L3 + 0.5) / (1 + L3) + L5) / 2)
    assert m["ndcg@10"] == pytest.approx(m["ndcg"])  # only 4 candidates
    # AP: q0 = (1/2 + 2/3)/2 = 0.58333, q1 = 1/4 -> 0.41667
    assert m["map"] == pytest.approx((7 / 12 + 0.25) / 2)
    assert m["recall@1"] == 0.0
    assert m["recall@5"] == 1.0 and m["recall@10"] == 1.0
    # first ranks 2 and 4
    assert m["median_rank"] == 3.0 and m["mean_rank"] == 3.0


def test_per_query_metrics_aligned_and_nan_for_empty():
    scores, relevant = _small_case()
    p = per_query_metrics(scores, relevant)
    assert set(p) == {"rr", "dcg", "ndcg", "ndcg@10", "recall@1", "recall@5", "recall@10",
                      "hit@1", "hit@5", "hit@10", "ap", "first_rank"}
    assert all(v.shape == (3,) for v in p.values())
    np.testing.assert_allclose(p["rr"][:2], [0.5, 0.25])
    np.testing.assert_allclose(p["first_rank"][:2], [2, 4])
    assert all(np.isnan(v[2]) for v in p.values())
    m = retrieval_metrics(scores, relevant)
    for pk, mk in [("rr", "mrr"), ("ap", "map"), ("ndcg@10", "ndcg@10"), ("dcg", "dcg")]:
        assert m[mk] == pytest.approx(np.nanmean(p[pk]))


def test_retrieval_metrics_no_valid_query():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice"
        m = retrieval_metrics(np.zeros((2, 3)), [[], []])
    assert m["n_queries"] == 0 and math.isnan(m["mrr"])


def _random_case(seed, q=30, c=50):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((q, c))
    relevant = [rng.choice(c, size=rng.integers(1, 5), replace=False) for _ in range(q)]
    for i, rel in enumerate(relevant):  # some signal, so rankings range from good to bad
        scores[i, rel] += rng.uniform(0.0, 3.0, size=len(rel))
    # make sure some relevant items sit at the very bottom
    for i in range(0, q, 7):
        scores[i, relevant[i][0]] = scores[i].min() - 1.0
    assert all(len(np.unique(row)) == c for row in scores)  # no ties for the reference
    return scores, relevant


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_dcg_against_direct_loop(seed):
    scores, relevant = _random_case(seed)
    p = per_query_metrics(scores, relevant)
    for i in range(len(scores)):
        order = np.argsort(-scores[i], kind="stable")
        rel = {int(x) for x in relevant[i]}
        want = sum(1 / math.log2(pos + 2) for pos, cand in enumerate(order) if cand in rel)
        assert p["dcg"][i] == pytest.approx(want)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_against_ranx(seed):
    ranx = pytest.importorskip("ranx")
    scores, relevant = _random_case(seed)
    # zero-padded ids: ranx returns per-query arrays in sorted query-id order
    qrels = ranx.Qrels(
        {f"q{i:03d}": {f"d{j:03d}": 1 for j in rel} for i, rel in enumerate(relevant)}
    )
    run = ranx.Run(
        {f"q{i:03d}": {f"d{j:03d}": float(s) for j, s in enumerate(row)}
         for i, row in enumerate(scores)}
    )
    names = ["mrr", "ndcg", "ndcg@10", "recall@1", "recall@5", "recall@10", "map",
             "hit_rate@1", "hit_rate@5", "hit_rate@10"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba type-safety chatter
        ref = ranx.evaluate(qrels, run, names, return_mean=False, make_comparable=False)
    p = per_query_metrics(scores, relevant)
    ours = {"mrr": p["rr"], "ndcg": p["ndcg"], "ndcg@10": p["ndcg@10"], "map": p["ap"],
            "recall@1": p["recall@1"], "recall@5": p["recall@5"], "recall@10": p["recall@10"],
            "hit_rate@1": p["hit@1"], "hit_rate@5": p["hit@5"], "hit_rate@10": p["hit@10"]}
    for name in names:
        np.testing.assert_allclose(ours[name], ref[name], rtol=1e-9, atol=1e-12, err_msg=name)
    m = retrieval_metrics(scores, relevant)
    assert m["ndcg@10"] == pytest.approx(float(np.mean(ref["ndcg@10"])))
    # the case must exercise imperfect rankings, or agreement would prove little
    assert 0.0 < m["mrr"] < 1.0 and 0.0 < m["recall@1"] < 1.0


# ---------------------------------------------------------------------------- bootstrap
def test_bootstrap_ci_deterministic_and_sane():
    rng = np.random.default_rng(42)
    v = rng.standard_normal(400) + 3.0
    a = bootstrap_ci(v, seed=7)
    assert a == bootstrap_ci(v, seed=7)
    assert a != bootstrap_ci(v, seed=8)
    lo, hi = a
    assert lo < v.mean() < hi
    # standard error ~ 1/sqrt(400) = 0.05 -> 95% width ~ 2 * 1.96 * 0.05 = 0.196
    assert 0.14 < hi - lo < 0.26
    lo90, hi90 = bootstrap_ci(v, alpha=0.10, seed=7)
    assert lo < lo90 < hi90 < hi


def test_bootstrap_ci_edge_cases(monkeypatch):
    assert bootstrap_ci(np.full(10, 0.25)) == (0.25, 0.25)
    v = np.array([0.0, 1.0, np.nan, 1.0])
    lo, hi = bootstrap_ci(v, n_boot=200)
    assert 0.0 <= lo <= hi <= 1.0
    assert all(math.isnan(x) for x in bootstrap_ci(np.array([np.nan])))
    monkeypatch.setattr(M, "_CHUNK_ELEMENTS", 50)  # many blocks; still finite and ordered
    lo, hi = bootstrap_ci(np.arange(20.0), n_boot=333)
    assert 0.0 < lo < 9.5 < hi < 19.0


# ------------------------------------------------------------------ relevance_from_labels
def test_relevance_from_labels():
    queries = ["a", {"b", "c"}, {"z"}, set()]
    cands = [{"a", "b"}, "c", "a", {"d"}]
    out = relevance_from_labels(queries, cands)
    assert [o.tolist() for o in out] == [[0, 2], [0, 1], [], []]
    assert all(o.dtype == np.int64 for o in out)


# -------------------------------------------------------------------------- two_way_metrics
def _two_way_case():
    titles = ["A", "B", "C", "D"]  # "D" is carried by no tune
    title_emb = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]])
    tune_emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    tune_titles = [["A"], ["A"], ["B", "C"]]  # A shared by tunes 0,1; tune 2 has alt title C
    return tune_emb, title_emb, tune_titles, titles


def test_two_way_metrics_tiny():
    m = two_way_metrics(*_two_way_case())
    # tune x title scores (A, B, C, D):
    #   t0: 1.0, 0.0, 0.60, -1.0 -> order A,C,B,D ; rel {A}   -> [1]
    #   t1: 0.8, 0.6, 0.96, -0.8 -> order C,A,B,D ; rel {A}   -> [2]
    #   t2: 0.0, 1.0, 0.80,  0.0 -> order B,C,A,D ; rel {B,C} -> [1,2]
    assert m["tune_to_title/n_queries"] == 3
    assert m["tune_to_title/mrr"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert m["tune_to_title/recall@1"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert m["tune_to_title/hit@1"] == pytest.approx((1 + 0 + 1) / 3)  # t2's B is a hit
    assert m["tune_to_title/map"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert m["tune_to_title/ndcg"] == pytest.approx((1 + L3 + 1) / 3)
    assert m["tune_to_title/median_rank"] == 1.0
    assert m["tune_to_title/mean_rank"] == pytest.approx(4 / 3)
    # title x tune scores (t0, t1, t2):
    #   A: 1.0, 0.80, 0.0 -> rel {t0,t1} -> [1,2] : rr 1, ap 1, ndcg 1, recall@1 1/2
    #   B: 0.0, 0.60, 1.0 -> rel {t2}    -> [1]
    #   C: 0.6, 0.96, 0.8 -> rel {t2}    -> [2]   : rr 1/2, ap 1/2, ndcg 1/log2(3)
    #   D: no tune carries it -> excluded
    assert m["title_to_tune/n_queries"] == 3
    assert m["title_to_tune/mrr"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["title_to_tune/recall@1"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert m["title_to_tune/hit@1"] == pytest.approx((1 + 1 + 0) / 3)  # A: t0 found, t1 not
    assert m["title_to_tune/recall@5"] == m["title_to_tune/hit@5"] == 1.0
    assert m["title_to_tune/map"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["title_to_tune/ndcg"] == pytest.approx((1 + 1 + L3) / 3)
    assert m["title_to_tune/dcg"] == pytest.approx(((1 + L3) + 1 + L3) / 3)
    assert m["title_to_tune/mean_rank"] == pytest.approx(4 / 3)
    assert m["n_tunes"] == 3 and m["n_titles"] == 4
    expected = {f"{d}/{k}" for d in ("tune_to_title", "title_to_tune") for k in EXPECTED_KEYS}
    assert set(m) == expected | {"n_tunes", "n_titles"}


def test_two_way_metrics_rejects_bad_input():
    tune_emb, title_emb, tune_titles, titles = _two_way_case()
    with pytest.raises(ValueError):
        two_way_metrics(tune_emb, title_emb, [["A"], ["A"], ["B", "E"]], titles)
    with pytest.raises(ValueError):
        two_way_metrics(tune_emb, title_emb, tune_titles, ["A", "B", "C", "A"])
    with pytest.raises(ValueError):
        two_way_metrics(tune_emb[:, :1], title_emb, tune_titles, titles)
