"""Shared bits of the benchmarks: repo on sys.path, sample texts, percentiles, tables.

Benchmarks print figures; they assert nothing. Run each as `python bench/<name>.py`.
"""

import csv
import os
import platform
import random
import sys
from collections.abc import Sequence
from typing import Any
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
AIRLINE_CSV = REPO / ".." / "shared" / "data" / "labeled" / "airline_tweets_dev.csv"

# Used when ../shared/data is absent: short support-style texts of every mood.
FALLBACK_TEXTS = [
    "@{brand} my order arrived broken and nobody answers. I want a refund!",
    "@{brand} thanks, the new app update is great",
    "@{brand} do you ship to Norway?",
    "@{brand} charged twice for the same subscription, on hold for 2 hours",
    "@{brand} flight cancelled again, third time this month",
    "@{brand} picked up my parcel at the store today",
    "@{brand} customer service was rude and unhelpful, cancelling my account",
    "@{brand} love the new colours!",
]


def sample_texts(count: int, brand: str = "AcmeSupport", seed: int = 7) -> list[str]:
    """`count` real tweets (the airline set, when ../shared/data is there) addressed to `brand`."""
    texts: list[str] = []
    if AIRLINE_CSV.exists():
        with AIRLINE_CSV.open(encoding="utf-8", newline="") as handle:
            texts = [row["text"] for row in csv.DictReader(handle)]
    else:
        print(f"note: {AIRLINE_CSV} not found; using built-in sample texts", file=sys.stderr)
        texts = [t.format(brand=brand) for t in FALLBACK_TEXTS]
    rng = random.Random(seed)
    return [f"@{brand} {rng.choice(texts)}" for _ in range(count)]


def service_env(x: Any, telegram: Any, database_url: str, **extra: str) -> dict[str, str]:
    """The environment that points `main.py run` at the sandbox fakes (and a database)."""
    return {
        **os.environ,
        "X_API_BASE": x.base_url,
        "X_BEARER_TOKEN": x.bearer_token,
        "X_ACCOUNT": "AcmeSupport",
        "TELEGRAM_API_BASE": telegram.base_url,
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_ALERT_CHAT_ID": "-1001",
        "BRANDPULSE_DATABASE_URL": database_url,
        **extra,
    }


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"
