"""Backtest from the console: server time of `/rules/backtest` over N stored mentions (SQLite).

    python bench/rules_backtest.py [--mentions 5000] [--runs 3]

The shipped config's rules in force against `rules/examples.yaml` as the candidate, over the
benchmark's sample texts (English and Turkish), measured inside the process (Starlette's test
client: the store's read, two engines per mention, the template). It sets the page's cap
(web/rules_page.py MAX_REPLAY): a backtest at the cap should take a few seconds, not minutes.
"""

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import machine, sample_texts, table
from starlette.testclient import TestClient

from core.clock import FakeClock
from core.mention import Mention
from core.states import WebRole
from core.store import Decision
from service.app import BrandPulse
from service.config import load_config
from service.web_links import login_link
from web.console import build_console
from web.server import console_context

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
CANDIDATE = (Path(__file__).resolve().parents[1] / "rules" / "examples.yaml").read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        config = load_config(SHIPPED_CONFIG, {"BRANDPULSE_DATABASE_URL": url})
        app = BrandPulse(config, clock=FakeClock(now))
        mentions = [
            Mention(
                platform="x" if n % 3 else "reddit",
                external_id=str(n),
                text=text,
                created_at=now - timedelta(days=6) + timedelta(seconds=n),
                source="x:mentions",
                author_id=f"id-{n % 2000}",
                author_handle=f"customer{n % 2000}",
                author_followers=n % 5000,
                lang="en" if n % 4 else "tr",
            )
            for n, text in enumerate(sample_texts(args.mentions))
        ]
        decision = Decision(0.0, 0)
        for start in range(0, len(mentions), 1000):
            batch = mentions[start : start + 1000]
            app.store.ingest("x:mentions", batch, None, lambda _m: decision, now)
        client = TestClient(build_console(console_context(app), key="bench"))
        link = login_link(app.store, config, WebRole.VIEWER, "", "bench", now)
        client.post("/login", data={"token": link.split("token=")[1]})
        csrf = client.get("/rules").text.split('name="csrf" value="')[1].split('"')[0]
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = client.post(
                "/rules/backtest?period=7d", data={"csrf": csrf, "candidate": CANDIDATE}
            )
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text[:2000]
        app.close()
    median = statistics.median(times)
    print(machine())
    print(
        table(
            ("mentions", "runs", "median s", "mentions/s"),
            [(args.mentions, args.runs, f"{median:.2f}", f"{args.mentions / median:,.0f}")],
        )
    )


if __name__ == "__main__":
    main()
