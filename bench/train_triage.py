"""Train the triage model shipped in `rules/models/<lang>.json` from labelled CSV files.

    python bench/train_triage.py                 # both languages, from ../shared/data/labeled/
    python bench/train_triage.py --lang en --out /tmp/en.json FILE.csv [FILE.csv ...]
    python bench/train_triage.py --check         # exit 1 unless the committed files are remade

Needs scikit-learn (`pip install -e '.[train]'`); the product reads the file without it.
"Needs a response" is label == negative (`label` or `airline_sentiment` column; the VADER
tweets file counts a mean rating below 0 as negative). The fit is deterministic: the same files
give the same weights file byte for byte, so a commit can be checked by re-running this.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

import benchlib  # puts the repository on sys.path

from rules.triage_model import MODEL_DIR
from rules.triage_training import fit, read_examples, write

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
        help="retrain into a temporary file and compare it with the committed one byte for byte",
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
            with tempfile.TemporaryDirectory() as scratch:
                made = Path(scratch) / out.name
                write(doc, [p.name for p in paths], made)
                same = made.read_bytes() == out.read_bytes() if out.exists() else False
            print(f"{lang}: {out} {'is reproduced' if same else 'DIFFERS from a re-run'}")
            if not same:
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


if __name__ == "__main__":
    main()
