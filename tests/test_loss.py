"""Tests for folkclip.loss: hand-worked values, loop references and same-title handling."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from folkclip.loss import clip_loss, hinge_loss

MODES = ("mask", "positive", "none")
KEYS = {"contrastive_loss", "tune_to_title_loss", "title_to_tune_loss", "accuracy"}


def _random_batch(b: int, d: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    tune = F.normalize(torch.randn(b, d, generator=gen, dtype=torch.float64), dim=1)  # (B, D)
    title = F.normalize(torch.randn(b, d, generator=gen, dtype=torch.float64), dim=1)  # (B, D)
    return tune, title


def _as_embeddings(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings whose product tune @ title.T is exactly ``scores`` (identity tune tower)."""
    b = scores.shape[0]
    return torch.eye(b, dtype=scores.dtype), scores.T


def _reference_infonce(logits: torch.Tensor, ids: list[int], mode: str) -> float:
    """Row-by-row InfoNCE written with explicit index lists (tune -> title direction)."""
    total = 0.0
    b = len(ids)
    for i in range(b):
        if mode == "mask":
            cols = [j for j in range(b) if j == i or ids[j] != ids[i]]
            pos = [i]
        elif mode == "positive":
            cols = list(range(b))
            pos = [j for j in range(b) if ids[j] == ids[i]]
        else:
            cols = list(range(b))
            pos = [i]
        total += float(torch.logsumexp(logits[i, cols], 0) - torch.logsumexp(logits[i, pos], 0))
    return total / b


def _reference_hinge(scores: torch.Tensor, ids: list[int], margin: float, hardest: bool) -> float:
    b = len(ids)
    rows, cols = [], []
    for a in range(b):
        r = [
            max(0.0, margin - float(scores[a, a]) + float(scores[a, j]))
            for j in range(b)
            if ids[j] != ids[a]
        ]
        c = [
            max(0.0, margin - float(scores[a, a]) + float(scores[i, a]))
            for i in range(b)
            if ids[i] != ids[a]
        ]
        rows.append((max(r) if hardest else sum(r)) if r else 0.0)
        cols.append((max(c) if hardest else sum(c)) if c else 0.0)
    return (sum(rows) / b + sum(cols) / b) / 2


# ---------------------------------------------------------------- clip_loss: references


