"""Pipeline throughput: parse → save → triage → outbox, against VADER alone on the same texts.

    python bench/pipeline_throughput.py [--counts 10000,100000] [--backends sqlite,postgresql]
                                        [--statements]

Mentions arrive as X API v2 tweet objects and go through the real listener parsing, the real
store (one transaction per page of 100, bulk inserts) and the shipped config.yaml's rules with
the default triage. Target: ≥ 50 % of VADER-alone throughput end to end on SQLite.
"Parse + triage" is the same run without a database: the ceiling any store work leaves.
--statements adds the SQL statements a page sends, by kind (SQLAlchemy's before_cursor_execute;
the pool's pre-ping and the driver's COMMIT are not statements it sees).
"""

import argparse
import contextlib
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import REPO, machine, sample_texts, table

import psycopg
from sqlalchemy import event
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from core.store import Store
from listeners.base import Batch
from listeners.x import XConfig, XListener
from rules.engine import Engine
from rules.triage import Triage
from service.config import load_config
from service.pipeline import Pipeline

PAGE = 100
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def tweets(texts: list[str]) -> list[dict]:
    start = datetime.now(UTC) - timedelta(minutes=30)
    return [
        {
            "id": str(1_900_000_000_000_000_000 + n),
            "text": text,
            "author_id": str(10_000 + n % 5000),
            "created_at": (start + timedelta(milliseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "conversation_id": str(1_900_000_000_000_000_000 + n),
            "lang": "en",
        }
        for n, text in enumerate(texts)
    ]


def users() -> dict[str, dict]:
    return {
        str(10_000 + n): {
            "id": str(10_000 + n),
            "username": f"user{n}",
            "public_metrics": {"followers_count": n * 37},
        }
        for n in range(5000)
    }


def vader_rate(texts: list[str]) -> float:
    analyzer = SentimentIntensityAnalyzer()
    started = time.perf_counter()
    for text in texts:
        analyzer.polarity_scores(text)
    return len(texts) / (time.perf_counter() - started)


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    # A database of this run's own: two runs at once (helpers, CI) would drop each other's.
    name = f"brandpulse_bench_pipeline_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def triage_rate(payloads: list[dict], people: dict[str, dict]) -> float:
    config = load_config(REPO / "config.yaml", {})
    engine = Engine(config, Triage.default(config.brand.languages))
    listener = XListener("x:mentions", XConfig(), client=None)  # type: ignore[arg-type]
    started = time.perf_counter()
    for tweet in payloads:
        engine.evaluate(listener.mention(tweet, people), author_recent_count=0)
    return len(payloads) / (time.perf_counter() - started)


def pipeline_rate(
    url: str, payloads: list[dict], people: dict[str, dict], statements: Counter[str] | None = None
) -> tuple[float, int]:
    """Mentions a second through the pipeline, and the actions queued; `statements` (when
    given) counts the timed part's SQL statements by their first word."""
    config = load_config(REPO / "config.yaml", {"BRANDPULSE_DATABASE_URL": url})
    store = Store.open(url)
    if statements is not None:

        @event.listens_for(store.engine, "before_cursor_execute")
        def _count(_conn, _cursor, sql: str, _params, _context, many: bool) -> None:  # type: ignore[no-untyped-def]
            statements[sql.split(None, 1)[0] + (" (executemany)" if many else "")] += 1

    pipeline = Pipeline(store, Engine(config, Triage.default(config.brand.languages)))
    listener = XListener("x:mentions", XConfig(), client=None)  # type: ignore[arg-type]
    started = time.perf_counter()
    for offset in range(0, len(payloads), PAGE):
        page = payloads[offset : offset + PAGE]
        mentions = [listener.mention(tweet, people) for tweet in page]  # the parse step
        batch = Batch(mentions=mentions, next_cursor=f'{{"since_id": "{page[-1]["id"]}"}}')
        pipeline.ingest("x:mentions", batch, datetime.now(UTC))
    elapsed = time.perf_counter() - started
    queued = len(store.outbox())
    store.close()
    return len(payloads) / elapsed, queued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--statements", action="store_true", help="SQL statements a page sends")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    texts = sample_texts(max(counts))
    people = users()
    print(f"Pipeline throughput — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    rows = []
    sent: list[tuple[str, int, str]] = []
    for count in counts:
        vader = vader_rate(texts[:count])
        rows.append(("VADER alone", "-", count, vader, "100%", "-"))
        triage = triage_rate(tweets(texts[:count]), people)
        rows.append(("parse + triage", "-", count, triage, f"{triage / vader:.0%}", "-"))
        for backend in args.backends.split(","):
            statements: Counter[str] | None = Counter() if args.statements else None
            with database(backend) as url:
                rate, queued = pipeline_rate(url, tweets(texts[:count]), people, statements)
            rows.append(("pipeline", backend, count, rate, f"{rate / vader:.0%}", queued))
            pages = count / PAGE
            for kind, n in sorted((statements or {}).items()):
                sent.append((backend, count, f"{kind}: {n / pages:.2f}"))
    print(table(["what", "database", "mentions", "mentions/s", "vs VADER", "alerts queued"], rows))
    if sent:
        print("\nSQL statements a page of 100 sends\n")
        print(table(["database", "mentions", "statement: per page"], sent))


if __name__ == "__main__":
    main()
