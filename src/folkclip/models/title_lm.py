"""The conditional title model: how many bits a title costs given what the tune shows.

:class:`TitleLM` is an autoregressive character model of a tune's title. A melody
encoder (any :data:`~folkclip.models.melody.MELODY_ENCODERS` arch that reads the event
sequence) turns the events it is shown into one *prefix* vector; the prefix sets the
GRU's initial state and is concatenated to every input character. The *condition*
(:class:`~folkclip.models.config.TitleLMConfig`) decides which events the encoder is
shown (:func:`condition_batch`): ``none`` (``<bos>`` only, a constant prefix: the
unconditional model), ``header`` (the type, meter, mode and key tokens) or ``melody``
(every event; the tokenizer's removal switches take an element out). The architecture,
the training and the data are otherwise identical under every condition.

Units are characters, not MiniLM's WordPiece sub-words: every string has exactly one
spelling and so one probability (a sub-word model spreads it over several
segmentations, and its 30k-row softmax is mostly rows no folk title ever uses); a few
thousand titles fit a 99-symbol softmax on a CPU; and bits per character compare
across models. Titles are folded as the character title towers fold them
(:func:`~folkclip.models.title.fold_text`: case and accents removed), so bits are
those of the folded title; characters outside printable ASCII become one ``<unk>``.

A run folder of ``folkclip train`` with ``task: title_lm`` holds ``model/title_lm.json``
(config, event vocabulary, tokenizer config, ``max_events``, the training titles'
identity keys for telling novel names from existing ones) and ``model/title_lm_weights.pt``.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from folkclip.config import from_dict, to_dict
from folkclip.data.batch import tune_batch
from folkclip.data.dataset import TokenizedCorpus
from folkclip.data.tokenize import BOS, TokenizerConfig
from folkclip.errors import FolkclipError
from folkclip.io.runfiles import DAMAGED_HINT, read_json, require_keys
from folkclip.models.config import TitleLMConfig
from folkclip.models.melody import MELODY_ENCODERS
from folkclip.models.title import CHAR_IDS, CHAR_VOCAB, PAD_ID, UNK_ID, fold_text

BOS_ID, EOS_ID = CHAR_VOCAB, CHAR_VOCAB + 1  # after the title towers' fixed character table
TITLE_VOCAB = CHAR_VOCAB + 2
ID_CHARS = {i: c for c, i in CHAR_IDS.items()}
HEADER_SLOTS = ("type", "meter", "mode", "key")  # what the ``header`` condition shows
FILE, WEIGHTS = "title_lm.json", "title_lm_weights.pt"
FORMAT_VERSION = 1
LN2 = math.log(2.0)


def title_text(title: str, max_chars: int) -> str:
    """The string the model scores for ``title``: folded and cut to ``max_chars``."""
    return fold_text(title)[:max_chars]


def title_batch(titles: Sequence[str], max_chars: int) -> dict[str, Tensor]:
    """Teacher-forcing inputs and targets of folded titles.

    Returns:
        ``chars_in`` (B, L) = ``<bos>`` + characters and ``chars_out`` (B, L) = characters
        + ``<eos>``, L = longest title + 1, padded with 0.
    """
    rows = [[CHAR_IDS.get(c, UNK_ID) for c in title_text(t, max_chars)] for t in titles]
    width = max((len(r) for r in rows), default=0) + 1
    chars_in = torch.zeros(len(rows), width, dtype=torch.int64)
    chars_out = torch.zeros(len(rows), width, dtype=torch.int64)
    for b, row in enumerate(rows):
        chars_in[b, : len(row) + 1] = torch.tensor([BOS_ID, *row], dtype=torch.int64)
        chars_out[b, : len(row) + 1] = torch.tensor([*row, EOS_ID], dtype=torch.int64)
    return {"chars_in": chars_in, "chars_out": chars_out}


def decode_chars(ids: Sequence[int]) -> str:
    """Character ids back to text (up to ``<eos>``; ``<unk>`` shown as ``?``)."""
    out = []
    for i in ids:
        if i == EOS_ID or i == PAD_ID:
            break
        out.append(ID_CHARS.get(int(i), "?"))
    return "".join(out)


def condition_batch(tc: TokenizedCorpus, indices: Sequence[int], condition: str,
                    max_events: int = 256, ids: np.ndarray | None = None
                    ) -> dict[str, Tensor]:
    """The events the prefix encoder is shown under ``condition``.

    Args:
        tc: The tokenized corpus.
        indices: Tunes of the batch.
        condition: ``none`` (``<bos>`` only), ``header`` (``<bos>`` and the header's
            ``type:``, ``meter:``, ``mode:`` and ``key:`` tokens) or ``melody`` (every
            event, cut to ``max_events``).
        max_events: Longest event sequence shown.
        ids: ``tc``'s ids in the model's vocabulary (default ``tc.ids``).

    Returns:
        ``tokens`` (B, T, F), ``mask`` (B, T) and ``header_mask`` (B, T), as
        :func:`~folkclip.data.batch.tune_batch` builds them.
    """
    ids = tc.ids if ids is None else ids
    if condition == "melody":
        return tune_batch(tc, indices, max_events, ids=ids)
    keep = np.array([t == BOS or (condition == "header" and t.partition(":")[0] in HEADER_SLOTS
                                  and ":" in t) for t in tc.vocab["token"]])
    rows = []
    for i in indices:
        s, e = int(tc.offsets[int(i)]), int(tc.offsets[int(i) + 1])
        sel = np.nonzero(keep[tc.ids[s:e, 0]] & (tc.bars[s:e] < 0))[0]  # header events only
        rows.append(ids[s:e][sel])
    width = max(1, max((len(r) for r in rows), default=1))
    tokens = np.zeros((len(rows), width, ids.shape[1]), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=bool)
    for b, r in enumerate(rows):
        tokens[b, : len(r)] = r
        mask[b, : len(r)] = True
    m = torch.from_numpy(mask)
    return {"tokens": torch.from_numpy(tokens), "mask": m, "header_mask": m.clone()}


class TitleLM(nn.Module):
    """Character GRU over a title, conditioned on a prefix vector from the tune's events.

    Args:
        config: The model (condition, encoder, sizes).
        vocab_sizes: Event vocabulary size of every field (for the encoder).
    """

    def __init__(self, config: TitleLMConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        self.config = config
        c = config.dim
        self.encoder = MELODY_ENCODERS[config.encoder.arch](config.encoder, vocab_sizes)
        self.bridge = nn.Sequential(nn.Linear(self.encoder.out_dim, c), nn.Tanh())
        self.init_state = nn.Linear(c, config.layers * c)
        self.embed = nn.Embedding(TITLE_VOCAB, c, padding_idx=PAD_ID)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = nn.GRU(2 * c, c, config.layers, batch_first=True,
                          dropout=config.dropout if config.layers > 1 else 0.0)
        self.head = nn.Linear(c, TITLE_VOCAB)

    def prefix(self, batch: dict[str, Tensor]) -> Tensor:
        """The condition's prefix vector: events -> (B, C)."""
        return self.bridge(self.encoder(batch))

    def initial_state(self, prefix: Tensor) -> Tensor:
        """The GRU's initial state from the prefix (B, C) -> (layers, B, C)."""
        b, c = prefix.shape
        return self.init_state(prefix).view(b, self.config.layers, c).transpose(0, 1).contiguous()

    def step(self, chars: Tensor, prefix: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """Logits after the characters ``chars`` (B, L): (B, L, V), and the new state."""
        x = self.drop(self.embed(chars))  # (B, L, C)
        x = torch.cat([x, prefix.unsqueeze(1).expand(-1, x.shape[1], -1)], -1)  # (B, L, 2C)
        states, state = self.rnn(x, state)  # (B, L, C), (layers, B, C)
        return self.head(self.drop(states)), state

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Next-character logits.

        Args:
            batch: The events of :func:`condition_batch` and ``chars_in`` of
                :func:`title_batch`.

        Returns:
            ``logits`` (B, L, V): at step t, the prediction of ``chars_out[:, t]``.
        """
        prefix = self.prefix(batch)  # (B, C)
        logits, _ = self.step(batch["chars_in"], prefix, self.initial_state(prefix))
        return {"logits": logits}


def title_nll(out: dict[str, Tensor], chars_out: Tensor) -> Tensor:
    """Per-title negative log-likelihood in nats: (B,), summed over characters and
    ``<eos>`` (padding, id 0, is not scored)."""
    logits = out["logits"]  # (B, L, V)
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chars_out.reshape(-1),
                          ignore_index=PAD_ID, reduction="none")
    return nll.view(chars_out.shape).sum(1)


def title_loss(out: dict[str, Tensor], chars_out: Tensor) -> dict[str, Tensor]:
    """``loss`` (mean nats per predicted symbol), ``nll`` (summed nats) and ``n_symbols``."""
    nll = title_nll(out, chars_out).sum()
    n = (chars_out != PAD_ID).sum()
    return {"loss": nll / n.clamp(min=1), "nll": nll, "n_symbols": n}


@torch.no_grad()
def title_bits(model: TitleLM, tc: TokenizedCorpus, pairs: Sequence[tuple[int, str]],
               max_events: int = 256, ids: np.ndarray | None = None, batch_size: int = 128,
               device: str | torch.device = "cpu") -> np.ndarray:
    """Cross-entropy in bits of each (tune index, title) pair under the model's condition.

    Returns:
        (N,) float64: ``-log2 p(title | condition)``, the end of the title included.
    """
    was_training = model.training
    model.eval()
    out = []
    for s in range(0, len(pairs), batch_size):
        chunk = pairs[s:s + batch_size]
        batch = condition_batch(tc, [i for i, _ in chunk], model.config.condition, max_events,
                                ids)
        batch.update(title_batch([t for _, t in chunk], model.config.max_chars))
        batch = {k: v.to(device) for k, v in batch.items()}
        out.append(title_nll(model(batch), batch["chars_out"]).double().cpu() / LN2)
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0)


# ------------------------------------------------------------------ run folders
@dataclass
class LoadedTitleLM:
    """A trained title model with what it needs to read tunes and judge its names.

    Attributes:
        model: The :class:`TitleLM` (in eval mode).
        vocab: Event vocabulary per field, as used in training.
        tokenizer_config: Tokenizer configuration used in training.
        max_events: Events per tune the encoder saw.
        known_titles: Identity keys (:func:`~folkclip.abc.titles.title_key`) of the
            training titles: a generated name with one of these is not novel.
    """

    model: TitleLM
    vocab: dict[str, list[str]]
    tokenizer_config: TokenizerConfig
    max_events: int
    known_titles: frozenset[str]


def export_title_lm(model: TitleLM, vocab: dict[str, list[str]],
                    tokenizer_config: TokenizerConfig, max_events: int,
                    known_titles: Sequence[str], out_dir: Path) -> Path:
    """Write ``title_lm.json`` and ``title_lm_weights.pt`` into ``out_dir``."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    info = {"format": FORMAT_VERSION, "title_lm": to_dict(model.config), "vocab": vocab,
            "tokenizer": tokenizer_config.to_dict(), "max_events": max_events,
            "known_titles": sorted(set(known_titles))}
    (out_dir / FILE).write_text(json.dumps(info))
    torch.save(model.state_dict(), out_dir / WEIGHTS)
    return out_dir