@pytest.mark.parametrize("mode", MODES)
def test_clip_matches_loop_and_cross_entropy_without_shared_titles(mode: str) -> None:
    tune, title = _random_batch(6)
    scale = torch.tensor(14.0, dtype=torch.float64)
    ids = torch.arange(6, dtype=torch.int64) * 1000 + 17
    out = clip_loss(tune, title, scale, ids, same_title=mode)
    assert set(out) == KEYS
    logits = scale * tune @ title.T  # (B, B)
    ref_rows = _reference_infonce(logits, ids.tolist(), mode)
    ref_cols = _reference_infonce(logits.T, ids.tolist(), mode)
    assert out["tune_to_title_loss"].item() == pytest.approx(ref_rows, rel=1e-12)
    assert out["title_to_tune_loss"].item() == pytest.approx(ref_cols, rel=1e-12)
    labels = torch.arange(6)
    standard = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    assert out["contrastive_loss"].item() == pytest.approx(standard.item(), rel=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_clip_matches_loop_with_shared_titles(mode: str) -> None:
    tune, title = _random_batch(7, seed=3)
    tune[2] = tune[0]  # a duplicated tune
    scale = torch.tensor(10.0, dtype=torch.float64)
    ids = [5, 9, 5, 5, 1, 9, 2]
    out = clip_loss(tune, title, scale, torch.tensor(ids), same_title=mode)
    logits = scale * tune @ title.T  # (B, B)
    expected = (_reference_infonce(logits, ids, mode) + _reference_infonce(logits.T, ids, mode)) / 2
    assert out["contrastive_loss"].item() == pytest.approx(expected, rel=1e-12)


def test_clip_modes_differ_when_titles_are_shared() -> None:
    tune, title = _random_batch(5, seed=1)
    ids = torch.tensor([3, 3, 4, 5, 6])
    scale = torch.tensor(5.0, dtype=torch.float64)
    values = {
        m: clip_loss(tune, title, scale, ids, same_title=m)["contrastive_loss"].item()
        for m in MODES
    }
    # Dropping negatives lowers the loss; turning them into positives lowers it further.
    assert values["positive"] < values["mask"] < values["none"]


# ---------------------------------------------------------------- clip_loss: hand-worked 3x3

# logits with exp(logits) = [[2, 1, 1], [1, 2, 3], [1, 1, 1]]; samples 0 and 1 share a title.
_L2, _L3 = math.log(2), math.log(3)
_HAND_LOGITS = [[_L2, 0.0, 0.0], [0.0, _L2, _L3], [0.0, 0.0, 0.0]]
_HAND_IDS = [7, 7, 9]


def _hand_loss(mode: str) -> dict[str, torch.Tensor]:
    scores = torch.tensor(_HAND_LOGITS, dtype=torch.float64)
    tune, title = _as_embeddings(scores)
    return clip_loss(
        tune, title, torch.tensor(1.0, dtype=torch.float64), torch.tensor(_HAND_IDS), mode
    )


def test_clip_positive_hand_worked() -> None:
    out = _hand_loss("positive")
    # rows: -log(3/4), -log(3/6), -log(1/3) -> log(4/3) + log 2 + log 3 = log 8; mean = log 2
    assert out["tune_to_title_loss"].item() == pytest.approx(math.log(2), rel=1e-12)
    # columns (2,1,1), (1,2,1), (1,3,1): -log(3/4), -log(3/4), -log(1/5) -> mean = log(80/9) / 3
    assert out["title_to_tune_loss"].item() == pytest.approx(math.log(80 / 9) / 3, rel=1e-12)
    # mean of the two: (log 8 + log(80/9)) / 6 = log(640/9) / 6
    assert out["contrastive_loss"].item() == pytest.approx(math.log(640 / 9) / 6, rel=1e-12)


def test_clip_mask_and_none_hand_worked() -> None:
    # mask, rows: row 0 drops column 1 -> -log(2/3); row 1 drops column 0 -> -log(2/5); row 2 -log(1/3)
    mask = _hand_loss("mask")
    assert mask["tune_to_title_loss"].item() == pytest.approx(math.log(45 / 4) / 3, rel=1e-12)
    # mask, columns: col 0 drops row 1 -> -log(2/3); col 1 drops row 0 -> -log(2/3); col 2 -log(1/5)
    assert mask["title_to_tune_loss"].item() == pytest.approx(math.log(45 / 4) / 3, rel=1e-12)
    # none, rows: -log(2/4), -log(2/6), -log(1/3) -> mean = log 18 / 3
    none = _hand_loss("none")
    assert none["tune_to_title_loss"].item() == pytest.approx(math.log(18) / 3, rel=1e-12)


def test_clip_accuracy_counts_same_title_columns() -> None:
    scores = torch.tensor([[1.0, 3.0, 0.0], [0.0, 2.0, 0.0], [0.0, 5.0, 1.0]], requires_grad=True)
    tune, title = _as_embeddings(scores)
    out = clip_loss(tune, title, torch.tensor(1.0), torch.tensor([7, 7, 9]))
    # row 0 -> column 1 (same title, counts), row 1 -> column 1, row 2 -> column 1 (wrong)
    assert out["accuracy"].item() == pytest.approx(2 / 3)
    assert not out["accuracy"].requires_grad


# ---------------------------------------------------------------- clip_loss: same-title gradients


def _grad_of_scores(mode: str, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    scores = torch.randn(4, 4, generator=gen, dtype=torch.float64).requires_grad_(True)
    tune, title = _as_embeddings(scores)
    loss = clip_loss(tune, title, torch.tensor(3.0, dtype=torch.float64), torch.tensor(ids), mode)
    loss["contrastive_loss"].backward()
    return loss["contrastive_loss"].detach(), scores.grad


def test_mask_ignores_similarity_between_same_title_pairs() -> None:
    loss, grad = _grad_of_scores("mask", [1, 1, 2, 3])
    assert grad[0, 1].item() == 0.0 and grad[1, 0].item() == 0.0
    assert (grad[0, 2] != 0) and (grad[2, 0] != 0)
    # perturbing s_01 and s_10 leaves the loss bit-for-bit unchanged
    gen = torch.Generator().manual_seed(7)
    scores = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    scores[0, 1] += 5.0
    scores[1, 0] -= 3.0
    tune, title = _as_embeddings(scores)
    moved = clip_loss(
        tune, title, torch.tensor(3.0, dtype=torch.float64), torch.tensor([1, 1, 2, 3])
    )
    assert torch.equal(moved["contrastive_loss"], loss)


@pytest.mark.parametrize("mode", ["none", "positive"])
def test_other_modes_depend_on_same_title_similarity(mode: str) -> None:
    _, grad = _grad_of_scores(mode, [1, 1, 2, 3])
    assert grad[0, 1].item() != 0.0 and grad[1, 0].item() != 0.0


def test_none_treats_same_title_pair_as_negative() -> None:
    _, grad = _grad_of_scores("none", [1, 1, 2, 3])
    assert grad[0, 1].item() > 0  # raising a negative's score raises the loss


# ---------------------------------------------------------------- gradients and edge cases


@pytest.mark.parametrize("mode", MODES)
def test_clip_gradients_reach_embeddings_and_scale(mode: str) -> None:
    tune0, title0 = _random_batch(5, seed=2)
    tune_raw = tune0.clone().requires_grad_(True)
    title_raw = title0.clone().requires_grad_(True)
    log_scale = torch.tensor(math.log(1 / 0.07), dtype=torch.float64, requires_grad=True)
    scale = log_scale.exp().clamp(max=100)
    out = clip_loss(
        F.normalize(tune_raw, dim=1),
        F.normalize(title_raw, dim=1),
        scale,
        torch.tensor([1, 1, 2, 3, 4]),
        same_title=mode,
    )
    out["contrastive_loss"].backward()
    for grad in (tune_raw.grad, title_raw.grad, log_scale.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("hardest", [False, True])
def test_hinge_gradients_reach_both_embeddings(hardest: bool) -> None:
    tune0, title0 = _random_batch(5, seed=4)
    tune = tune0.clone().requires_grad_(True)
    title = title0.clone().requires_grad_(True)
    # margin 2 exceeds any similarity gap, so every negative pair violates it
    out = hinge_loss(tune, title, torch.arange(5), margin=2.0, hardest=hardest)
    out["contrastive_loss"].backward()
    assert tune.grad.abs().sum() > 0 and title.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", MODES)
def test_clip_single_sample_is_zero_and_finite(mode: str) -> None:
    tune, title = _random_batch(1)
    tune.requires_grad_(True)
    out = clip_loss(tune, title, torch.tensor(20.0, dtype=torch.float64), torch.tensor([42]), mode)
    out["contrastive_loss"].backward()
    assert out["contrastive_loss"].item() == 0.0
    assert torch.isfinite(tune.grad).all()
    assert out["accuracy"].item() == 1.0


@pytest.mark.parametrize("mode", ["mask", "positive"])
def test_clip_all_one_title_gives_zero_without_nan(mode: str) -> None:
    tune, title = _random_batch(4, seed=5)
    tune.requires_grad_(True)
    log_scale = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    out = clip_loss(tune, title, log_scale.exp(), torch.full((4,), 11), mode)
    out["contrastive_loss"].backward()
    assert out["contrastive_loss"].item() == pytest.approx(0.0, abs=1e-12)
    assert torch.isfinite(tune.grad).all() and torch.isfinite(log_scale.grad).all()
    assert out["accuracy"].item() == 1.0


def test_clip_all_one_title_under_none_is_positive() -> None:
    tune, title = _random_batch(4, seed=5)
    out = clip_loss(
        tune, title, torch.tensor(5.0, dtype=torch.float64), torch.full((4,), 11), "none"
    )
    assert out["contrastive_loss"].item() > 0


def test_hinge_edge_cases_are_zero() -> None:
    tune, title = _random_batch(1)
    assert hinge_loss(tune, title, torch.tensor([3]))["contrastive_loss"].item() == 0.0
    tune, title = _random_batch(4)
    for hardest in (False, True):
        out = hinge_loss(tune, title, torch.full((4,), 8), margin=5.0, hardest=hardest)
        assert out["contrastive_loss"].item() == 0.0


# ---------------------------------------------------------------- hinge_loss


def _hinge(scores: list[list[float]], ids: list[int], **kwargs: object) -> dict[str, torch.Tensor]:
    tune, title = _as_embeddings(torch.tensor(scores, dtype=torch.float64))
    return hinge_loss(tune, title, torch.tensor(ids), **kwargs)


def test_hinge_hand_worked_2x2() -> None:
    out = _hinge([[0.9, 0.5], [0.85, 0.6]], [1, 2], margin=0.1)
    assert set(out) == KEYS
    # tune 0: max(0, 0.1 - 0.9 + 0.5) = 0; tune 1: 0.1 - 0.6 + 0.85 = 0.35 -> mean 0.175
    assert out["tune_to_title_loss"].item() == pytest.approx(0.175)
    # title 0: 0.1 - 0.9 + 0.85 = 0.05; title 1: max(0, 0.1 - 0.6 + 0.5) = 0 -> mean 0.025
    assert out["title_to_tune_loss"].item() == pytest.approx(0.025)
    assert out["contrastive_loss"].item() == pytest.approx(0.1)


def test_hinge_excludes_same_title_pairs() -> None:
    assert _hinge([[0.9, 0.5], [0.85, 0.6]], [4, 4], margin=0.1)["contrastive_loss"].item() == 0.0


def test_hinge_zero_when_margin_satisfied() -> None:
    out = _hinge([[1.0, 0.0], [0.0, 1.0]], [1, 2], margin=0.5)
    assert out["contrastive_loss"].item() == 0.0


_HINGE_3 = [[0.5, 0.45, 0.4], [0.2, 0.5, 0.1], [0.0, 0.0, 0.5]]


def test_hinge_sum_and_hardest_hand_worked_3x3() -> None:
    # margin 0.2, every positive 0.5: violations are s_01 (0.15) and s_02 (0.1) only.
    # rows: tune 0 sum 0.25 / hardest 0.15; columns: title 1 gets 0.15, title 2 gets 0.1.
    summed = _hinge(_HINGE_3, [1, 2, 3], margin=0.2)
    assert summed["tune_to_title_loss"].item() == pytest.approx(0.25 / 3)
    assert summed["title_to_tune_loss"].item() == pytest.approx(0.25 / 3)
    hard = _hinge(_HINGE_3, [1, 2, 3], margin=0.2, hardest=True)
    assert hard["tune_to_title_loss"].item() == pytest.approx(0.15 / 3)
    assert hard["title_to_tune_loss"].item() == pytest.approx(0.25 / 3)
    assert hard["contrastive_loss"].item() == pytest.approx((0.05 + 0.25 / 3) / 2)
    # samples 0 and 1 share a title: s_01 is no longer a negative, only s_02 (0.1) remains
    shared = _hinge(_HINGE_3, [1, 1, 3], margin=0.2)
    assert shared["tune_to_title_loss"].item() == pytest.approx(0.1 / 3)
    assert shared["title_to_tune_loss"].item() == pytest.approx(0.1 / 3)


@pytest.mark.parametrize("hardest", [False, True])
def test_hinge_matches_loop_reference(hardest: bool) -> None:
    tune, title = _random_batch(6, seed=9)
    ids = [1, 2, 1, 3, 2, 4]
    out = hinge_loss(tune, title, torch.tensor(ids), margin=0.3, hardest=hardest)
    expected = _reference_hinge(tune @ title.T, ids, 0.3, hardest)
    assert expected > 0
    assert out["contrastive_loss"].item() == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- argument checks


def test_bad_arguments_raise() -> None:
    tune, title = _random_batch(3)
    scale = torch.tensor(1.0, dtype=torch.float64)
    with pytest.raises(ValueError, match="same_title"):
        clip_loss(tune, title, scale, torch.arange(3), same_title="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="title_ids"):
        clip_loss(tune, title, scale, torch.arange(4))
    with pytest.raises(ValueError, match="tune_emb"):
        hinge_loss(tune, title[:2], torch.arange(3))
