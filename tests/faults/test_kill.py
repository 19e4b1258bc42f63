"""SIGKILL at random points of poll → save → triage → send → record, many times; then SIGTERM.

`main.py run` runs as a subprocess against the fakes in this process. Each loop posts a mention
and kills the node at one point, chosen at random:

- poll:   while its mentions request is in flight (the fake kills on receipt);
- save:   0-60 ms after the mentions page left the fake (saving, triaging, queueing);
- send:   while its sendMessage is in flight: Telegram has the message, the node never learns;
- record: 0-30 ms after Telegram answered (recording the alert as sent);
- any:    at a random moment 0.3-1.5 s after start (often still starting up).

Afterwards: every mention stored once, every alert in the chat, and any alert seen twice only
with the second copy flagged "may repeat". Alerts are at-least-once by design: the Bot API has
no idempotency key and no way for a bot to read a chat's history, so a node killed between
Telegram accepting a message and the node recording it cannot learn whether it went out;
retrying it flagged is the only alternative to losing it (docs/production.md).
"""

import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from core.store import connect
from sandbox.http import Request
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from tests.conftest import STAFF_CHAT
from tests.multinode.nodes import START_TIMEOUT, Node, node_config, node_env, until

LOOPS = 10
POINTS = ("poll", "save", "send", "record", "any")
REPEAT_FLAG = "may repeat"
RUNNING = "BrandPulse node "  # the line a node logs once its run loop is up


def test_sigkill_in_a_loop_loses_nothing_and_repeats_only_flagged(
    tmp_path: Path, fake_x: FakeXApi, fake_telegram: FakeTelegram
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    config = node_config(tmp_path, lease_ttl="1s")
    env = node_env(fake_x, fake_telegram, url)
    mentions = f"/2/users/{fake_x.brand.id}/mentions"
    send = f"/bot{fake_telegram.token}/sendMessage"
    handles: list[str] = []
    kills: Counter[str] = Counter()
    # Points are forced round-robin first, so every one is hit at least once per run.
    plan = list(POINTS) + [rng.choice(POINTS) for _ in range(LOOPS - len(POINTS))]

    for loop, point in enumerate(plan):
        handles.append(f"c{loop:02d}_killed")
        fake_x.post_tweet(f"@AcmeSupport order {loop} arrived broken, refund please", handles[-1])
        node = Node(config, env, tmp_path / "node.log")
        kill = _killer(node.pid)
        if point == "poll":
            fake_x.call_on_next(mentions, kill)
        elif point == "save":
            fake_x.call_on_next(mentions, _later(kill, rng.uniform(0, 0.06)))
        elif point == "send":
            fake_telegram.call_on_next(send, kill)
        elif point == "record":
            fake_telegram.call_on_next(send, _later(kill, rng.uniform(0, 0.03)))
        else:
            _later(kill, rng.uniform(0.3, 1.5))(Request("GET", "", {}, None, {}))
        try:
            until(
                lambda n=node: n.process.poll() is not None, START_TIMEOUT, f"the kill at {point}"
            )
        finally:
            node.kill()
        kills[point] += 1

    # A last node, left alone, must deliver everything; then a graceful stop.
    log = tmp_path / "node.log"
    started_before = log.read_text(errors="replace").count(RUNNING)
    survivor = Node(config, env, log)
    # The killed nodes may have delivered everything already: SIGTERM the survivor only once
    # it is running (its signal handlers set), or its start-up dies of the signal itself.
    until(lambda: survivor.output().count(RUNNING) > started_before, START_TIMEOUT, "the survivor")
    until(lambda: _all_alerted(fake_telegram, handles), START_TIMEOUT, "every alert in the chat")
    until(lambda: _unsent(url) == 0, 20, "an empty outbox")
    assert survivor.terminate() == 0

    context = f"seed {seed}, kills {dict(kills)}; log: {tmp_path / 'node.log'}"
    assert _stored(url) == Counter({h: 1 for h in handles}), context
    texts = [m.text for m in fake_telegram.sent if m.chat_id == STAFF_CHAT]
    for handle in handles:
        copies = [t for t in texts if f"@{handle}" in t]
        assert copies, f"alert for {handle} lost ({context})"
        unflagged = [t for t in copies if REPEAT_FLAG not in t]
        assert len(unflagged) <= 1, f"alert for {handle} sent twice unflagged ({context})"
    doubled = sum(sum(f"@{h}" in t for t in texts) > 1 for h in handles)
    flagged = sum(REPEAT_FLAG in t for t in texts)
    print(f"kill loop: {context}; {doubled} alerts seen twice, {flagged} messages flagged")


def test_sigterm_finishes_the_poll_under_way_and_exits_0(
    tmp_path: Path, fake_x: FakeXApi, fake_telegram: FakeTelegram
) -> None:
    url = f"sqlite:///{tmp_path / 'term.db'}"
    node = Node(node_config(tmp_path), node_env(fake_x, fake_telegram, url), tmp_path / "n.log")
    until(lambda: _stored(url) is not None, START_TIMEOUT, "the node to start polling")
    fake_x.post_tweet("@AcmeSupport my order arrived broken, refund please", "late_customer")
    in_flight = threading.Event()

    def slow_poll(_request: Request) -> None:  # the poll that fetches it takes a while …
        in_flight.set()
        time.sleep(1.5)

    fake_x.call_on_next(f"/2/users/{fake_x.brand.id}/mentions", slow_poll)
    until(in_flight.is_set, 20, "a poll in flight")

    node.process.send_signal(signal.SIGTERM)  # … and the stop comes in the middle of it
    assert node.process.wait(20) == 0, node.output()

    assert _stored(url) == Counter({"late_customer": 1}), node.output()
    assert "stopped" in node.output()
    engine = connect(url)
    with engine.connect() as connection:  # its leases are handed over, not left to expire
        assert connection.execute(text("SELECT count(*) FROM lease")).scalar() == 0
    engine.dispose()


def _killer(pid: int) -> Callable[[Request], None]:
    def kill(_request: Request) -> None:
        with contextlib.suppress(ProcessLookupError):  # gone already: an earlier loop's hook
            os.kill(pid, signal.SIGKILL)

    return kill


def _later(kill: Callable[[Request], None], seconds: float) -> Callable[[Request], None]:
    def arm(request: Request) -> None:
        threading.Timer(seconds, kill, args=(request,)).start()

    return arm


def _stored(url: str) -> Counter[str] | None:
    """Stored mentions per author, or None before the schema exists."""
    engine = connect(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT author_handle FROM mention")).scalars()
            return Counter(rows)
    except Exception:
        return None
    finally:
        engine.dispose()


def _unsent(url: str) -> int:
    engine = connect(url)
    with engine.connect() as connection:
        query = "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')"
        count = connection.execute(text(query)).scalar() or 0
    engine.dispose()
    return count


def _all_alerted(fake_telegram: FakeTelegram, handles: list[str]) -> bool:
    texts = [m.text for m in fake_telegram.sent if m.chat_id == STAFF_CHAT]
    return all(any(f"@{h}" in t for t in texts) for h in handles)
