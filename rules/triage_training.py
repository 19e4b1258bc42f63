"""Fitting the triage model (`rules/triage_model.py`) from labelled texts.

Shared by `bench/train_triage.py` (the shipped models, from ../shared/data/labeled/) and
`main.py triage train` (a brand's own model, from its agents' decisions in the database).
scikit-learn and scipy are imported only inside `fit`: they come with the `train` extra, and the
running service never needs them. The fit is deterministic: the same examples in the same order
give the same weights file byte for byte.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import math
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rules.triage_model import FORMAT, TriageModel, features

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

BITS = 18
# Inverse regularisation, picked on the training files only
# (0.5, 2, 8, 16, 32 tried on a 20 % fold of tweeteval + VADER tweets: F1 0.58, 0.62, 0.65, 0.65,
# 0.65; flat from 8 on).
C = 8.0
# Shifts of the model's log-odds tried by `bias_shift` (0 first: a tie keeps the plain fit).
SHIFTS = (0.0, 0.25, -0.25, 0.5, -0.5, 0.75, -0.75, 1.0, -1.0)
FOLDS = 5
# How far a re-run may land from a committed weights file and still be the same model. With the
# pinned toolchain the solver's last digits still move with the CPU: two machines of this
# workplace gave weights up to 0.0017 apart (5 of 32,767 quantisation steps) and biases 0.00002
# apart. A changed training file or setting moves weights by far more than this.
REPRODUCED_WITHIN = 0.01
INSTALL_HINT = "pip install -e '.[train]'  (or: pip install 'scikit-learn>=1.5,<2')"


class TrainingUnavailable(RuntimeError):
    """scikit-learn is not installed: the message says how to install it."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    negative: bool  # needs a response


def read_examples(path: Path) -> list[Example]:
    """Texts and labels of one labelled file (CSV with text + label, or VADER's TSV).

    ValueError names the file when it has neither shape.
    """
    if path.suffix == ".txt":
        examples = []
        with path.open(encoding="utf-8", newline="") as handle:
            for line in handle:
                parts = line.rstrip("\r\n").split("\t")
                if len(parts) >= 3:
                    examples.append(Example(parts[2], float(parts[1]) < 0))
        return examples
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        label = "label" if "label" in fields else "airline_sentiment"
        if "text" not in fields or label not in fields:
            raise ValueError(f"{path}: needs columns text and label (or airline_sentiment)")
        return [Example(r["text"], r[label].strip().lower() == "negative") for r in reader]


def fit(
    examples: Sequence[Example], bits: int = BITS, c: float = C, lang: str | None = None
) -> dict:
    """The weights file's content (a dict ready for JSON) for these examples.

    With `lang`, the bias is shifted by what `bias_shift` picks on these examples (cross-
    validated, so the shift is chosen on the training texts only); without it, unshifted.
    """
    try:
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression  # noqa: F401 (missing: the hint)
    except ImportError as exc:
        raise TrainingUnavailable(
            f"training the triage model needs scikit-learn ({exc.name} is not installed): "
            + INSTALL_HINT
        ) from None

    rows, cols, values = [], [], []
    for row, example in enumerate(examples):
        found = features(example.text, bits)
        weight = 1 / len(found.buckets) ** 0.5 if found.buckets else 0.0
        for bucket in found.buckets:
            rows.append(row)
            cols.append(bucket)
            values.append(weight)
    matrix = csr_matrix((values, (rows, cols)), shape=(len(examples), 1 << bits))
    matrix.sum_duplicates()
    labels = [int(e.negative) for e in examples]
    model = _classifier(c).fit(matrix, labels)
    shift = bias_shift(examples, matrix, labels, c, lang) if lang else 0.0
    weights = model.coef_[0]
    top = float(abs(weights).max()) or 1.0
    scale = top / 32767
    quantised = array("h", (round(w / scale) for w in weights))
    return {
        "format": FORMAT,
        "bits": bits,
        "bias": round(float(model.intercept_[0]) + shift, 6),
        "bias_shift": shift,
        "scale": float(f"{scale:.9g}"),
        "examples": len(examples),
        "negative": sum(labels),
        "weights": base64.b64encode(zlib.compress(quantised.tobytes(), 9)).decode("ascii"),
    }


