"""Cluster metrics (hand-worked and against scikit-learn) and a `folkclip map` smoke run."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from folkclip_cli.main import main
from folkclip.eval.cluster import knn_accuracy, knn_predictions, majority_share, silhouette


def _angles(*degrees: float) -> np.ndarray:
    """Unit vectors in the plane at these angles: (N, 2)."""
    r = np.radians(degrees)
    return np.stack([np.cos(r), np.sin(r)], axis=1)


# ---------------------------------------------------------------- silhouette
def test_silhouette_hand_worked():
    # two tight pairs at right angles: within-pair distance 0, across 1 - cos(90°) = 1
    emb = _angles(0, 0, 90, 90)
    assert silhouette(emb, ["a", "a", "b", "b"]) == pytest.approx(1.0)
    # a pair at 0° and 60° (distance 0.5) against a point at 180°:
    # item 0: a = 0.5, b = 2 -> 0.75; item 1: a = 0.5, b = 1 - cos(120°) = 1.5 -> 2/3;
    # item 2 is alone in its group -> 0
    emb = _angles(0, 60, 180)
    assert silhouette(emb, ["x", "x", "y"]) == pytest.approx((0.75 + 2 / 3 + 0) / 3)


def test_silhouette_degenerate_cases():
    emb = _angles(0, 10, 20)
    assert math.isnan(silhouette(emb, ["a", "a", "a"]))
    assert math.isnan(silhouette(emb[:0], []))
    assert silhouette(emb, ["a", "b", "c"]) == 0.0  # every group a singleton
    # identical points in different groups: a = b = 0 -> 0
    assert silhouette(_angles(0, 0, 0, 0), ["a", "a", "b", "b"]) == 0.0
    with pytest.raises(ValueError):
        silhouette(emb, ["a", "b"])


def test_silhouette_ignores_scale():
    emb = _angles(0, 60, 180)
    assert silhouette(emb * [[3.0], [0.5], [7.0]], [1, 1, 2]) == pytest.approx(
        silhouette(emb, [1, 1, 2]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_silhouette_matches_sklearn(seed, monkeypatch):
    metrics = pytest.importorskip("sklearn.metrics")
    import folkclip.eval.cluster as cm

    monkeypatch.setattr(cm, "_BLOCK", 7)  # several row blocks
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((4, 8))
    labels = rng.integers(0, 4, 60)
    emb = centres[labels] + rng.standard_normal((60, 8)) * 0.8
    emb[5] = centres[3] * 2  # a singleton group
    labels = [f"t{v}" for v in labels]
    labels[5] = "lonely"
    want = metrics.silhouette_score(emb, labels, metric="cosine")
    assert silhouette(emb, labels) == pytest.approx(want, abs=1e-9)


# ---------------------------------------------------------------- k-NN accuracy
def test_knn_hand_worked():
    # 0°, 10°, 20° are "a", 100°, 110° are "b"; k=2
    emb = _angles(0, 10, 20, 100, 110)
    labels = ["a", "a", "a", "b", "b"]
    assert knn_predictions(emb, labels, k=2) == ["a", "a", "a", "b", "b"]
    assert knn_accuracy(emb, labels, k=2) == 1.0
    # the item at 55° has neighbours 20° (a, 35° away) and 100° (b, 45° away) at k=2:
    # one vote each, so the nearer one decides; at 65° the nearer one is 100° (b)
    emb = _angles(0, 20, 55, 100, 110)
    assert knn_predictions(emb, ["a", "a", "b", "b", "b"], k=2)[2] == "a"
    emb = _angles(0, 20, 65, 100, 110)
    assert knn_predictions(emb, ["a", "a", "b", "b", "b"], k=2)[2] == "b"


def test_knn_majority_and_clamped_k():
    # item 0 at 0°: its neighbours by distance are b (5°), a (30°), a (40°) -> majority a
    emb = _angles(0, 5, 30, 40)
    labels = ["a", "b", "a", "a"]
    assert knn_predictions(emb, labels, k=3)[0] == "a"
    assert knn_predictions(emb, labels, k=1)[0] == "b"
    # k larger than N - 1 uses every other item
    assert knn_predictions(emb, labels, k=50) == knn_predictions(emb, labels, k=3)
    assert knn_accuracy(emb, labels, k=1) == pytest.approx(2 / 4)  # 0 -> b, 1 -> a wrong
    with pytest.raises(ValueError):
        knn_predictions(emb, labels, k=0)


def test_knn_degenerate_cases():
    assert math.isnan(knn_accuracy(_angles(0, 10), ["a", "a"]))
    assert math.isnan(knn_accuracy(_angles(0), ["a"]))
    assert knn_predictions(_angles(0), ["a"]) == []


def test_knn_equal_distances_ordered_by_index():
    # items 1 and 2 are both 90° from item 0; with k=1 the lower index wins
    emb = _angles(0, 90, -90)
    assert knn_predictions(emb, ["a", "b", "c"], k=1)[0] == "b"
    assert knn_predictions(emb, ["a", "c", "b"], k=1)[0] == "c"


@pytest.mark.parametrize("seed", [0, 1])
def test_knn_matches_sklearn(seed, monkeypatch):
    neighbors = pytest.importorskip("sklearn.neighbors")
    import folkclip.eval.cluster as cm

    monkeypatch.setattr(cm, "_BLOCK", 9)
    rng = np.random.default_rng(seed)
    n, k = 50, 10
    centres = rng.standard_normal((3, 6))
    labels = rng.integers(0, 3, n)
    emb = centres[labels] + rng.standard_normal((n, 6)) * 1.2
    labels = [f"t{v}" for v in labels]
    # the expected votes: sklearn's leave-one-out neighbours (nearest first), our tie rule
    nn = neighbors.NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute")
    nn.fit(emb)
    _, idx = nn.kneighbors(emb)
    want = []
    for i in range(n):
        near = [j for j in idx[i] if j != i][:k]
        votes = [labels[j] for j in near]
        best = max(votes.count(v) for v in votes)
        want.append(next(v for v in votes if votes.count(v) == best))
    got = knn_predictions(emb, labels, k=k)
    assert got == want
    # and where the vote is not tied, sklearn's classifier agrees
    clf_ok = 0
    for i in range(n):
        rest = [j for j in range(n) if j != i]
        clf = neighbors.KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
        clf.fit(emb[rest], [labels[j] for j in rest])
        votes = [labels[j] for j in idx[i] if j != i][:k]
        counts = sorted((votes.count(v) for v in set(votes)), reverse=True)
        if len(counts) == 1 or counts[0] > counts[1]:
            assert clf.predict(emb[i:i + 1])[0] == got[i]
            clf_ok += 1
    assert clf_ok > n // 2
    acc = np.mean([g == t for g, t in zip(got, labels)])
    assert knn_accuracy(emb, labels, k=k) == pytest.approx(acc)


def test_majority_share():
    assert majority_share(["reel", "jig", "reel", "hornpipe"]) == 0.5
    assert math.isnan(majority_share([]))


# ---------------------------------------------------------------- projection
def test_project_shapes_and_umap_hint():
    pytest.importorskip("sklearn")
    from folkclip.errors import FolkclipError
    from folkclip_cli.study.maps import project

    rng = np.random.default_rng(0)
    emb = rng.standard_normal((30, 8))
    xy = project(emb, "pca")
    assert xy.shape == (30, 2)
    # PCA coordinates: the first axis carries the most variance
    assert xy[:, 0].var() >= xy[:, 1].var()
    assert project(emb[:1], "pca").shape == (1, 2)
    assert project(emb[:3], "tsne").shape == (3, 2)  # too few points: PCA
    with pytest.raises(FolkclipError):
        project(emb, "mds")
    try:
        import umap  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(FolkclipError, match=r"pip install 'folkclip\[umap\]'"):
            project(emb, "umap")


# ---------------------------------------------------------------- end to end

TINY = ["--data", "tiny", "--set", "trainer.batch_size=16", "--set", "tracking.probe_size=4",
        "--set", "trainer.progress_bar=false", "--set", "tracking.logger=csv",
        "--set", "model.melody.dim=32", "--set", "model.title.dim=32", "--set",
        "model.embed_dim=32"]
KEYS = ("silhouette_type", "knn_type_accuracy", "random_init_silhouette_type",
        "random_init_knn_type_accuracy", "majority_type_share", "n_tunes", "n_types", "types",
        "method", "color", "split", "sources", "titles/silhouette_type",
        "titles/knn_type_accuracy")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    pytest.importorskip("lightning")
    out = tmp_path_factory.mktemp("run")
    code = main(["train", "--out", str(out), "--set", "model_preset=gru", "--set",
                 "trainer.max_steps=8", *TINY])
    assert code == 0
    return out


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_map_end_to_end(run_dir, tmp_path, capsys, method):
    out = tmp_path / "map"
    assert main(["map", str(run_dir), "--split", "all", "--out", str(out), "--method", method,
                 "--color", "key"]) == 0
    assert "silhouette by type" in capsys.readouterr().out
    for name in (f"tunes_{method}.png", f"titles_{method}.png", "map.html",
                 "map_metrics.json"):
        assert (out / name).stat().st_size > 0, name
    assert (out / f"tunes_{method}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = json.loads((out / "map_metrics.json").read_text())
    for k in KEYS:
        assert k in m, k
    assert m["method"] == method and m["color"] == "key" and m["split"] == "all"
    assert m["sources"] == ["tiny"]
    assert m["n_types"] >= 2 and sum(m["types"].values()) == m["n_tunes"]
    assert "unknown" not in m["types"]
    for k in ("silhouette_type", "random_init_silhouette_type", "titles/silhouette_type"):
        assert -1 <= m[k] <= 1, k
    for k in ("knn_type_accuracy", "random_init_knn_type_accuracy", "majority_type_share",
              "titles/knn_type_accuracy"):
        assert 0 <= m[k] <= 1, k
    assert m["majority_type_share"] == max(m["types"].values()) / m["n_tunes"]

    page = (out / "map.html").read_text()
    assert page.count("<svg") == 2 and "<circle" in page and "<title>" in page
    assert "The Enchanted Valley" in page  # a title of the tiny collection
    assert 'class="legend"' in page and "<script>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "<script src" not in page


def test_map_default_out_and_type_colour(run_dir):
    from folkclip_cli.study.maps import make_maps

    m = make_maps(run_dir, split="all")
    assert (run_dir / "map" / "tunes_pca.png").exists()
    assert (run_dir / "map" / "map.html").exists()
    assert m["files"]["metrics"] == str(run_dir / "map" / "map_metrics.json")
    # same seed, same numbers
    again = make_maps(run_dir, run_dir / "map2", split="all")
    assert again["random_init_silhouette_type"] == m["random_init_silhouette_type"]
    assert again["knn_type_accuracy"] == m["knn_type_accuracy"]


def test_map_errors(run_dir, tmp_path, capsys):
    from folkclip.errors import FolkclipError
    from folkclip_cli.study.maps import make_maps

    with pytest.raises(SystemExit) as exc:
        main(["map", str(run_dir), "--color", "tempo"])
    assert exc.value.code == 2
    assert "invalid choice: 'tempo'" in capsys.readouterr().err
    with pytest.raises(FolkclipError, match="unknown color"):
        make_maps(run_dir, tmp_path, color="tempo")
    assert main(["map", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    assert "not a run folder" in capsys.readouterr().err
