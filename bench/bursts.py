"""Bursts: 1,000 matching mentions planted at once, with the real service and Telegram's limits.

    python bench/bursts.py [--mentions 1000] [--poll 2] [--platform x|reddit]

Plants the burst in the fake X, runs `main.py run` as its own process against it and a fake
Telegram that answers 429 like the real one above ~30 messages/s or 20 a minute into a group,
and waits until every mention is stored and accounted for in an alert. Prints how many were
fetched, alerted on their own or grouped into digests, how many messages Telegram received,
the busiest minute into the staff chat, any 429, and the service's peak RSS (wait4).
`--platform reddit` plants the burst as posts in a subreddit of the fake Reddit instead, with
Reddit and Telegram the only platforms set up (target: ≤ 90 MB peak RSS).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchlib import REPO, machine, service_env, table

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from core.models import AlertRow, MentionRow
from core.store import connect
from sandbox import FakeReddit
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi

STAFF_CHAT = -1001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=1000)
    parser.add_argument("--poll", type=float, default=2.0)
    parser.add_argument("--platform", choices=["x", "reddit"], default="x")
    args = parser.parse_args()
    with (
        FakeXApi() as x,
        FakeReddit() as reddit,
        FakeTelegram(enforce_limits=True) as telegram,
        tempfile.TemporaryDirectory() as folder,
    ):
        url = f"sqlite:///{Path(folder) / 'burst.db'}"
        env = service_env(
            x, telegram, url, X_POLL_EVERY=f"{args.poll}s", TELEGRAM_ALERT_CHAT_ID=str(STAFF_CHAT)
        )
        if args.platform == "reddit":
            env = {key: value for key, value in env.items() if not key.startswith("X_")}
            env |= {
                "REDDIT_API_BASE": reddit.base_url,
                "REDDIT_CLIENT_ID": reddit.client_id,
                "REDDIT_CLIENT_SECRET": reddit.client_secret,
                "REDDIT_SUBREDDITS": "AcmeHelp",
                "REDDIT_POLL_EVERY": f"{args.poll}s",
            }
        service = subprocess.Popen(
            [sys.executable, str(REPO / "main.py"), "run"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)  # let it start and take its first (empty) poll
            planted = time.monotonic()
            for n in range(args.mentions):
                text = f"Acme order {n} arrived broken, I want a refund"
                if args.platform == "reddit":
                    reddit.post_submission("AcmeHelp", f"order {n}", text, author=f"c{n}")
                else:
                    x.post_tweet(f"@AcmeSupport order {n} arrived broken, I want a refund", f"c{n}")
            stored, accounted, settled, arrivals = wait_until_accounted(
                url, args.mentions, planted, telegram
            )
        finally:
            service.send_signal(signal.SIGTERM)
            _, status, usage = os.wait4(service.pid, 0)
            service.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        sent = [m for m in telegram.sent if m.chat_id == STAFF_CHAT]
        statuses = Counter(r.status for r in telegram.requests)
        engine = connect(url)
        with Session(engine) as session:
            messages = {
                (kind, delivery): (rows, mentions)
                for kind, delivery, rows, mentions in session.execute(
                    select(
                        AlertRow.kind, AlertRow.delivery, func.count(), func.sum(AlertRow.count)
                    ).group_by(AlertRow.kind, AlertRow.delivery)
                ).all()
            }
        engine.dispose()
    print(f"Burst of {args.mentions:,} mentions — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    rows = [
        ("mentions planted", args.mentions),
        ("mentions fetched and stored", stored),
        ("mentions accounted for in alerts", accounted),
        ("  alerted with a message of their own", messages.get(("mention", "sent"), (0, 0))[0]),
        ("  counted into group messages", messages.get(("group", "sent"), (0, 0))[1]),
        ("group messages", messages.get(("group", "sent"), (0, 0))[0]),
        ("Telegram messages to the staff chat", len(sent)),
        ("most messages into the staff chat in any 60 s", busiest_minute(arrivals)),
        ("seconds from planting to all accounted", settled),
        ("HTTP 429 from Telegram", statuses.get(429, 0)),
        (
            f"peak RSS of the service ({args.platform} + Telegram)",
            f"{usage.ru_maxrss / 1024:.0f} MB",
        ),
    ]
    print(table(["figure", "value"], rows))


def busiest_minute(arrivals: list[float]) -> int:
    """The most arrivals within any 60-second window."""
    most, start = 0, 0
    for end, moment in enumerate(arrivals):
        while moment - arrivals[start] > 60:
            start += 1
        most = max(most, end - start + 1)
    return most


def wait_until_accounted(
    url: str, expected: int, planted: float, telegram: FakeTelegram
) -> tuple[int, int, float, list[float]]:
    """Poll the service's database until every mention is stored and counted in an alert.

    Also notes when each staff-chat message arrived (at the 0.2 s sampling resolution).
    """
    engine = connect(url)
    arrivals: list[float] = []
    deadline = time.monotonic() + 300
    stored = accounted = 0
    try:
        while time.monotonic() < deadline:
            try:
                with Session(engine) as session:
                    stored = session.scalar(select(func.count()).select_from(MentionRow)) or 0
                    # Each alert message stands for `count` mentions: itself and those grouped in.
                    accounted = (
                        session.scalar(
                            select(func.sum(AlertRow.count)).where(
                                AlertRow.delivery == "sent", AlertRow.kind != "window"
                            )
                        )
                        or 0
                    )
            except OperationalError:  # the service has not created the schema yet
                stored = accounted = 0
            staff = sum(1 for m in telegram.sent if m.chat_id == STAFF_CHAT)
            arrivals += [time.monotonic()] * (staff - len(arrivals))
            if stored >= expected and accounted >= expected:
                break
            time.sleep(0.2)
    finally:
        engine.dispose()
    return stored, accounted, time.monotonic() - planted, arrivals


if __name__ == "__main__":
    main()
