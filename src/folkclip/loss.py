"""Contrastive losses for the two-tower tune/title model, aware of same-title pairs.

A batch holds ``B`` (tune, title) pairs; pair ``i`` is the diagonal entry of the
``(B, B)`` similarity matrix ``s = tune_emb @ title_emb.T``. Several tunes may share a
title (two settings of "The Kesh", or a duplicated tune), so off-diagonal pairs with
equal ``title_ids`` are not true negatives. Nor are two tunes of one identity group
(``group_ids``: tunes linked by a shared ``tune_id`` or any shared main/alternative title,
as the split groups them): a tune's own alternative title, drawn for another setting of
it, must not be pushed away. Rows are tune -> title, columns title -> tune.
"""

from __future__ import annotations

from typing import Literal

import torch

SameTitle = Literal["mask", "positive", "none"]
_SAME_TITLE_MODES = ("mask", "positive", "none")


def _check_shapes(tune_emb: torch.Tensor, title_emb: torch.Tensor, title_ids: torch.Tensor,
                  group_ids: torch.Tensor | None = None) -> None:
    if tune_emb.ndim != 2 or tune_emb.shape != title_emb.shape:
        raise ValueError(
            f"tune_emb and title_emb must both be (B, D); got {tuple(tune_emb.shape)} "
            f"and {tuple(title_emb.shape)}"
        )
    if title_ids.shape != (tune_emb.shape[0],):
        raise ValueError(
            f"title_ids must be (B,) = ({tune_emb.shape[0]},); got {tuple(title_ids.shape)}"
        )
    if group_ids is not None and group_ids.shape != title_ids.shape:
        raise ValueError(
            f"group_ids must have the shape of title_ids; got {tuple(group_ids.shape)}"
        )


def _same_title(title_ids: torch.Tensor) -> torch.Tensor:
    return title_ids[:, None] == title_ids[None, :]  # (B, B) bool, symmetric, true diagonal


def _related(same: torch.Tensor, group_ids: torch.Tensor | None) -> torch.Tensor:
    """Pairs that are never negatives: same drawn title or same identity group."""
    if group_ids is None:
        return same
    return same | (group_ids[:, None] == group_ids[None, :])  # (B, B) bool


def _accuracy(scores: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose top-scoring column has the row's title."""
    top = scores.detach().argmax(dim=1)  # (B,)
    return same.gather(1, top[:, None]).float().mean()


def _infonce_rows(logits: torch.Tensor, same: torch.Tensor, mode: str,
                  related: torch.Tensor) -> torch.Tensor:
    """Mean over rows of the InfoNCE loss with the diagonal (or same-title set) as positives.

    ``related`` (a superset of ``same``) marks pairs that are never negatives: under
    ``mask`` they leave the softmax; under ``positive`` the same-title ones are positives
    and the other related ones leave the softmax.
    """
    eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)  # (B, B)
    if mode == "mask":  # other related columns leave the softmax altogether
        logits = logits.masked_fill(related & ~eye, float("-inf"))
        positive = eye
    elif mode == "positive":
        logits = logits.masked_fill(related & ~same, float("-inf"))
        positive = same
    else:  # "none": plain CLIP, same-title pairs are negatives
        positive = eye
    log_denominator = torch.logsumexp(logits, dim=1)  # (B,)
    log_numerator = torch.logsumexp(logits.masked_fill(~positive, float("-inf")), dim=1)  # (B,)
    return (log_denominator - log_numerator).mean()


