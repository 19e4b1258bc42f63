"""Alert latency: from "visible on X" to "shown in the staff chat", with the real service.

    python bench/alert_latency.py [--poll 10]
    python bench/alert_latency.py --x-mode stream [--poll 5]

With `--x-mode stream` it measures X's filtered stream instead (bench/x_stream_latency.py: 50
mentions at random moments, stream beside polling every --poll seconds, and X reads per 1,000
mentions). Otherwise:

Starts the fake X and Telegram servers here, runs `main.py run` (the shipped config.yaml) as
its own process with X_POLL_EVERY=--poll, and plays two cases one after the other:

- steady: 12 angry mentions from 12 customers over two minutes (one every 10 s or so);
- storm: 200 angry mentions from 200 customers within one minute.

A mention is shown when its own alert reaches the fake Telegram, or, if it was folded, when a
group message's count (as the chat reads it, after edits) first includes it. Printed per case:
latency p50/p95/max against the target (poll interval + 1 s), and the messages and edits the
service sent into the staff chat, busiest minute against the per-chat budget.
"""

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchlib import REPO, machine, percentile, service_env, table
from x_stream_latency import print_report

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi

STAFF_CHAT = -1001
BUDGET = 18  # alerts.max_per_minute: messages and edits a minute into one chat
TELEGRAM_LIMIT = 20
COUNT = re.compile(r"🔥 ([\d,]+) mentions")
CALLS = ("/sendMessage", "/editMessageText")


@dataclass
class Case:
    name: str
    moments: list[float]  # seconds after the case starts at which each mention is posted
    posted: list[tuple[str, float]] = field(default_factory=list)  # (tag, when), in order
    shown: dict[str, float] = field(default_factory=dict)
    calls: list[float] = field(default_factory=list)  # sends and edits into the staff chat
    singles: int = 0
    groups: int = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--poll", type=float, help="X_POLL_EVERY in seconds (default 10; 5 beside the stream)"
    )
    parser.add_argument("--x-mode", choices=["poll", "stream"], default="poll")
    args = parser.parse_args()
    if args.x_mode == "stream":
        print_report(["stream", "poll"], mentions=50, duration=240.0, poll=args.poll or 5.0)
        return
    args.poll = args.poll or 10.0
    rng = random.Random(18)
    steady = Case("12 mentions over 2 min", sorted(rng.uniform(0, 120) for _ in range(12)))
    storm = Case("storm: 200 in 1 min", sorted(rng.uniform(0, 60) for _ in range(200)))
    with FakeXApi() as x, FakeTelegram() as telegram, tempfile.TemporaryDirectory() as folder:
        env = service_env(
            x,
            telegram,
            f"sqlite:///{Path(folder) / 'latency.db'}",
            X_POLL_EVERY=f"{args.poll}s",
            TELEGRAM_ALERT_CHAT_ID=str(STAFF_CHAT),
        )
        service = subprocess.Popen(
            [sys.executable, str(REPO / "main.py"), "run", "--config", str(REPO / "config.yaml")],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)  # start-up; the bench's own pacing, not a measurement
            for number, case in enumerate((steady, storm)):
                play(x, telegram, case, args.poll, first_order=10_000 * (number + 1))
                if service.poll() is not None:
                    raise SystemExit(f"the service stopped early (exit {service.returncode})")
                time.sleep(61)  # the chat's minute budget starts afresh for the next case
        finally:
            service.terminate()
            service.wait(timeout=15)
    print(
        f"Alert latency, poll every {args.poll:g} s — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n"
    )
    rows = []
    for case in (steady, storm):
        latencies = [case.shown[tag] - at for tag, at in case.posted if tag in case.shown]
        rows.append(
            (
                case.name,
                len(case.posted),
                len(latencies),
                percentile(latencies, 0.5),
                percentile(latencies, 0.95),
                max(latencies, default=float("nan")),
                args.poll + 1,
                f"{case.singles} + {case.groups} group",
                len(case.calls) - case.singles - case.groups,
                f"{busiest_minute(case.calls)} / {BUDGET} ({TELEGRAM_LIMIT})",
            )
        )
    headers = [
        "case",
        "posted",
        "shown",
        "p50 (s)",
        "p95 (s)",
        "max (s)",
        "target (s)",
        "messages",
        "edits",
        "busiest minute / budget (Telegram)",
    ]
    print(table(headers, rows))


def play(x: FakeXApi, telegram: FakeTelegram, case: Case, poll: float, first_order: int) -> None:
    """Post the case's mentions at their moments and watch the staff chat until all are shown."""
    moments = list(case.moments)
    seen_calls = len(staff_calls(telegram))
    seen_messages = {m["message_id"] for m in telegram.messages(STAFF_CHAT)}
    started = time.monotonic()
    deadline = started + max(moments, default=0) + poll * 3 + 30
    while time.monotonic() < deadline and (moments or len(case.shown) < len(case.posted)):
        now = time.monotonic()
        while moments and now - started >= moments[0]:
            moments.pop(0)
            tag = f"order #{first_order + len(case.posted)}"
            author = f"customer{first_order + len(case.posted)}"
            x.post_tweet(f"@AcmeSupport {tag} arrived broken, I want a refund", author)
            case.posted.append((tag, time.monotonic()))
        calls = staff_calls(telegram)
        case.calls.extend([now] * (len(calls) - seen_calls))
        seen_calls = len(calls)
        mine = [m for m in telegram.messages(STAFF_CHAT) if m["message_id"] not in seen_messages]
        groups = [m for m in mine if COUNT.search(m["text"])]
        singles = {tag for tag, _ in case.posted for m in mine if tag_in(tag, m["text"])}
        singles -= {tag for tag, _ in case.posted for m in groups if tag_in(tag, m["text"])}
        case.singles, case.groups = len(mine) - len(groups), len(groups)
        folded = sum(int(COUNT.search(m["text"]).group(1).replace(",", "")) for m in groups)  # type: ignore[union-attr]
        # Mentions are handled in the order they were written: the first `folded` of those
        # without an alert of their own are the ones the group counts show.
        for tag, _ in [(t, a) for t, a in case.posted if t not in singles][:folded]:
            case.shown.setdefault(tag, now)
        for tag in singles:
            case.shown.setdefault(tag, now)
        time.sleep(0.01)  # the bench's own sampling interval: 10 ms resolution


def tag_in(tag: str, text: str) -> bool:
    return re.search(re.escape(tag) + r"(?!\d)", text) is not None


def staff_calls(telegram: FakeTelegram) -> list[object]:
    return [
        r
        for r in telegram.requests
        if r.path.endswith(CALLS) and str(r.request.params.get("chat_id")) == str(STAFF_CHAT)
    ]


def busiest_minute(times: list[float]) -> int:
    ordered = sorted(times)
    return max(
        (sum(1 for t in ordered[i:] if t < start + 60) for i, start in enumerate(ordered)),
        default=0,
    )


if __name__ == "__main__":
    main()
