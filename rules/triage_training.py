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
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rules.triage_model import FORMAT, TriageModel, features

BITS = 18
# Inverse regularisation, picked on the training files only
# (0.5, 2, 8, 16, 32 tried on a 20 % fold of tweeteval + VADER tweets: F1 0.58, 0.62, 0.65, 0.65,
# 0.65; flat from 8 on).
C = 8.0
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


def fit(examples: Sequence[Example], bits: int = BITS, c: float = C) -> dict:
    """The weights file's content (a dict ready for JSON) for these examples."""
    try:
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression
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
    # Balanced classes: the bias then says "no evidence either way" instead of echoing the share
    # of complaints in the training files, so a text of unknown words scores about 0.5.
    model = LogisticRegression(
        C=c, solver="liblinear", class_weight="balanced", random_state=0, max_iter=1000
    )
    model.fit(matrix, labels)
    weights = model.coef_[0]
    top = float(abs(weights).max()) or 1.0
    scale = top / 32767
    quantised = array("h", (round(w / scale) for w in weights))
    return {
        "format": FORMAT,
        "bits": bits,
        "bias": round(float(model.intercept_[0]), 6),
        "scale": float(f"{scale:.9g}"),
        "examples": len(examples),
        "negative": sum(labels),
        "weights": base64.b64encode(zlib.compress(quantised.tobytes(), 9)).decode("ascii"),
    }


def to_model(doc: dict) -> TriageModel:
    raw = array("h", zlib.decompress(base64.b64decode(doc["weights"])))
    return TriageModel(doc["bits"], doc["bias"], array("f", (v * doc["scale"] for v in raw)))


def write(doc: dict, sources: Iterable[str], out: Path) -> str:
    """Write the weights file; returns its SHA-256."""
    body = {**doc, "trained_on": list(sources)}
    text = json.dumps(body, indent=1, sort_keys=True) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()
