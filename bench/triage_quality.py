"""How well does triage find the mentions that need a response? VADER alone vs BrandPulse.

    python bench/triage_quality.py ../shared/data/labeled/airline_tweets_dev.csv
    python bench/triage_quality.py FILE.csv [FILE.csv ...] --languages en,tr --group airline

Each CSV needs a text column (`text`) and a label column (`label` or `airline_sentiment`);
"needs a response" is label == negative. For each file it prints precision, recall and F1 of
VADER alone (compound <= -0.05) and of BrandPulse's default triage side by side, both confusion
tables, the 20 worst misses and the 10 worst false alarms, and mentions per second. With
`--group COLUMN` it repeats P/R/F1 per value of that column (e.g. per airline, to see whether
tuning on some brands carries over to the others). It also prints Pearson r against the human
sentiment ratings of the VADER tweets (`--ground-truth`) for VADER and for BrandPulse.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules.triage import Assessment, Triage

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "labeled"
VADER_NEGATIVE = -0.05


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    gold: bool  # needs a response (label negative)
    group: str


@dataclass(frozen=True, slots=True)
class Scores:
    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def of(cls, gold: Sequence[bool], flagged: Sequence[bool]) -> Scores:
        pairs = list(zip(gold, flagged, strict=True))
        return cls(
            tp=sum(g and f for g, f in pairs),
            fp=sum(f and not g for g, f in pairs),
            fn=sum(g and not f for g, f in pairs),
            tn=sum(not g and not f for g, f in pairs),
        )

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self, name: str) -> str:
        return (
            f"  {name:<12} P {self.precision:.3f}  R {self.recall:.3f}  F1 {self.f1:.3f}"
            f"  (flagged {self.tp + self.fp})"
        )


def read_rows(path: Path, group_column: str | None) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        label = "label" if "label" in fields else "airline_sentiment"
        if "text" not in fields or label not in fields:
            raise SystemExit(f"{path}: needs columns text and label (or airline_sentiment)")
        return [
            Row(
                r["text"],
                r[label].strip().lower() == "negative",
                r.get(group_column, "") if group_column else "",
            )
            for r in reader
        ]


def throughput(
    fns: dict[str, Callable[[str], object]], texts: Sequence[str], rounds: int = 9
) -> dict[str, float]:
    """Best-of-`rounds` mentions per second of each function.

    The functions take turns within each round, so a burst of load from other processes slows
    them alike instead of skewing the ratio.
    """
    best = dict.fromkeys(fns, math.inf)
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for text in texts:
                fn(text)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: len(texts) / seconds for name, seconds in best.items()}


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0


def reasons(assessment: Assessment) -> str:
    return ", ".join(f"{s.label} {s.points:+d}" for s in assessment.signals) or "-"


def confusion(name: str, s: Scores) -> str:
    return (
        f"  {name:<12} needs response: flagged {s.tp:>5}  missed {s.fn:>5}\n"
        f"  {'':<12} does not:      flagged {s.fp:>5}  passed {s.tn:>5}"
    )


def report_file(
    path: Path, triage: Triage, vader: SentimentIntensityAnalyzer, args: argparse.Namespace
) -> None:
    rows = read_rows(path, args.group)
    texts = [r.text for r in rows]
    gold = [r.gold for r in rows]
    compounds = [vader.polarity_scores(t)["compound"] for t in texts]
    assessments = [triage.assess(t, args.lang) for t in texts]
    vader_flags = [c <= VADER_NEGATIVE for c in compounds]
    ours_flags = [a.needs_response for a in assessments]
    v, b = Scores.of(gold, vader_flags), Scores.of(gold, ours_flags)

    print(f"\n=== {path.name}: {len(rows)} mentions, {sum(gold)} need a response (label negative)")
    print(v.line("VADER alone"))
    print(b.line("BrandPulse"))
    print("confusion:")
    print(confusion("VADER alone", v))
    print(confusion("BrandPulse", b))
    languages: dict[str, int] = {}
    for a in assessments:
        languages[a.language] = languages.get(a.language, 0) + 1
    print("languages assessed:", ", ".join(f"{k} {n}" for k, n in sorted(languages.items())))

    if args.group:
        print(f"per {args.group}:")
        for group in sorted({r.group for r in rows}):
            idx = [i for i, r in enumerate(rows) if r.group == group]
            g = [gold[i] for i in idx]
            vs = Scores.of(g, [vader_flags[i] for i in idx])
            bs = Scores.of(g, [ours_flags[i] for i in idx])
            print(
                f"  {group:<14} n {len(idx):>5}  VADER F1 {vs.f1:.3f}  |  BrandPulse "
                f"P {bs.precision:.3f} R {bs.recall:.3f} F1 {bs.f1:.3f}"
            )

    misses = sorted(
        (i for i in range(len(rows)) if gold[i] and not ours_flags[i]),
        key=lambda i: assessments[i].score,
    )
    print(f"20 worst misses (need a response, lowest score first) of {len(misses)}:")
    for i in misses[:20]:
        print(f"  {assessments[i].score:>3} | {_short(texts[i])} | {reasons(assessments[i])}")
    alarms = sorted(
        (i for i in range(len(rows)) if ours_flags[i] and not gold[i]),
        key=lambda i: -assessments[i].score,
    )
    print(f"10 worst false alarms (highest score first) of {len(alarms)}:")
    for i in alarms[:10]:
        print(f"  {assessments[i].score:>3} | {_short(texts[i])} | {reasons(assessments[i])}")

    if not args.no_speed:
        sample = texts[: args.speed_sample]
        rates = throughput(
            {"vader": vader.polarity_scores, "ours": lambda t: triage.assess(t, args.lang)}, sample
        )
        vader_rate, ours_rate = rates["vader"], rates["ours"]
        print(
            f"throughput on {len(sample)} mentions: VADER alone {vader_rate:,.0f}/s, "
            f"BrandPulse {ours_rate:,.0f}/s, ratio {ours_rate / vader_rate:.2f}"
        )


def _short(text: str, width: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def report_ground_truth(
    path: Path, triage: Triage, vader: SentimentIntensityAnalyzer, lang: str | None
) -> None:
    ratings, texts = [], []
    with path.open(encoding="utf-8", newline="") as handle:
        for line in handle:
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) >= 3:
                ratings.append(float(parts[1]))
                texts.append(parts[2])
    r_vader = pearson([vader.polarity_scores(t)["compound"] for t in texts], ratings)
    r_ours = pearson([triage.assess(t, lang).sentiment for t in texts], ratings)
    print(f"\n=== {path.name}: Pearson r against {len(texts)} human ratings")
    print(f"  VADER alone {r_vader:.3f}   BrandPulse sentiment {r_ours:.3f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="CSV files with text and label")
    parser.add_argument("--languages", default="en", help="languages to configure, e.g. en,tr")
    parser.add_argument(
        "--lang", default=None, help="language to pass to assess() (default: let triage detect)"
    )
    parser.add_argument("--group", default=None, help="column to break results down by")
    parser.add_argument(
        "--ground-truth", type=Path, default=SHARED / "vader_tweets_GroundTruth.txt"
    )
    parser.add_argument(
        "--speed-sample", type=int, default=3000, help="mentions timed for throughput"
    )
    parser.add_argument("--no-speed", action="store_true", help="skip the throughput timing")
    args = parser.parse_args(argv)

    triage = Triage.default(tuple(args.languages.split(",")))
    vader = SentimentIntensityAnalyzer()
    for path in args.paths:
        report_file(path, triage, vader, args)
    if args.ground_truth.exists():
        report_ground_truth(args.ground_truth, triage, vader, args.lang)
    else:
        print(f"\n(no {args.ground_truth}: Pearson r skipped)")


if __name__ == "__main__":
    main()
