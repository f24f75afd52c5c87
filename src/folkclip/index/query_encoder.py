"""Embedding one query at a time, as a server does: the towers' forward without set-up.

:class:`QueryEncoder` embeds one tune (its padded event ids) or a few titles per call in
``torch.inference_mode`` with the model kept in eval mode, and the model's vocabulary
look-up built once. With ``onnxruntime`` installed it exports each tower to ONNX once
(in memory) and runs it with ONNX Runtime, after checking on a probe input that the two
agree within :data:`ONNX_TOLERANCE`; a tower that cannot be exported or disagrees stays on
torch. Measured for the default GRU towers (one sequence of 200 events, one thread):
ONNX Runtime's GRU step is 5-12x faster than torch's (``benchmarks/serve_load.py``).

One sequence needs no padding, so the export traces the GRU stack unpacked
(:func:`_one_sequence`): for a single full-length sequence packing is the identity, and
the probe check compares against the packed torch path.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

BACKENDS = ("auto", "torch", "onnx")
# Largest |ONNX - torch| allowed on a probe embedding (unit vectors, float32 kernels that
# sum in another order agree to about 1e-6).
ONNX_TOLERANCE = 1e-4
_PROBE_EVENTS = 48  # length of the probe tune used for the export and the check


class QueryEncoder:
    """The towers of a :class:`~folkclip.export.FolkclipModel` for single queries.

    Args:
        fm: The exported model.
        backend: ``torch``, ``onnx`` (ONNX Runtime where a tower exports and agrees) or
            ``auto`` (``onnx`` when ``onnxruntime`` can be imported).

    Attributes:
        backends: The backend each tower runs on, ``{"tune": ..., "title": ...}``.
    """

    def __init__(self, fm: Any, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.model = fm.model.eval()
        self.inputs = tuple(self.model.melody_inputs)
        self._tune_session = self._title_session = None
        if backend != "torch" and _have_onnxruntime():
            self._tune_session = _export_checked(self.model, "encode_tunes",
                                                 self._probe_tune())
            self._title_session = _export_checked(self.model, "encode_titles",
                                                  self.model.tokenize_titles(["the probe"]))
        self.backends = {"tune": "onnx" if self._tune_session else "torch",
                         "title": "onnx" if self._title_session else "torch"}

    def _probe_tune(self) -> dict[str, torch.Tensor]:
        sizes = self.model.vocab_sizes
        gen = torch.Generator().manual_seed(0)
        tokens = torch.stack([torch.randint(2, max(3, sizes[f]), (_PROBE_EVENTS,),
                                            generator=gen) for f in sizes], -1)[None]
        out = {"tokens": tokens, "mask": torch.ones(1, _PROBE_EVENTS, dtype=torch.bool),
               "header_mask": torch.zeros(1, _PROBE_EVENTS, dtype=torch.bool)}
        return {k: out[k] for k in self.inputs if k in out}

    def tune_vector(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """(D,) L2-normalised embedding of one tune, from :func:`~folkclip.data.batch.tune_batch`
        of a single tune (``tokens`` (1, T, F), ``mask`` (1, T), ...)."""
        batch = {k: batch[k] for k in self.inputs}
        if self._tune_session is not None:
            return _run(self._tune_session, batch)[0]
        with torch.inference_mode():
            return self.model.encode_tunes(batch)[0].float().numpy()

    def title_vectors(self, titles: list[str]) -> np.ndarray:
        """(N, D) L2-normalised title embeddings (ONNX Runtime for a single title)."""
        if not titles:
            return np.zeros((0, self.model.config.embed_dim), np.float32)
        if len(titles) == 1 and self._title_session is not None:
            return _run(self._title_session, self.model.tokenize_titles(titles))
        with torch.inference_mode():
            return self.model.encode_titles(self.model.tokenize_titles(titles)).float().numpy()


def _have_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _run(session: Any, batch: dict[str, torch.Tensor]) -> np.ndarray:
    feed = {i.name: batch[i.name].numpy() for i in session.get_inputs()}
    return session.run(None, feed)[0]


class _Tower(torch.nn.Module):
    """One tower of the model as a module with positional tensor inputs (for the export)."""

    def __init__(self, model: torch.nn.Module, method: str, names: list[str]) -> None:
        super().__init__()
        self.model, self.method, self.names = model, method, names

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.method)(dict(zip(self.names, xs)))  # (1, D)


def _export_checked(model: torch.nn.Module, method: str, probe: dict[str, torch.Tensor]
                    ) -> Any:
    """An ONNX Runtime session of ``model.method`` (one query, any length), or ``None`` when
    the export fails or its output on ``probe`` differs from torch's by more than the
    tolerance."""
    import onnxruntime as ort

    names = sorted(probe)
    with torch.inference_mode():
        want = getattr(model, method)(probe).float().numpy()  # (1, D), the packed torch path
    buf = io.BytesIO()
    try:
        with _one_sequence(), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # eval() on the wrapper: the export restores the wrapper's own mode afterwards,
            # and a wrapper left in training mode would put the model in training mode too
            torch.onnx.export(_Tower(model, method, names).eval(),
                              tuple(probe[n] for n in names), buf, dynamo=False,
                              input_names=names, output_names=["embedding"],
                              dynamic_axes={n: {1: "length"} for n in names})
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        session = ort.InferenceSession(buf.getvalue(), opts,
                                       providers=["CPUExecutionProvider"])
        got = _run(session, probe)
    except Exception:  # noqa: BLE001 - any export failure keeps the tower on torch
        return None
    finally:
        model.eval()
    return session if np.abs(got - want).max() <= ONNX_TOLERANCE else None


@contextlib.contextmanager
def _one_sequence() -> Iterator[None]:
    """Trace :class:`~folkclip.models.layers.BiGru` without packing (one unpadded sequence)."""
    from folkclip.models import layers

    def forward(self: Any, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h_n = None
        for i, gru in enumerate(self.layers):
            if i:
                x = self.drop(x)
            x, h_n = gru(x)  # (1, T, C), (2, 1, C/2)
        return x, torch.cat([h_n[0], h_n[1]], dim=-1)

    saved = layers.BiGru.forward
    layers.BiGru.forward = forward
    try:
        yield
    finally:
        layers.BiGru.forward = saved
