"""How triage's points become what staff read: the learned model's points as named phrases and
the rest, and the calibration that keeps a sum below 100 while the reasons still add up to it.
"""

import math
from operator import attrgetter

from rules.lexicon import Lexicon, Signal, shared_signal
from rules.triage_model import ModelScore

# sum(map(attrgetter)) runs in C; a generator over the signals costs a frame per call.
points_of = attrgetter("points")


# A phrase of the model is named only if it shows at least this many points once calibrated:
# `"a" +1` tells staff nothing, and its point stays with the rest (`model 98% +7`).
MIN_NAMED_SHARE = 2


def model_signals(
    found: ModelScore, lexicon: Lexicon, floor: int | None, others: int = 0
) -> list[Signal]:
    """The model's points as reasons: its strongest phrases for this text, each with its share
    (`"down" +18`), and what the rest of the text adds (`model 91% +12`).

    `floor` bounds what it may take away: a question to the brand is not less urgent for being
    polite, and politeness is what the model, trained on negativity, would hold against it.
    `others` are the points of the text's other reasons, which the calibration scales with
    these (`calibrated`).
    """
    points = round(lexicon.model_points * (2 * found.probability - 1))
    if floor is not None:
        points = max(floor, points)
    if not points:
        return []
    factor = calibration_factor(others + points, lexicon.calibration_knee)
    signals = []
    left = points
    evidence = found.evidence
    for phrase, logit in found.contributions:
        share = round(points * abs(logit) / evidence) if evidence else 0
        if abs(round(share * factor)) >= MIN_NAMED_SHARE:
            signals.append(shared_signal(f'"{phrase}"', "model", share))
            left -= share
    if left:
        signals.append(shared_signal(f"model {found.probability:.0%}", "model", left))
    return signals


def calibrated(signals: list[Signal], knee: int) -> list[Signal]:
    """Signals whose sum stays below 100 so urgency can order a queue.

    Up to `knee` points add up as they are; beyond it the total approaches 100 the way a charge
    fills (100 - (100 - knee) * e^-excess), and every signal is scaled by the same factor, so the
    reasons still add up to the score. A sum of 100 alone no longer pins the score at 100.
    """
    factor = calibration_factor(sum(map(points_of, signals)), knee)
    if factor == 1.0:
        return signals
    return [shared_signal(s.label, s.category, round(s.points * factor)) for s in signals]


def calibration_factor(total: int, knee: int) -> float:
    """What `calibrated` multiplies every signal by when they sum to `total`."""
    if total <= knee or knee >= 100:
        return 1.0
    room = 100 - knee
    return (knee + room * (1 - math.exp(-(total - knee) / room))) / total
