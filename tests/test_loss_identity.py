"""False negatives: pairs whose tunes share any title or identity group are never negatives
(bias 1 of issue 11), from the loss down to the collate function that builds the batch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from folkclip.abc.parser import parse_tunebook  # noqa: E402
from folkclip.data.dataset import tokenize_corpus  # noqa: E402
from folkclip.loss import clip_loss, hinge_loss  # noqa: E402
from folkclip.io.sources import Corpus  # noqa: E402

# Tune 1 is also called "Ballyloughlin", the main title of tune 2 (another setting);
# tune 3 is unrelated.
BOOK = """X:1
T:The Humours of Ballyloughlin
T:Ballyloughlin
R:jig
M:6/8
L:1/8
K:D
d2A B2A|GBd g2e|

X:2
T:Ballyloughlin
R:jig
M:6/8
L:1/8
K:D
d2A BcA|GBd gfe|

X:3
T:The Kesh
R:jig
M:6/8
L:1/8
K:G
GAG GAB|ABA ABd|
"""


def _scores(x: float) -> torch.Tensor:
    s = torch.tensor([[5.0, 0.0, 1.0], [0.0, 5.0, 1.0], [1.0, 1.0, 5.0]], dtype=torch.float64)
    s[0, 1] = s[1, 0] = x  # similarity between the two settings of one identity
    return s


def _loss(scores: torch.Tensor, ids: torch.Tensor, groups: torch.Tensor | None, **kw) -> dict:
    tune = torch.eye(3, dtype=torch.float64)  # tune @ title.T == scores
    return clip_loss(tune, scores.T, torch.tensor(1.0, dtype=torch.float64), ids,
                     group_ids=groups, **kw)


@pytest.mark.parametrize("mode", ["mask", "positive"])
def test_same_group_pairs_leave_the_softmax(mode):
    ids = torch.tensor([11, 22, 33])  # three different drawn titles
    groups = torch.tensor([0, 0, 2])  # but tunes 0 and 1 are one identity
    low = _loss(_scores(-3.0), ids, groups, same_title=mode)["contrastive_loss"]
    high = _loss(_scores(4.0), ids, groups, same_title=mode)["contrastive_loss"]
    assert float(low) == pytest.approx(float(high), abs=1e-12)
    # and equals the loss of the 2x2 problems with the related column removed by hand
    s = _scores(0.0)
    rows = [torch.logsumexp(s[i, [i, 2]], 0) - s[i, i] for i in (0, 1)]
    rows.append(torch.logsumexp(s[2], 0) - s[2, 2])
    cols = [torch.logsumexp(s[[j, 2], j], 0) - s[j, j] for j in (0, 1)]
    cols.append(torch.logsumexp(s[:, 2], 0) - s[2, 2])
    expected = (sum(rows) / 3 + sum(cols) / 3) / 2
    assert float(low) == pytest.approx(float(expected), abs=1e-12)


def test_without_groups_the_related_pair_is_a_negative():
    ids = torch.tensor([11, 22, 33])
    low = _loss(_scores(-3.0), ids, None)["contrastive_loss"]
    high = _loss(_scores(4.0), ids, None)["contrastive_loss"]
    assert float(high) > float(low)


def test_hinge_ignores_same_group_pairs():
    ids, groups = torch.tensor([11, 22, 33]), torch.tensor([5, 5, 7])
    tune = torch.eye(3, dtype=torch.float64)
    a = hinge_loss(tune, _scores(-3.0).T, ids, margin=0.5, group_ids=groups)
    b = hinge_loss(tune, _scores(4.9).T, ids, margin=0.5, group_ids=groups)
    assert float(a["contrastive_loss"]) == pytest.approx(float(b["contrastive_loss"]))


def test_collate_gives_identity_groups_so_alternative_titles_are_not_negatives():
    pytest.importorskip("lightning")
    from folkclip_cli.train.loaders import make_collate

    tunes, _ = parse_tunebook(BOOK, "book.abc")
    tc = tokenize_corpus(Corpus(tunes, [], []))
    collate = make_collate(tc, lambda titles: {"n": torch.tensor(len(titles))}, 64, False)
    # tune 0 drawn with its main title, tune 1 with the same-key alternative of tune 0
    batch = collate([(0, "The Humours of Ballyloughlin"), (1, "Ballyloughlin"), (2, "The Kesh")])
    assert batch["title_ids"][0] != batch["title_ids"][1]  # the drawn titles differ ...
    groups = batch["group_ids"]
    assert groups[0] == groups[1] and groups[0] != groups[2]  # ... the identities do not
    low = _loss(_scores(-3.0), batch["title_ids"], groups)["contrastive_loss"]
    high = _loss(_scores(4.0), batch["title_ids"], groups)["contrastive_loss"]
    assert float(low) == pytest.approx(float(high), abs=1e-12)
