"""From an alignment score to a confidence, and the threshold between "this is tune X" and
"no known tune".

The confidence is a logistic function of three features of a query's best match: its
normalised alignment score (1.0: found whole and unchanged), its margin over the best
match of another identity group, and the log of the query's number of intervals (a short
query reaches a given score by chance more easily). The weights and the threshold are
fitted by ``python benchmarks/identify.py --calibrate`` on held-out queries: typed
fragments of indexed tunes (in the collection) and fragments of tunes whose whole identity
group was left out of the index (out of the collection). The values below, and how they
were set, are in :data:`CALIBRATION`'s comment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Calibration:
    """Logistic weights of the confidence and the confidence an identification needs."""

    intercept: float
    w_score: float
    w_margin: float
    w_log_symbols: float
    threshold: float

    def confidence(self, score: float, margin: float, n_symbols: int) -> float:
        """P(the match is right), from the normalised score, the margin over the best
        other group and the number of query intervals."""
        z = (self.intercept + self.w_score * score + self.w_margin * margin
             + self.w_log_symbols * math.log(max(n_symbols, 1)))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


CALIBRATION = Calibration(intercept=-12.601, w_score=13.679, w_margin=11.296,
                          w_log_symbols=0.030, threshold=0.888)
"""Fitted by ``python benchmarks/identify.py --index runs/index-default --calibrate
--queries 400`` on the ``make demo`` model's index of ``default`` (4,246 tunes), with the
alignment's merges and the larger candidate set of short queries: 1,590 calibration
queries (typed 2- and 4-bar fragments with 1-2 edits; 796 of them from the 8% of identity
groups held out for calibration, never the groups the benchmark measures on),
scikit-learn ``LogisticRegression(C=100)`` on (score, margin, log intervals) with "top-1
right" as the label. The threshold is the confidence that 3% of the out-of-collection
calibration queries reach (the goal is <= 5%); there 47.5% of the right in-collection
answers pass it (4%: 54%, 5%: 60%). The measurement on the other held-out groups is in
the README's "Name that tune" table."""

AUDIO_CALIBRATION = Calibration(intercept=-0.367, w_score=2.571, w_margin=19.014,
                                w_log_symbols=-0.814, threshold=0.889)
"""Fitted by ``python benchmarks/identify_audio.py runs/index-default --calibrate --extracts
150 --outside 150`` on the same index: 150 rendered 12-s extracts of in-collection tunes and
150 of the calibration groups (left out of the ranking), each clean, with reverberation and
20 dB of noise, and with 10 dB (900 queries, all with notes), the same logistic fit on the
same three features, with the reverberation-subtracting tracker (``folkclip.audio.dereverb``).
A recording's best match scores lower than a typed fragment's (tracking errors), and a wrong
tune's score rises with the recording's length, so the margin over the next group carries
most of the weight. The threshold lets 3.1% of those out-of-collection queries through, and
48.9% of the right in-collection answers (4%: 51.8%, 5%: 54.4%)."""

CALIBRATIONS: dict[str, Calibration] = {"symbolic": CALIBRATION, "audio": AUDIO_CALIBRATION}
"""The calibration of each query kind (:attr:`folkclip.identify.notes.QueryNotes.kind`)."""
