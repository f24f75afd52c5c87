"""``folkclip study --size full`` (issue 19): packaged settings from any directory, seeds of
the decisive rows, the plan's steps and estimate, resumable parts; the nearest-melody
baseline against a hand-worked example; the transfer pool's overlap filter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from folkclip.errors import FolkclipError
from folkclip_cli.study.plan import DECISIVE, make_plan
from folkclip_cli.study.schedule import STEP_NAMES, estimate, select, steps
from folkclip_cli.study.sizes import SIZES, get_size, packaged_config

SRC = Path(__file__).resolve().parents[1] / "src"


def test_packaged_settings_load_and_full_size_is_the_default_models():
    from folkclip_cli.train.config import load_config

    full = load_config(packaged_config("study-full.yaml"), [])
    assert (full.model.melody.dim, full.model.title.dim, full.model.embed_dim) == (128, 256, 256)
    assert full.trainer.max_epochs == 10 and full.data.max_events == 256
    lm = load_config(packaged_config("study-full-lm.yaml"), [])
    # a transferred tower of the full size takes the LM's shape from the lm-transfer preset
    tower = load_config(packaged_config("study-full.yaml"), [*SIZES["full"].lm_shape])
    assert (tower.model.melody.dim, tower.model.melody.layers, tower.model.melody.heads) == (
        lm.model.melody.dim, lm.model.melody.layers, lm.model.melody.heads)
    small = load_config(packaged_config("study.yaml"), [*SIZES["small"].lm_shape])
    small_lm = load_config(packaged_config("study-lm.yaml"), [])
    assert (small.model.melody.dim, small.model.melody.layers) == (
        small_lm.model.melody.dim, small_lm.model.melody.layers)
    with pytest.raises(FolkclipError):
        get_size("huge")


def test_study_runs_from_any_directory(tmp_path):
    """Outside a checkout the packaged settings are found (issue 19: it used to stop with
    "config file 'configs/study.yaml' not found")."""
    cmd = [sys.executable, "-m", "folkclip_cli.main", "study", "--quick", "--plan-only",
           "--out", str(tmp_path / "q")]
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, check=False, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "plan (small size" in res.stdout and "core" in res.stdout
    own = tmp_path / "mine.yaml"
    own.write_text(packaged_config("study.yaml").read_text().replace("max_epochs: 5",
                                                                      "max_epochs: 3"))
    res = subprocess.run([*cmd, "--config", str(own)], capture_output=True, text=True,
                         cwd=tmp_path, check=False, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    res = subprocess.run([*cmd, "--config", "nowhere.yaml"], capture_output=True, text=True,
                         cwd=tmp_path, check=False, env=env)
    assert res.returncode == 2 and "nowhere.yaml" in res.stderr
    assert "Traceback" not in res.stderr


def test_each_size_has_its_own_default_folder_and_tables_name_the_size(tmp_path):
    """``--size full`` without ``--out`` must not write into the small study's folder (a
    run whose settings differ is retrained in place: hours of full-size runs lost)."""
    from folkclip_cli.study.tables import study_command

    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    for size, folder in (("small", "runs/study"), ("full", "runs/study-full")):
        res = subprocess.run([sys.executable, "-m", "folkclip_cli.main", "study", "--size",
                              size, "--plan-only"], capture_output=True, text=True,
                             cwd=tmp_path, check=False, env=env)
        assert res.returncode == 0, res.stderr[-2000:]
        assert res.stdout.splitlines()[0].endswith(f"; in {folder}")
    assert not (tmp_path / "runs").exists()  # the plan alone writes nothing
    full = make_plan(tmp_path / "f", size=SIZES["full"])
    assert study_command(full) == f"folkclip study --size full --out {tmp_path / 'f'}"
    assert study_command(make_plan(tmp_path / "s")) == f"folkclip study --out {tmp_path / 's'}"


def test_full_plan_seeds_only_the_decisive_rows():
    plan = make_plan(Path("out"), folds=5, size=SIZES["full"])
    assert set(plan.seeds) == set(DECISIVE) and set(plan.seeds.values()) == {3}
    assert plan.seed_dirs("gru-attn-minilm") == [Path("out/runs/gru-attn-minilm"),
                                                 Path("out/runs/seed1/gru-attn-minilm"),
                                                 Path("out/runs/seed2/gru-attn-minilm")]
    assert plan.seed_dirs("cnn") == [Path("out/runs/cnn")]
    assert [r.seed for r in plan.runs(["remove-meter", "cnn"], 2)] == [2]
    # the full size's transferred towers take the full LM's shape, not the small one
    lm = plan.variants["lm-finetuned"].overrides
    assert "model.melody.layers=2" not in lm and "model_preset=lm-transfer" in lm
    small = make_plan(Path("out"), folds=5)
    assert small.seeds == {} and "model.melody.layers=2" in small.variants["lm-scratch"].overrides
    assert make_plan(Path("out"), 5, size=SIZES["small"], seeds=2).seeds["gru-attn"] == 2
    with pytest.raises(FolkclipError):
        make_plan(Path("out"), 5, seeds=0)


def test_steps_put_the_decisive_rows_first_and_cover_every_run_once():
    plan = make_plan(Path("out"), folds=5, size=SIZES["full"])
    all_steps = steps(plan)
    assert [s.name for s in all_steps] == list(STEP_NAMES)
    runs = [(r.variant.label, r.seed) for s in all_steps if not s.lm for r in s.runs]
    assert len(runs) == len(set(runs))
    expected = {(lbl, k) for lbl in plan.variants for k in range(plan.seeds.get(lbl, 1))}
    assert set(runs) == expected
    core = {r.variant.label for r in all_steps[0].runs}
    assert core == {"header-minilm", "gru-attn-minilm", "gru-attn", "remove-meter",
                    "remove-rhythm", "lm-scratch"}
    by_name = {s.name: s for s in all_steps}
    assert {r.variant.label for r in by_name["core-lm"].runs} == {"lm-wide-finetuned"}
    assert {r.seed for r in by_name["core-lm"].runs} == {0, 1, 2}
    # part 3b: one LM per fold on that fold's pool; its towers name them
    assert [r.overrides[0] for r in by_name["lm-wide"].runs] == [
        f"data.sources=[out/pool/fold{k}.abc]" for k in range(5)]
    wide = plan.variants["lm-wide-top1@25"].overrides
    assert "model.melody.init_from=out/runs/lm-wide/fold{fold}" in wide
    assert "data.train_share=0.25" in wide
    assert not make_plan(Path("out"), folds=5).lm_wide_runs  # the small size has no 3b


def test_estimate_is_steps_times_seconds_and_max_hours_selects_a_prefix(tmp_path):
    size = SIZES["full"]
    plan = make_plan(tmp_path, folds=5, size=size)
    all_steps = [s for s in steps(plan) if s.name != "baselines"]  # no training: 0 h
    estimate(plan, all_steps, size, tunes=900, titled=900, epochs=10, lm_epochs=12, batch=64,
             lm_batch=32, jobs=2)
    # one fold: ceil(900 * 4/5 * 8/9 / 64) = 10 steps per epoch
    one_run = 5 * 10 * 10 * size.step_seconds / 3600 / 2
    assert all_steps[0].hours == pytest.approx(len(all_steps[0].runs) * one_run)
    lm_run = 12 * 20 * size.lm_step_seconds / 3600 / 2  # ceil(900 * 4/5 * 8/9 / 32) = 20
    assert all_steps[1].hours == pytest.approx(len(all_steps[1].runs) * lm_run)
    budget = all_steps[0].hours + all_steps[1].hours + 1e-9
    assert [s.name for s in select(all_steps, None, budget)] == ["core", "lm", "pool"]
    assert [s.name for s in select(all_steps, "removal", None)] == ["removal"]
    # finished runs no longer count against the budget
    for r in all_steps[0].runs:
        r.out.mkdir(parents=True)
        (r.out / "eval_test.json").write_text("{}")
    assert [s.name for s in select(all_steps, None, all_steps[1].hours + 1e-9)] == [
        "core", "lm", "pool"]
    with pytest.raises(FolkclipError):
        select(all_steps, "everything", None)


def test_nearest_melody_scores_match_a_hand_worked_example():
    from folkclip.eval.baselines import choose_k, neighbour_scores

    melody_sim = np.array([[0.9, 0.5, 0.1],   # query 0 vs training tunes 0, 1, 2
                           [0.2, 0.3, 0.8]])  # query 1
    title_sim = np.array([[1.0, 0.0],         # training tune 0's title vs candidates 0, 1
                          [0.6, 0.4],
                          [0.0, 1.0]])
    # k = 2: q0's neighbours are tunes 0 (0.9) and 1 (0.5): 0.9*1 + 0.5*0.6 = 1.2 for
    # candidate 0, 0.5*0.4 = 0.2 for candidate 1; q1's are 2 (0.8) and 1 (0.3):
    # 0.3*0.6 = 0.18 and 0.8*1 + 0.3*0.4 = 0.92
    np.testing.assert_allclose(neighbour_scores(melody_sim, title_sim, 2),
                               [[1.2, 0.2], [0.18, 0.92]], rtol=1e-6)
    np.testing.assert_allclose(neighbour_scores(melody_sim, title_sim, 1),
                               [[0.9, 0.0], [0.0, 0.8]], rtol=1e-6)
    # k larger than the training set takes all of it; negative similarity votes nothing
    np.testing.assert_allclose(neighbour_scores(np.array([[-0.5, 1.0]]),
                                                np.array([[1.0], [2.0]]), 10), [[2.0]])
    # k on validation: with relevant titles [[0], [1]] every k ranks both first (MRR 1),
    # and the smallest k wins the tie
    k, mrr = choose_k(lambda k: neighbour_scores(melody_sim, title_sim, k), [[0], [1]],
                      ks=(1, 2, 3))
    assert k == 1 and mrr == {1: 1.0, 2: 1.0, 3: 1.0}
    # relevant [[1], [0]]: k = 1 scores [0.9, 0] and [0, 0.8], k = 3 [1.2, 0.3] and
    # [0.38, 0.92]; both put the relevant title second (MRR 0.5)
    k, mrr = choose_k(lambda k: neighbour_scores(melody_sim, title_sim, k), [[1], [0]],
                      ks=(1, 3))
    assert mrr[1] == pytest.approx(0.5) and mrr[3] == pytest.approx(0.5) and k == 1


def test_tfidf_similarity_finds_the_transposed_melody():
    from folkclip.eval.baselines import tfidf_similarity

    train = [[60, 62, 64, 65, 67, 69, 71, 72], [72, 71, 69, 67, 65, 64, 62, 60],
             [60, 60, 67, 67, 69, 69, 67, 65]]
    query = [[p + 5 for p in train[2]]]  # the third tune a fourth higher
    sim = tfidf_similarity(query, train)
    assert sim.shape == (1, 3) and int(np.argmax(sim[0])) == 2
    assert sim[0, 2] == pytest.approx(1.0, abs=1e-5)


HELD = """X:1
T:The Held Out Reel
R:reel
M:4/4
L:1/8
K:G
GABc dedB|dcBA GFED|GABc d2g2|fedc BAGF|GABc dedB|dcBA GFED|]

