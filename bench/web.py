"""Web console: server time of the `/queue` first page with 10,000 open mentions on SQLite, and
of the dashboard over a year of 100,000 stored mentions on SQLite and on PostgreSQL.

    python bench/web.py [--mentions 10000] [--runs 30] [--year 100000] [--year-runs 5]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--skip-queue] [--explain]

The database holds what a storm leaves: every mention open, a tenth with an alert message of
its own and the rest counted in 50 group alerts (so the page joins each row to its group). The
time is measured inside the process (Starlette's test client: routing, session, the store's
query and count, the template), without a network. Target: ≤ 150 ms. The database's size on
disk is printed with it.

The year: mentions spread evenly over 365 days on three platforms and two languages, a third
of them alerted, two thirds of those answered by one of five agents after 5 to 120 minutes,
half resolved. The pages: `/dashboard` and `/agents` over the whole year (every mention in
the period), and the list behind the "over 60 min" bar. Target: ≤ 1 s on both backends. On
PostgreSQL a database of its own is created and dropped (`--postgres` names the server).
`--explain` prints how each backend plans the year's /dashboard statements that read mentions
(whether they use the covering index ix_mention_period_figures).
"""

import argparse
import os
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchlib import machine, percentile, sample_texts, table
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError

from core.clock import FakeClock
from core.mention import Mention
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


AGENTS = ("@ayse", "@ben", "@cem", "@deniz", "@eda")
REASONS = (("refund +25", '"broken" +12'), ("late +20",), ("question +5", '"app" +8'), ())
RULES = (("refunds-and-legal",), ("clearly-negative",), ("needs-response",), ())


def seed_year(store: Store, count: int, now: datetime) -> None:
    """`count` mentions over the year before `now`; a third alerted and mostly worked."""
    texts = sample_texts(count)
    step = timedelta(days=365) / count
    mentions = [
        Mention(
            platform=("x", "reddit", "telegram")[n % 3],
            external_id=f"y{n}",
            text=text,
            created_at=now - step * (count - n),
            source="x:mentions",
            author_id=f"id-{n % 7000}",
            author_handle=f"customer{n % 7000}",
            author_followers=(n * 37) % 9000,
            lang="en" if n % 4 else "tr",
        )
        for n, text in enumerate(texts)
    ]
    alert = PlannedAction(kind="alert", rule="refunds-and-legal", target="staff")

    def decide(mention: Mention) -> Decision:
        n = int(mention.external_id[1:])
        sentiment = ((n * 37) % 200 - 100) / 100
        actions = (alert,) if n % 3 == 0 else ()
        return Decision(sentiment, n % 100, REASONS[n % 4], RULES[n % 4], actions)

    for start in range(0, count, 1000):
        store.ingest("x:mentions", mentions[start : start + 1000], None, decide, now)
    items = store.claim_due(now + timedelta(seconds=1), limit=count, kinds=["alert"])
    rows = []
    for index, item in enumerate(items):
        created = item.mention.created_at + timedelta(seconds=30)
        wait = timedelta(minutes=5 + (index * 7) % 116)
        answered = index % 3 != 2
        agent = AGENTS[index % len(AGENTS)]
        rows.append(
            {
                "outbox_id": item.id,
                "mention_id": item.mention_id,
                "chat_id": "-1001",
                "message_id": 10_000 + index,
                "created_at": created,
                "due_at": created + timedelta(hours=1),
                "route": "staff",
                "rule": "refunds-and-legal",
                "group_key": "staff|refunds-and-legal",
                "kind": "mention",
                "delivery": "sent",
                "state": "resolved" if answered and index % 2 else "open",
                "acknowledged_at": created + wait if answered else None,
                "acknowledged_by": agent if answered else "",
                "answered_at": created + wait if answered else None,
                "answered_by": agent if answered else "",
                "resolved_at": created + wait * 2 if answered and index % 2 else None,
                "resolved_by": agent if answered and index % 2 else "",
                "key": "",
                "inhibits": [],
                "escalated_to": [],
                "summary": "",
                "count": 1,
                "suppressed": 0,
                "last_at": created,
            }
        )
    for start in range(0, len(rows), 5000):
        store.count_in(rows[start : start + 5000], {})


