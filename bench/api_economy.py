"""API economy: X API calls per 1,000 new mentions, in a burst and at steady state.

    python bench/api_economy.py

Runs the real X listener against the fake X API (which enforces X's per-15-minute limits and
sends the real rate-limit headers) and counts every call. Target: ≤ 11 calls per 1,000 new
mentions in a burst (100 per page), no old item fetched again, and no 429 in steady state.
"""

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from benchlib import machine, table

from listeners.base import Batch
from listeners.x import XConfig, XListener, make_client
from sandbox.x_api import FakeXApi

BRAND = "AcmeSupport"


def fetch(source: XListener, cursor: str | None) -> Batch:
    return asyncio.run(source.fetch(cursor))


def drain(source: XListener, cursor: str | None, seen: Counter[str]) -> tuple[str | None, int]:
    """Poll until the listener has nothing more waiting; returns the cursor and polls made."""
    polls = 0
    while True:
        batch = fetch(source, cursor)
        polls += 1
        seen.update(m.external_id for m in batch.mentions)
        cursor = batch.next_cursor or cursor
        if not batch.more:
            return cursor, polls


def main() -> None:
    rows = []
    with FakeXApi(brand_username=BRAND) as x:
        config = XConfig(api_base=x.base_url, bearer_token=x.bearer_token, account=BRAND)
        source = XListener("x:mentions", config, make_client(config))
        seen: Counter[str] = Counter()
        cursor, _ = drain(source, None, seen)  # first start: account lookup + empty window

        before = len(x.requests)
        for n in range(1000):
            x.post_tweet(f"@{BRAND} burst complaint {n}", f"user{n % 300}")
        cursor, polls = drain(source, cursor, seen)
        burst_calls = len(x.requests) - before
        rows.append(("burst of 1,000", 1000, polls, burst_calls, burst_calls))

        before = len(x.requests)
        steady_new = 0
        for _ in range(50):
            for n in range(20):
                x.post_tweet(f"@{BRAND} steady mention {steady_new + n}", f"user{n}")
            steady_new += 20
            cursor, _ = drain(source, cursor, seen)
        steady_calls = len(x.requests) - before
        per_thousand = steady_calls / steady_new * 1000
        rows.append(("steady, 20 per poll", steady_new, 50, steady_calls, per_thousand))

        before = len(x.requests)
        for _ in range(20):
            cursor, _ = drain(source, cursor, seen)
        idle_calls = len(x.requests) - before
        rows.append(("idle polls", 0, 20, idle_calls, "-"))

        statuses = Counter(r.status for r in x.requests)
        last = fetch(source, cursor)
    refetched = sum(count - 1 for count in seen.values() if count > 1)
    print(f"X API economy — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    print(table(["scenario", "new mentions", "polls", "API calls", "calls / 1,000 new"], rows))
    print(f"\nitems fetched twice: {refetched}; responses by status: {dict(statuses)}")
    if last.rate:
        window = last.rate.reset_at - datetime.now(UTC)
        spacing = window / max(last.rate.remaining, 1)
        shortest = timedelta(minutes=15) / last.rate.limit
        print(
            f"mentions endpoint budget: {last.rate.limit} calls / 15 min, "
            f"{last.rate.remaining} left; the poller spaces polls "
            f"≥ {spacing.total_seconds():.1f} s now "
            f"(≥ {shortest.total_seconds():.1f} s with a full window)"
        )


if __name__ == "__main__":
    main()
