"""Web console: server time of the `/queue` first page with 10,000 open mentions on SQLite.

    python bench/web.py [--mentions 10000] [--runs 30]

The database holds what a storm leaves: every mention open, a tenth with an alert message of
its own and the rest counted in 50 group alerts (so the page joins each row to its group). The
time is measured inside the process (Starlette's test client: routing, session, the store's
query and count, the template), without a network. Target: ≤ 150 ms. The database's size on
disk is printed with it.
"""

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import machine, percentile, sample_texts, table

from core.clock import FakeClock
from core.models import Mention
from core.states import WebRole
from core.store import Decision, InboxFilter, PlannedAction, Store
from service.app import BrandPulse
from service.config import load_config
from service.web_links import login_link
from web.console import build_console
from web.server import console_context

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
GROUPS = 50
PAGES = ("/queue", "/queue?page=100", "/queue?breached=1", "/queue?platform=reddit&lang=tr")
PAGES += ("/queue.json",)


def seed(store: Store, count: int, now: datetime) -> None:
    """`count` triaged mentions, each with an alert action, delivered as a storm would be."""
    texts = sample_texts(count)
    mentions = [
        Mention(
            platform="x" if n % 3 else "reddit",
            external_id=str(1_900_000_000_000_000_000 + n),
            text=text,
            created_at=now - timedelta(seconds=count - n),
            source="x:mentions",
            author_id=f"id-{n % 2000}",
            author_handle=f"customer{n % 2000}",
            author_followers=n % 5000,
            lang="en" if n % 4 else "tr",
        )
        for n, text in enumerate(texts)
    ]
    action = PlannedAction(kind="alert", rule="refunds-and-legal", target="staff")
    decision = Decision(-0.6, 80, ("refund +25",), ("refunds-and-legal",), (action,))
    for start in range(0, count, 1000):
        store.ingest("x:mentions", mentions[start : start + 1000], None, lambda _m: decision, now)
    items = store.claim_due(now + timedelta(seconds=1), limit=count, kinds=["alert"])
    owners = []
    members = []
    for index, item in enumerate(items):
        common = {
            "outbox_id": item.id,
            "mention_id": item.mention_id,
            "chat_id": "-1001",
            "created_at": now,
            "route": "staff",
            "rule": "refunds-and-legal",
            "group_key": "staff|refunds-and-legal",
        }
        if index % 10 == 0:
            kind = "group" if len(owners) < GROUPS else "mention"
            due = now + timedelta(minutes=index % 120)
            row = store.open_alert_message(
                {**common, "message_id": 0, "kind": kind, "due_at": due, "warn_at": due}
            )
            store.alert_message_sent(row.id or 0, 1000 + index, now)
            if kind == "group":
                owners.append(row.id or 0)
        else:
            group = owners[index % len(owners)]
            members.append(
                {
                    **common,
                    "message_id": 0,
                    "kind": "mention",
                    "delivery": "grouped",
                    "group_id": group,
                    "state": "open",
                    "key": "",
                    "inhibits": [],
                    "escalated_to": [],
                    "summary": "",
                    "count": 1,
                    "suppressed": 0,
                    "last_at": now,
                }
            )
    store.count_in(members, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    from starlette.testclient import TestClient

    print(f"Web console /queue — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "web.db"
        env = {
            "BRANDPULSE_DATABASE_URL": f"sqlite:///{path}",
            "TELEGRAM_AGENT_IDS": "4242",
        }
        clock = FakeClock(datetime.now(UTC))
        app = BrandPulse(load_config(SHIPPED_CONFIG, env), clock=clock)
        started = time.perf_counter()
        seed(app.store, args.mentions, clock.now())
        seeded = time.perf_counter() - started
        with app.store.engine.connect() as connection:  # fold the WAL in: the size is the data's
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        size = sum(p.stat().st_size for p in Path(folder).glob("web.db*"))
        client = TestClient(build_console(console_context(app), key="bench"))
        link = login_link(app.store, app.config, WebRole.AGENT, "4242", "bench", clock.now())
        client.post("/login", data={"token": link.split("token=")[1]})
        rows = []
        for page_path in PAGES:
            times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                response = client.get(page_path)
                times.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.text[:200]
            rows.append(
                (
                    page_path,
                    f"{statistics.median(times):.1f}",
                    f"{percentile(times, 0.95):.1f}",
                    f"{max(times):.1f}",
                )
            )
        page = app.store.inbox(InboxFilter(), clock.now())
        print(f"open mentions: {page.total:,} (seeded in {seeded:.1f} s)")
        print(f"database size: {size / 1_048_576:.1f} MiB (SQLite, {path.name})\n")
        print(table(("page", "median ms", "p95 ms", "max ms"), rows))
        print("\ntarget: /queue first page ≤ 150 ms")
        app.close()


if __name__ == "__main__":
    main()
