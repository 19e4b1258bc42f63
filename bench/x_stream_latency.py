"""X in real time: alert latency and X reads, filtered stream vs polling, with the real service.

    python bench/x_stream_latency.py [--x-mode stream|poll|both] [--mentions 50]
                                     [--duration 240] [--poll 5]

Starts the fake X and Telegram here, runs `main.py run` as its own process with
X_MODE=--x-mode, posts urgent mentions at random moments and times each from the moment the
fake publishes it to the moment its alert reaches the fake Telegram. It also counts what X was
asked: API requests (what a rate limit counts) and posts returned (what pay-per-use bills), and
scales both to 1,000 mentions. Target (issue 15): stream p95 ≤ 1 s.

The default 50 mentions over 240 s stay under the staff chat's pacing (`alerts.max_per_minute`,
18, below Telegram's 20 a minute per group): faster, and alerts would wait for the budget,
which measures the pacing, not the stream.

`measure(mode, mentions, duration, poll)` is the same run as a function, for
`bench/alert_latency.py --x-mode stream`.
"""

import argparse
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlib import REPO, machine, percentile, service_env, table

from sandbox.http import Reply, Request
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi

STAFF_CHAT = -1001
STREAM = "/2/tweets/search/stream"


class CountingXApi(FakeXApi):
    """The fake X, counting the posts it hands out (pay-per-use bills posts read)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.posts_returned = 0

    def handle(self, request: Request) -> Reply:
        reply = super().handle(request)
        body = reply.body
        reads_posts = request.path.startswith(("/2/users/", "/2/tweets/search"))
        if reads_posts and isinstance(body, dict) and isinstance(body.get("data"), list):
            self.posts_returned += len(body["data"])
        return reply


@dataclass(frozen=True)
class Result:
    mode: str
    posted: int
    latencies: list[float]
    requests: int  # every X API request the service made while the mentions came in
    posts_returned: int  # posts in the answers: stream lines + search/mention pages
    seconds: float

    def per_thousand(self, count: int) -> float:
        return count / self.posted * 1000 if self.posted else float("nan")


def measure(
    mode: str = "stream", mentions: int = 50, duration: float = 240.0, poll: float = 5.0
) -> Result:
    """One run of the service in `mode` ("stream" or "poll") with `mentions` at random moments."""
    rng = random.Random(11)
    with (
        CountingXApi() as x,
        FakeTelegram() as telegram,
        tempfile.TemporaryDirectory() as folder,
    ):
        env = service_env(
            x,
            telegram,
            f"sqlite:///{Path(folder) / 'latency.db'}",
            X_MODE=mode,
            X_POLL_EVERY=f"{poll}s",
            TELEGRAM_ALERT_CHAT_ID=str(STAFF_CHAT),
        )
        config = Path(folder) / "config.yaml"
        shipped = (REPO / "config.yaml").read_text(encoding="utf-8")
        # Grouping would fold these look-alike mentions into one message: time single alerts.
        config.write_text(shipped.replace("group_after: 3 ", "group_after: 100 "), "utf-8")
        service = subprocess.Popen(
            [sys.executable, str(REPO / "main.py"), "run", "--config", str(config)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if mode == "stream":
                _wait_for(lambda: x.stream.connected == 1, 30, "the stream to connect")
            else:
                _wait_for(lambda: bool(x.calls("/2/users/")), 30, "the first poll")
            requests_before = len(x.requests)
            posts_before = x.posts_returned + x.stream.tweets_sent
            started = time.monotonic()
            latencies, posted = _post_and_time(x, telegram, mentions, duration, poll, rng)
            seconds = time.monotonic() - started
            requests = len(x.requests) - requests_before
            posts = x.posts_returned + x.stream.tweets_sent - posts_before
            if service.poll() is not None:
                raise SystemExit(f"the service stopped early (exit {service.returncode})")
        finally:
            service.terminate()
            service.wait(timeout=15)
    return Result(mode, posted, latencies, requests, posts, seconds)


def _wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def _post_and_time(
    x: FakeXApi,
    telegram: FakeTelegram,
    mentions: int,
    duration: float,
    poll: float,
    rng: random.Random,
) -> tuple[list[float], int]:
    moments = sorted(rng.uniform(0.5, duration) for _ in range(mentions))
    posted: dict[str, float] = {}
    received: dict[str, float] = {}
    started = time.monotonic()
    deadline = started + duration + poll * 3 + 10
    while time.monotonic() < deadline and len(received) < mentions:
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
        time.sleep(0.005)  # the bench's own sampling interval: 5 ms resolution
    return [received[tag] - posted[tag] for tag in received], len(posted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x-mode", choices=["stream", "poll", "both"], default="both")
    parser.add_argument("--mentions", type=int, default=50)
    parser.add_argument("--duration", type=float, default=240.0, help="seconds to post over")
    parser.add_argument("--poll", type=float, default=5.0, help="X_POLL_EVERY in poll mode")
    args = parser.parse_args()
    modes = ["stream", "poll"] if args.x_mode == "both" else [args.x_mode]
    print_report(modes, args.mentions, args.duration, args.poll)


def print_report(modes: list[str], mentions: int, duration: float, poll: float) -> None:
    """Measure each of `modes` and print one table (also `alert_latency.py --x-mode stream`)."""
    results = [measure(mode, mentions, duration, poll) for mode in modes]
    print(
        f"X alert latency and reads, {mentions} mentions over {duration:g} s "
        f"(poll mode every {poll:g} s) — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n"
    )
    rows = []
    for r in results:
        rows.append(
            (
                r.mode,
                r.posted,
                len(r.latencies),
                percentile(r.latencies, 0.5),
                percentile(r.latencies, 0.95),
                max(r.latencies, default=float("nan")),
                r.requests,
                r.per_thousand(r.requests),
                r.per_thousand(r.posts_returned),
            )
        )
    headers = [
        "mode",
        "posted",
        "alerts",
        "p50 (s)",
        "p95 (s)",
        "max (s)",
        "X requests",
        "requests / 1k mentions",
        "posts read / 1k mentions",
    ]
    print(table(headers, rows))
    print(
        "\nRequests in poll mode grow with time (one per source per interval, mentions or not);"
        "\nin stream mode with connections and gap fills only. Target: stream p95 ≤ 1 s."
    )


if __name__ == "__main__":
    main()