def clip_loss(
    tune_emb: torch.Tensor,
    title_emb: torch.Tensor,
    logit_scale: torch.Tensor,
    title_ids: torch.Tensor,
    same_title: SameTitle = "mask",
    group_ids: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Symmetric InfoNCE (CLIP) loss over ``logit_scale * tune_emb @ title_emb.T``.

    Args:
        tune_emb: ``(B, D)`` L2-normalised tune embeddings.
        title_emb: ``(B, D)`` L2-normalised title embeddings; row ``i`` pairs with tune ``i``.
        logit_scale: Scalar tensor, already exponentiated and clamped.
        title_ids: ``(B,)`` int64 hash of each sample's normalised title.
        same_title: How off-diagonal pairs with equal title ids are treated:
            ``"mask"`` drops them from the softmax (neither positive nor negative);
            ``"positive"`` counts them as extra positives (multi-positive InfoNCE,
            ``-log(sum_{j same} exp(l_ij) / sum_j exp(l_ij))``);
            ``"none"`` is plain CLIP, where they count as negatives.
        group_ids: Optional ``(B,)`` int64 identity group of each sample's tune; pairs of
            one group are never negatives (they leave the softmax under ``"mask"`` and
            ``"positive"``; ``"none"`` ignores them, as it ignores shared titles).

    Returns:
        ``{"contrastive_loss", "tune_to_title_loss", "title_to_tune_loss", "accuracy"}``;
        the first is the mean of the two directions, each a mean over the batch.
        ``accuracy`` (detached) is the fraction of tune rows whose highest-scoring
        title has the tune's title id (or, with ``group_ids``, its identity group).
    """
    if same_title not in _SAME_TITLE_MODES:
        raise ValueError(f"same_title must be one of {_SAME_TITLE_MODES}; got {same_title!r}")
    _check_shapes(tune_emb, title_emb, title_ids, group_ids)
    same = _same_title(title_ids)  # (B, B)
    related = _related(same, group_ids)  # (B, B)
    logits = logit_scale * tune_emb @ title_emb.T  # (B, B)
    tune_to_title = _infonce_rows(logits, same, same_title, related)
    title_to_tune = _infonce_rows(logits.T, same, same_title, related)
    return {
        "contrastive_loss": (tune_to_title + title_to_tune) / 2,
        "tune_to_title_loss": tune_to_title,
        "title_to_tune_loss": title_to_tune,
        "accuracy": _accuracy(logits, related),
    }


def hinge_loss(
    tune_emb: torch.Tensor,
    title_emb: torch.Tensor,
    title_ids: torch.Tensor,
    margin: float = 0.1,
    hardest: bool = False,
    group_ids: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Bidirectional triplet ranking loss (VSE; VSE++ with ``hardest=True``).

    For tune ``i`` the loss is ``sum_j max(0, margin - s_ii + s_ij)`` over titles ``j``
    with a different title id, and symmetrically ``sum_i max(0, margin - s_jj + s_ij)``
    for title ``j``. Same-title pairs (and, with ``group_ids``, same-group pairs) are never
    negatives.

    Args:
        tune_emb: ``(B, D)`` L2-normalised tune embeddings.
        title_emb: ``(B, D)`` L2-normalised title embeddings; row ``i`` pairs with tune ``i``.
        title_ids: ``(B,)`` int64 hash of each sample's normalised title.
        margin: Required gap between the positive and each negative similarity.
        hardest: Use only the hardest (highest-cost) negative per anchor instead of the sum.
        group_ids: Optional ``(B,)`` int64 identity group of each sample's tune.

    Returns:
        ``{"contrastive_loss", "tune_to_title_loss", "title_to_tune_loss", "accuracy"}``;
        each direction is a mean over anchors, ``contrastive_loss`` is their mean, and
        ``accuracy`` is as in :func:`clip_loss`. An anchor with no negatives costs 0.
    """
    _check_shapes(tune_emb, title_emb, title_ids, group_ids)
    same = _related(_same_title(title_ids), group_ids)  # (B, B)
    scores = tune_emb @ title_emb.T  # (B, B)
    positive = scores.diagonal()  # (B,)
    cost_rows = (margin - positive[:, None] + scores).clamp(min=0)  # (B, B) tune i vs title j
    cost_cols = (margin - positive[None, :] + scores).clamp(min=0)  # (B, B) title j vs tune i
    cost_rows = cost_rows.masked_fill(same, 0.0)
    cost_cols = cost_cols.masked_fill(same, 0.0)
    if hardest:
        tune_to_title = cost_rows.max(dim=1).values.mean()
        title_to_tune = cost_cols.max(dim=0).values.mean()
    else:
        tune_to_title = cost_rows.sum(dim=1).mean()
        title_to_tune = cost_cols.sum(dim=0).mean()
    return {
        "contrastive_loss": (tune_to_title + title_to_tune) / 2,
        "tune_to_title_loss": tune_to_title,
        "title_to_tune_loss": title_to_tune,
        "accuracy": _accuracy(scores, same),
    }
