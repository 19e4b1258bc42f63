"""Alert latency: from "visible on X" to "alert received by Telegram", with the real service.

    python bench/alert_latency.py [--poll 5] [--mentions 30] [--duration 90]

Starts the fake X and Telegram servers here, runs `main.py run` as its own process with
X_POLL_EVERY=--poll, posts urgent mentions at random moments, and times each one until its
alert reaches the fake Telegram. Target: p95 ≤ poll interval + 1 s.

Grouping is switched off here (`alerts.group_after` raised): it would fold these look-alike
mentions into one message, and this measures how soon each single alert arrives.
"""

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchlib import REPO, machine, percentile, service_env, table

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi

STAFF_CHAT = -1001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poll", type=float, default=5.0, help="X_POLL_EVERY in seconds")
    parser.add_argument("--mentions", type=int, default=20)
    parser.add_argument("--duration", type=float, default=90.0, help="seconds to post over")
    args = parser.parse_args()
    rng = random.Random(11)
    with FakeXApi() as x, FakeTelegram() as telegram, tempfile.TemporaryDirectory() as folder:
        env = service_env(
            x,
            telegram,
            f"sqlite:///{Path(folder) / 'latency.db'}",
            X_POLL_EVERY=f"{args.poll}s",
            TELEGRAM_ALERT_CHAT_ID=str(STAFF_CHAT),
        )
        config = Path(folder) / "config.yaml"
        shipped = (REPO / "config.yaml").read_text(encoding="utf-8")
        config.write_text(shipped.replace("group_after: 3 ", "group_after: 100 "), "utf-8")
        service = subprocess.Popen(
            [sys.executable, str(REPO / "main.py"), "run", "--config", str(config)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            latencies = measure(x, telegram, args, rng)
            if service.poll() is not None:
                raise SystemExit(f"the service stopped early (exit {service.returncode})")
        finally:
            service.terminate()
            service.wait(timeout=15)
    print(
        f"Alert latency, poll every {args.poll:g} s — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n"
    )
    rows = [
        ("mentions posted", args.mentions),
        ("alerts received", len(latencies)),
        ("p50 (s)", percentile(latencies, 0.5)),
        ("p95 (s)", percentile(latencies, 0.95)),
        ("max (s)", max(latencies, default=float("nan"))),
        ("target p95 (s)", args.poll + 1),
    ]
    print(table(["figure", "value"], rows))


def measure(
    x: FakeXApi, telegram: FakeTelegram, args: argparse.Namespace, rng: random.Random
) -> list[float]:
    moments = sorted(rng.uniform(2.0, args.duration) for _ in range(args.mentions))
    posted: dict[str, float] = {}
    received: dict[str, float] = {}
    started = time.monotonic()
    deadline = started + args.duration + args.poll * 3 + 10
    while time.monotonic() < deadline and len(received) < args.mentions:
        now = time.monotonic()
        while moments and now - started >= moments[0]:
            moments.pop(0)
            tag = f"order #{len(posted) + 1000}"
            author = f"customer{len(posted)}"  # one author would be counted into one alert
            x.post_tweet(f"@AcmeSupport {tag} arrived broken, I want a refund", author)
            posted[tag] = time.monotonic()
        for message in telegram.sent:
            for tag in posted:
                if tag not in received and tag in message.text:
                    received[tag] = time.monotonic()
        time.sleep(0.01)  # the bench's own sampling interval: 10 ms resolution
    return [received[tag] - posted[tag] for tag in received]


if __name__ == "__main__":
    main()