def _classifier(c: float) -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression

    # Balanced classes: the bias then says "no evidence either way" instead of echoing the share
    # of complaints in the training files, so a text of unknown words scores about 0.5.
    return LogisticRegression(
        C=c, solver="liblinear", class_weight="balanced", random_state=0, max_iter=1000
    )


def bias_shift(
    examples: Sequence[Example], matrix: object, labels: list[int], c: float, lang: str
) -> float:
    """The shift of the model's log-odds that makes the combined triage (lexicon + model, as
    `rules/triage.py` adds them) best on held-out folds of the training texts (F1).

    Balanced classes put the model's 0.5 where either kind is as likely, which is not where the
    lexicon's points need it: the lexicon misses more complaints than it raises false alarms,
    so the model's best boundary beside it is elsewhere. Chosen by cross-validation on the
    training texts only, never on a file the model is measured on.
    """
    from sklearn.model_selection import StratifiedKFold

    from rules.lexicon import load_lexicons
    from rules.triage import Triage, default_paths

    lexicon = load_lexicons(default_paths((lang,)))[lang]
    triage = Triage({lang: lexicon}, (lang,), models={lang: None})
    base, asked = [], []
    for example in examples:
        found = triage.assess(example.text, lang)
        base.append(sum(s.points for s in found.signals))
        asked.append(any(s.category == "intent" for s in found.signals))
    logits = [0.0] * len(examples)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(examples, labels)
    for train, held in folds:
        part = _classifier(c).fit(matrix[train], [labels[i] for i in train])
        for i, value in zip(held, part.decision_function(matrix[held]), strict=True):
            logits[i] = float(value)

    def f1(shift: float) -> float:
        tp = fp = fn = 0
        for logit, points, floor, gold in zip(logits, base, asked, labels, strict=True):
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, logit + shift))))
            model = round(lexicon.model_points * (2 * p - 1))
            flagged = points + (max(0, model) if floor else model) >= lexicon.threshold
            tp += flagged and gold
            fp += flagged and not gold
            fn += gold and not flagged
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    return max(SHIFTS, key=f1)  # the first of equals: SHIFTS opens with 0


def model_difference(committed: dict, remade: dict) -> str | None:
    """None when `remade` is the `committed` weights file up to the solver's last digits
    (`REPRODUCED_WITHIN`, on the bias and on every weight); otherwise what differs."""
    close = {"bias", "scale", "weights"}
    for key in sorted((committed.keys() | remade.keys()) - close):
        if committed.get(key) != remade.get(key):
            return f"{key}: {committed.get(key)!r} committed, {remade.get(key)!r} re-run"
    bias_apart = abs(committed["bias"] - remade["bias"])
    if bias_apart > REPRODUCED_WITHIN:
        return f"bias {committed['bias']} committed, {remade['bias']} re-run"
    old, new = _weights(committed), _weights(remade)
    apart = max(map(abs, map(float.__sub__, old, new)), default=0.0)
    if apart > REPRODUCED_WITHIN:
        return f"weights up to {apart:.4f} apart (more than {REPRODUCED_WITHIN})"
    return None


def to_model(doc: dict) -> TriageModel:
    return TriageModel(doc["bits"], doc["bias"], _weights(doc))


def _weights(doc: dict) -> array:
    raw = array("h", zlib.decompress(base64.b64decode(doc["weights"])))
    return array("f", (v * doc["scale"] for v in raw))


def write(doc: dict, sources: Iterable[str], out: Path) -> str:
    """Write the weights file; returns its SHA-256."""
    body = {**doc, "trained_on": list(sources)}
    text = json.dumps(body, indent=1, sort_keys=True) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()