def explain(engine: Engine, get: Callable[[], object]) -> None:
    """The plan of each statement `get` runs on the mention table, as the database gives it."""
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    get()
    event.remove(engine, "before_cursor_execute", keep)
    sqlite = engine.dialect.name == "sqlite"
    print(f"\n{engine.dialect.name}: the plans of /dashboard's statements on mention")
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for statement, parameters in statements:
            if " mention" not in statement or not statement.lstrip().startswith("SELECT"):
                continue
            cursor.execute(
                ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters
            )
            print("  " + " ".join(statement.split())[:110] + " …")
            for row in cursor.fetchall():
                step = row[-1] if sqlite else row[0]
                if re.search(r"\b(on|SEARCH|SCAN) mention\b", step):  # how it reads mention
                    print("      " + step.strip())
    finally:
        connection.close()


def year_figures(url: str, count: int, runs: int, plans: bool) -> list[tuple[str, ...]]:
    """Server time of the year's pages on the database at `url` (seeded here)."""
    from starlette.testclient import TestClient

    env = {"BRANDPULSE_DATABASE_URL": url, "TELEGRAM_AGENT_IDS": "4242"}
    clock = FakeClock(datetime.now(UTC))
    app = BrandPulse(load_config(SHIPPED_CONFIG, env), clock=clock)
    started = time.perf_counter()
    seed_year(app.store, count, clock.now())
    seeded = time.perf_counter() - started
    client = TestClient(build_console(console_context(app), key="bench"))
    link = login_link(app.store, app.config, WebRole.VIEWER, "", "bench", clock.now())
    client.post("/login", data={"token": link.split("token=")[1]})
    now = clock.now()
    year = urlencode({"from": (now - timedelta(days=365)).isoformat(), "to": now.isoformat()})
    backend = url.split(":", 1)[0].split("+")[0]
    if plans:
        explain(app.store.engine, lambda: client.get(f"/dashboard?{year}"))
    rows = []
    for path in (f"/dashboard?{year}", f"/agents?{year}", f"/queue?state=all&responder=human"
                 f"&bucket=gt60&{year}", "/dashboard?period=30d"):  # fmt: skip
        times, cpu = [], []
        for _ in range(runs):
            began, began_cpu = time.perf_counter(), time.process_time()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)  # this process's share
            assert response.status_code == 200, response.text[:300]
        shown = path.split("&from=")[0].split("?from=")[0] + (" (365 days)" if year in path else "")
        rows.append(
            (
                backend,
                shown,
                f"{statistics.median(times):.0f}",
                f"{max(times):.0f}",
                f"{statistics.median(cpu):.0f}",
                f"{seeded:.0f}",
            )
        )
    app.close()
    return rows


def year_bench(count: int, runs: int, postgres: str, plans: bool) -> None:
    print(f"\nDashboard over a year of {count:,} mentions (median and max of {runs} runs)\n")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        rows += year_figures(f"sqlite:///{Path(folder) / 'year.db'}", count, runs, plans)
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    name = f"bench_web_{secrets.token_hex(4)}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as exc:
        print(f"PostgreSQL skipped: {str(exc.orig).strip()[:120]}")
    else:
        try:
            url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
            rows += year_figures(url, count, runs, plans)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()
    # CPU ms: the process's own CPU time (PostgreSQL's work is in its server, not counted);
    # on a shared machine it tells the code's cost apart from waiting for a core.
    print(table(("backend", "page", "median ms", "max ms", "CPU ms", "seeded in s"), rows))
    # Wall time waits for a core when others share the machine; the load says how much.
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"\n{machine()}; load average (1, 5, 15 min) at the end: {load}")
    print("\ntarget: /dashboard over 100,000 stored mentions ≤ 1000 ms on both backends")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--year", type=int, default=100_000, help="mentions of the year (0: no dashboard run)"
    )
    parser.add_argument("--year-runs", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-queue", action="store_true", help="only the year's dashboard")
    parser.add_argument("--explain", action="store_true", help="print the year's query plans")
    args = parser.parse_args()
    if not args.skip_queue:
        queue_bench(args.mentions, args.runs)
    if args.year > 0:
        year_bench(args.year, args.year_runs, args.postgres, args.explain)


def queue_bench(mentions: int, runs: int) -> None:
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
        seed(app.store, mentions, clock.now())
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
            for _ in range(runs):
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