X:2
T:Another Held Tune
R:jig
M:6/8
L:1/8
K:D
FAd FAd|GBd GBd|FAd fdA|GBA FDD|]
"""

POOL = """X:1
T:Ein Lied
M:4/4
L:1/8
K:A
A2 A2 c2 e2|a4 e4|f2 e2 c2 A2|B8|A2 A2 A2 A2|]

X:2
T:Planted Under Another Name
M:4/4
L:1/8
K:D
DEFG ABAF|AGFE DCB,A,|DEFG A2d2|cBAG FEDC|DEFG ABAF|AGFE DCB,A,|]

X:3
T:another held tune
M:3/4
L:1/8
K:C
C2 E2 G2|c4 G2|E2 C4|]
"""


def _tc(text: str, name: str):
    from folkclip.abc.parser import parse_tunebook
    from folkclip.data.dataset import tokenize_corpus
    from folkclip.io.sources import Corpus

    tunes, _ = parse_tunebook(text, name)
    return tokenize_corpus(Corpus(tunes, [], []))


def test_pool_filter_removes_and_counts_a_planted_held_out_melody():
    """Tune 2 of the pool is held-out tune 1 transposed to D under another title (removed
    as a near-duplicate melody); tune 3 shares held-out tune 2's title (removed by title);
    tune 1 is new (kept)."""
    from folkclip_cli.study.pool import abc_texts, filter_pool

    held, pool = _tc(HELD, "held.abc"), _tc(POOL, "pool.abc")
    kept, counts = filter_pool(pool, held, [0, 1])
    assert kept == [0]
    assert (counts["pool"], counts["removed"], counts["kept"]) == (3, 2, 1)
    assert (counts["removed_melody"], counts["removed_title"]) == (1, 1)
    # not held out: nothing of the pool is removed for it
    kept, counts = filter_pool(pool, held, [])
    assert kept == [0, 1, 2] and counts["removed"] == 0
    texts = abc_texts([pool.meta[i] for i in (0, 2)])
    assert [t.splitlines()[0] for t in texts] == ["X:1", "X:2"]
    assert "T:another held tune" in texts[1]


def _char_vectors(titles):
    """A stand-in for MiniLM: L2-normalised hashed character-trigram counts."""
    import zlib

    out = np.zeros((len(titles), 256), dtype=np.float32)
    for i, t in enumerate(titles):
        s = f"  {t.lower()} "
        for j in range(len(s) - 2):
            out[i, zlib.crc32(s[j:j + 3].encode()) % 256] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_nearest_melody_baseline_writes_a_cross_validation_folder(tmp_path):
    from folkclip.eval.queries import read_queries
    from folkclip_cli.study.baselines import nearest_melody_cv
    from folkclip_cli.study.compare import read_run
    from folkclip_cli.train.config import load_config

    data = load_config(None, ["data.sources=[tiny]"]).data
    out = tmp_path / "baseline-nearest-melody"
    metrics = nearest_melody_cv(out, data, 2, embed_titles=_char_vectors)
    assert metrics["pooled_folds"] == 2 and 0 < metrics["tune_to_title/mrr"] <= 1
    table = read_queries(out / "per_query_test.csv")
    tunes = list(table["tune_to_title"]["query"])
    assert len(tunes) == len(set(tunes))  # every titled tune a query once over the folds
    chosen = json.loads((out / "fold0" / "baseline.json").read_text())
    assert chosen["k_tune_to_title"] in (1, 3, 5, 10, 20, 50)
    assert read_run(out, "baseline").per_query is not None  # comparable with any row


# ---------------------------------------------------------------- random and linear rows
def test_random_expectation_matches_hand_worked_values_and_monte_carlo():
    from folkclip.eval.chance import expected_metrics, expected_query_metrics
    from folkclip.eval.metrics import per_query_metrics

    # one relevant among 3: ranks 1, 2, 3 equally likely, MRR = H_3 / 3 = 11/18
    one = expected_query_metrics(3, 1)
    assert one["rr"] == pytest.approx(11 / 18) and one["first_rank"] == pytest.approx(2.0)
    assert one["hit@1"] == pytest.approx(1 / 3) and one["recall@5"] == 1.0
    # two relevant among 4: first relevant rank 1, 2, 3 with P 1/2, 1/3, 1/6:
    # MRR = 1/2 + 1/6 + 1/18 = 13/18; DCG = (2/4)(1 + 1/log2 3 + 1/2 + 1/log2 5)
    two = expected_query_metrics(4, 2)
    assert two["rr"] == pytest.approx(13 / 18)
    dcg = 0.5 * (1 + 1 / np.log2(3) + 0.5 + 1 / np.log2(5))
    assert two["dcg"] == pytest.approx(dcg)
    assert two["ndcg"] == pytest.approx(dcg / (1 + 1 / np.log2(3)))
    assert two["hit@1"] == pytest.approx(0.5) and two["hit@5"] == 1.0
    # AP: (1/4)(H_4 + (1/3)(4 - H_4)), H_4 = 25/12
    assert two["ap"] == pytest.approx((25 / 12 + (4 - 25 / 12) / 3) / 4)
    # Monte-Carlo: random scores ranked by per_query_metrics, fixed seed
    rng = np.random.default_rng(0)
    trials = 20000
    for n, r in ((7, 1), (12, 3), (30, 2)):
        scores = rng.random((trials, n))
        pq = per_query_metrics(scores, [np.arange(r)] * trials)
        exact = expected_query_metrics(n, r)
        for key, values in pq.items():
            se = values.std() / np.sqrt(trials)
            assert abs(values.mean() - exact[key]) <= 5 * se + 1e-12, (n, r, key)
    table = expected_metrics(5, [[0], [1, 1, 3], []])  # duplicates count once; none: NaN
    assert table["rr"][0] == pytest.approx(expected_query_metrics(5, 1)["rr"])
    assert table["rr"][1] == pytest.approx(expected_query_metrics(5, 2)["rr"])
    assert np.isnan(table["rr"][2]) and np.isnan(table["first_rank"][2])
    with pytest.raises(ValueError):
        expected_query_metrics(2, 3)


def test_linear_baseline_maps_one_to_one_ngrams_to_title_words():
    """Three training tunes with disjoint n-grams and headers (orthogonal features x_i,
    |x_i|² = 2) and one-word titles (unit word vectors y_i): the ridge predicts
    2/(2 + α) y_i for x_i, i.e. exactly y_i after normalising, so each tune's own title
    scores 1 and the others 0; a transposed copy has the same n-grams and scores alike."""
    from folkclip.eval.linear_baseline import LinearTitleWords

    pitches = [[60, 62, 64, 66, 68, 70], [60, 59, 58, 57, 56, 55], [60, 67, 60, 67, 60, 67]]
    headers = [["reel", "4/4", "major", "D"], ["jig", "6/8", "minor", "A"],
               ["waltz", "3/4", "dorian", "E"]]
    titles = ["Alpha", "Bravo", "Charlie"]
    model = LinearTitleWords(alphas=(0.5, 2.0)).fit(pitches, headers, titles)
    for alpha in (0.5, 2.0):
        s = model.scores(pitches, headers, [*titles, "Zulu"], alpha)
        np.testing.assert_allclose(s, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], atol=1e-6)
    # tune 1 a fifth higher with tune 0's mode (else an unseen header): x_q·x_1 = 1 (the
    # n-grams), x_q·x_0 = (1/2)² (the shared "major"), so the prediction is ∝ y_1 + y_0/4:
    # cosines 4/√17 with Bravo and 1/√17 with Alpha
    moved = [[p + 7 for p in pitches[1]]]
    s = model.scores(moved, [["polka", "2/4", "major", "B"]], titles, 2.0)
    np.testing.assert_allclose(s[0], [1 / np.sqrt(17), 4 / np.sqrt(17), 0], atol=1e-6)
    # the prediction is 2/(2 + α) y_i before normalising
    raw = model.ridges[2.0].predict(model.features(pitches[:1], headers[:1]))
    assert raw.max() == pytest.approx(2 / (2 + 2.0))


def test_random_and_linear_baselines_write_cross_validation_folders(tmp_path):
    from folkclip.eval.linear_baseline import ALPHAS
    from folkclip.eval.queries import read_queries
    from folkclip_cli.study.baselines import linear_cv, random_cv
    from folkclip_cli.study.compare import collect, summarise
    from folkclip_cli.train.config import load_config

    data = load_config(None, ["data.sources=[tiny]"]).data
    rnd = random_cv(tmp_path / "baseline-random", data, 2)
    lin = linear_cv(tmp_path / "baseline-linear", data, 2)
    for m in (rnd, lin):
        assert m["pooled_folds"] == 2 and 0 < m["tune_to_title/mrr"] <= 1
    # random: a tune with one title among a fold's n titles expects H_n / n
    fold0 = json.loads((tmp_path / "baseline-random" / "fold0" / "eval_test.json").read_text())
    table = read_queries(tmp_path / "baseline-random" / "fold0" / "per_query_test.csv")
    n = fold0["n_titles"]
    single = table["tune_to_title"]["rr"][table["tune_to_title"]["first_rank"] == (n + 1) / 2]
    assert len(single) and np.allclose(single, np.sum(1 / np.arange(1, n + 1)) / n)
    chosen = json.loads((tmp_path / "baseline-linear" / "fold1" / "baseline.json").read_text())
    assert chosen["alpha"] in ALPHAS and chosen["title_words"] > 0
    # folkclip compare pairs them query by query
    s = {g.label: g for g in summarise(collect([tmp_path / "baseline-random",
                                                tmp_path / "baseline-linear"]),
                                       "baseline-random")}
    assert s["baseline-linear"].n_queries["tune_to_title/mrr"] == int(lin["n_tunes"])


def _fake_cv(run: Path, rr: dict[str, float]) -> Path:
    """A finished cross-validation folder with pooled per-query results (no training)."""
    from folkclip.eval.queries import write_queries

    run.mkdir(parents=True)
    ids = sorted(rr)
    values = np.array([rr[q] for q in ids])
    table = {d: {"query": np.array(ids, dtype=object),
                 "type": np.array(["reel"] * len(ids), dtype=object),
                 "rr": values, "ndcg@10": values / 2} for d in ("tune_to_title", "title_to_tune")}
    write_queries(table, run / "per_query_test.csv")
    metrics = {f"{d}/{k}": float(np.mean(v)) for d in table
               for k, v in (("mrr", values), ("ndcg@10", values / 2))}
    (run / "eval_test.json").write_text(json.dumps({**metrics, "n_tunes": len(ids)}))
    (run / "cv.json").write_text(json.dumps({"folds": 2, "runs": []}))
    return run


def test_study_tables_show_baseline_rows_and_the_delta_to_the_best_only_when_present(tmp_path):
    from folkclip_cli.study.baseline_rows import baseline_rows
    from folkclip_cli.study.tables import baselines_table, summary_table, transfer_table

    plan = make_plan(tmp_path, folds=2, quick=True)
    rng = np.random.default_rng(0)
    queries = [f"q{k}" for k in range(50)]
    base = dict(zip(queries, 0.2 + 0.5 * rng.random(50)))
    _fake_cv(plan.run_dir("header"), {q: base[q] + 0.05 for q in queries})
    _fake_cv(plan.run_dir("gru-attn"), {q: base[q] for q in queries})
    args = (["header", "gru-attn"], "header", "encoder", [], "config.yaml")
    (tmp_path / "tables").mkdir()
    (tmp_path / "figures").mkdir()
    plain = summary_table(plan, "encoders", "Encoders", *args)
    assert "baseline" not in plain.markdown and "baseline" not in plain.note
    assert baselines_table(plan) is None and not baseline_rows(plan, [], ()).rows
    # the baselines: linear is the best (base), nearest-melody base − 0.01, random 0.01
    _fake_cv(plan.run_dir("baseline-random"), dict.fromkeys(queries, 0.01))
    _fake_cv(plan.run_dir("baseline-nearest-melody"), {q: base[q] - 0.01 for q in queries})
    _fake_cv(plan.run_dir("baseline-linear"), dict(base))
    table = summary_table(plan, "encoders", "Encoders", *args)
    lines = table.markdown.splitlines()
    head = lines[0]
    assert "Δ tune→title MRR vs linear baseline, p (Holm)" in head
    assert "Δ title→tune MRR vs linear baseline, p (Holm)" in head
    rows = {line.split(" | ")[0].strip("| "): line for line in lines[2:]}
    assert list(rows) == ["header", "gru-attn", "baseline-random", "baseline-nearest-melody",
                          "baseline-linear"]
    # header is +0.05 on every query over linear, gru-attn equal to it: Holm over the 2 rows
    cells = rows["header"].strip("| ").split(" | ")
    assert cells[-2].startswith("+0.050 ± 0.000, p ") and cells[-1].startswith("+0.050 ± 0.000")
    vs = table.data["header"]["vs_best_baseline"]["title_to_tune/mrr"]
    assert vs["p_holm"] == pytest.approx(2 * vs["p"]) and vs["p"] < 0.01
    vs = table.data["gru-attn"]["vs_best_baseline"]["tune_to_title/mrr"]
    assert vs["baseline"] == "baseline-linear" and vs["delta"] == 0.0 and vs["p_holm"] == 1.0
    assert table.data["header"]["vs_best_baseline"]["tune_to_title/mrr"]["delta"] == \
        pytest.approx(0.05)
    assert rows["baseline-random"].split(" | ")[1] == "0.010"  # its MRR; no Δ cells
    assert rows["baseline-linear"].rstrip(" |").endswith("— | —")
    assert "baseline-linear" in (tmp_path / "tables" / "encoders.csv").read_text()
    # the baselines' own table: paired with the best of them
    bt = baselines_table(plan)
    assert bt.data["baseline-nearest-melody"]["delta"]["tune_to_title/mrr"] == \
        pytest.approx(-0.01)
    assert bt.data["baseline-random"]["p_holm"]["tune_to_title/mrr"] < 0.05
    # a table of other queries (Nottingham's) shows no baselines
    assert "baseline" not in summary_table(plan, "encoders", "Encoders", *args,
                                           baselines=False).markdown
    assert "(no finished run yet)" in transfer_table(plan, [], "config.yaml").markdown


def test_seed_columns_reach_the_csv_as_well_as_the_markdown(tmp_path):
    """A row trained at several seeds shows its seed count and spread in both files
    (``scripts/study_readme_tables.py`` reads the CSV)."""
    import csv

    from folkclip_cli.study.compare import GroupSummary
    from folkclip_cli.study.tables import KEYS, compact_markdown, summary_csv

    def group(label: str, n: int, sd: float) -> GroupSummary:
        return GroupSummary(label, n, dict.fromkeys(KEYS, 0.03), dict.fromkeys(KEYS, (0.02, 0.04)),
                            seed_sd={KEYS[0]: sd})

    summary = [group("ref", 2, 0.0), group("b", 2, 0.0007), group("c", 1, float("nan"))]
    md = compact_markdown(summary, "run", "ref").splitlines()
    assert md[0].endswith("| seeds | seed sd Δ tune→title MRR |")
    assert md[3].endswith("| 2 | 0.0007 |") and md[4].endswith("| 1 | — |")
    path = summary_csv(summary, tmp_path / "t.csv", "run", reference="ref")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["seeds"], r["seed sd Δ tune→title MRR"]) for r in rows] == [
        ("2", "0.0000"), ("2", "0.0007"), ("1", "—")]
    one = [group("ref", 1, float("nan")), group("b", 1, float("nan"))]
    head = summary_csv(one, tmp_path / "u.csv", "run", reference="ref").read_text()
    assert "seeds" not in head.splitlines()[0]