def title_lm_dir(path: str | Path) -> Path | None:
    """The folder holding ``title_lm.json`` for a run folder or its ``model/``, else None."""
    p = Path(path)
    for folder in (p / "model", p):
        if (folder / FILE).is_file():
            return folder
    return None


def load_title_lm(path: str | Path) -> LoadedTitleLM:
    """Load the title model exported into a run folder (or its ``model/`` folder).

    Raises:
        FolkclipError: When there is none, or its files are damaged or do not fit.
    """
    folder = title_lm_dir(path)
    if folder is None:
        raise FolkclipError(f"no title model in {str(path)!r} (expected model/{FILE}; train "
                            "one with task: title_lm)")
    where = folder / FILE
    info = read_json(where)
    require_keys(info, ("title_lm", "vocab", "tokenizer", "max_events", "known_titles"), where)
    try:
        cfg = from_dict(TitleLMConfig, info["title_lm"])
        vocab = {str(f): list(v) for f, v in info["vocab"].items()}
        tok = TokenizerConfig.from_dict(info["tokenizer"])
        max_events = int(info["max_events"])
        known = frozenset(str(k) for k in info["known_titles"])
        model = TitleLM(cfg, {f: len(v) for f, v in vocab.items()})
    except FolkclipError as err:
        raise FolkclipError(f"{where}: {err}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise FolkclipError(f"{where}: malformed ({type(err).__name__}: {err}); "
                            f"{DAMAGED_HINT}") from None
    try:
        state = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, TypeError,
            pickle.UnpicklingError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FolkclipError(f"{folder / WEIGHTS}: cannot be loaded into the model of {FILE} "
                            f"({first}); {DAMAGED_HINT}") from None
    return LoadedTitleLM(model.eval(), vocab, tok, max_events, known)
