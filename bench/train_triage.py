"""Train the triage model shipped in `rules/models/<lang>.json` from labelled CSV files.

    python bench/train_triage.py                 # both languages, from ../shared/data/labeled/
    python bench/train_triage.py --lang en --out /tmp/en.json FILE.csv [FILE.csv ...]
    python bench/train_triage.py --check         # exit 1 unless a re-run remakes the shipped files

Needs scikit-learn (`pip install -e '.[train]'`); the product reads the file without it.
"Needs a response" is label == negative (`label` or `airline_sentiment` column; the VADER
tweets file counts a mean rating below 0 as negative). The fit is deterministic: the same files
give the same weights file byte for byte on one machine, and weights a few last digits apart on
another CPU, so a commit can be checked by re-running this.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import benchlib  # puts the repository on sys.path

from rules.triage_model import MODEL_DIR
from rules.triage_training import REPRODUCED_WITHIN, fit, model_difference, read_examples, write

LABELED = benchlib.REPO / ".." / "shared" / "data" / "labeled"

# What each shipped model learns from (the held-out files of the data README are not here).
SHIPPED = {
    "en": [
        "airline_tweets_dev.csv",
        "tweeteval_sentiment_given.csv",
        "vader_tweets_GroundTruth.txt",
    ],
    "tr": [
        "turkish/tweets_aydin2019_binary.csv",
        "turkish/emotion_tweets_guven2019.csv",
        "turkish/eticaret_reviews.csv",
        "turkish/trsav1_sample3k.csv",
        "turkish/sikayetvar_municipal_complaints.csv",
        "turkish/tweets_kulcu2015.csv",
    ],
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="labelled files (default: SHIPPED)")
    parser.add_argument("--lang", choices=sorted(SHIPPED), help="language (default: all)")
    parser.add_argument("--out", type=Path, help="weights file (default rules/models/<lang>.json)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="retrain into a temporary file and compare it with the committed one (byte for byte,"
        " or weight by weight up to the solver's last digits)",
    )
    args = parser.parse_args(argv)
    if args.paths and not args.lang:
        parser.error("--lang is required with explicit files")
    stale = []
    languages = [args.lang] if args.lang else sorted(SHIPPED)
    for lang in languages:
        paths = args.paths or [LABELED / name for name in SHIPPED[lang]]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise SystemExit(f"missing training file(s): {', '.join(missing)}")
        try:
            examples = [e for path in paths for e in read_examples(path)]
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        doc = fit(examples, lang=lang)
        out = args.out or MODEL_DIR / f"{lang}.json"
        if args.check:
            verdict = check(doc, [p.name for p in paths], out)
            print(f"{lang}: {out} {verdict}")
            if verdict.startswith("DIFFERS"):
                stale.append(str(out))
            continue
        digest = write(doc, [p.name for p in paths], out)
        print(
            f"{lang}: {len(examples)} examples ({doc['negative']} negative, bias shift "
            f"{doc['bias_shift']:+.2f}) -> {out} ({out.stat().st_size / 1024:.0f} KiB, "
            f"sha256 {digest[:16]})"
        )
    if stale:
        raise SystemExit(f"not reproduced: {', '.join(stale)}")


def check(doc: dict, sources: list[str], committed: Path) -> str:
    """How a re-run's `doc` compares with the committed file: "DIFFERS …" unless it is the same
    model, byte for byte or up to the solver's last digits (which move with the CPU)."""
    if not committed.exists():
        return "DIFFERS: there is no committed file"
    with tempfile.TemporaryDirectory() as scratch:
        made = Path(scratch) / committed.name
        write(doc, sources, made)
        if made.read_bytes() == committed.read_bytes():
            return "is reproduced byte for byte"
        remade = json.loads(made.read_text(encoding="utf-8"))
    difference = model_difference(json.loads(committed.read_text(encoding="utf-8")), remade)
    if difference:
        return f"DIFFERS from a re-run: {difference}"
    return f"is reproduced within {REPRODUCED_WITHIN} a weight (the solver's last digits moved)"


if __name__ == "__main__":
    main()
