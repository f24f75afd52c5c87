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


CALIBRATION = Calibration(intercept=-12.0, w_score=14.0, w_margin=8.0, w_log_symbols=1.0,
                          threshold=0.5)
"""Provisional hand-set weights (a normalised score of about 0.65 on a 2-bar query passes);
replaced by the fitted values of ``benchmarks/identify.py --calibrate``."""
