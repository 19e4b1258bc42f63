"""X, Reddit and Telegram mentions through the whole service to alerts and exactly one reply each.

The shipped config.yaml with the sandbox environment; the `sorry-broken-order` rule is switched
on by environment, as an operator would.
"""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import prawcore
import pytest

from core.clock import FakeClock
from sandbox import FakeReddit, FakeTelegram, FakeXApi
from service.app import BrandPulse
from service.config import AppConfig, load_config
from tests.conftest import REPO, SHIPPED_CONFIG, STAFF_CHAT

GROUP = -1008880001
SUB = "AcmeHelp"
LIVE = {"AUTO_REPLIES": "true", "AUTO_REPLY_DRY_RUN": "false", "REPLY_QUIET_HOURS": "off"}


@pytest.fixture(autouse=True)
def _no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda _: None)


@pytest.fixture
def fake_reddit() -> Iterator[FakeReddit]:
    with FakeReddit() as fake:
        yield fake


@pytest.fixture
def env(sandbox_env: dict[str, str], fake_x: FakeXApi, fake_reddit: FakeReddit) -> dict[str, str]:
    """The sandbox environment with Reddit, X user keys (to reply) and group listening."""
    return {
        **sandbox_env,
        "X_CONSUMER_KEY": fake_x.consumer_key,
        "X_CONSUMER_SECRET": "secret",
        "X_ACCESS_TOKEN": fake_x.access_token,
        "X_ACCESS_TOKEN_SECRET": "secret",
        "REDDIT_API_BASE": fake_reddit.base_url,
        "REDDIT_CLIENT_ID": fake_reddit.client_id,
        "REDDIT_CLIENT_SECRET": fake_reddit.client_secret,
        "REDDIT_USERNAME": fake_reddit.username,
        "REDDIT_PASSWORD": fake_reddit.password,
        "REDDIT_SUBREDDITS": SUB,
        "BRAND_KEYWORDS": "Acme",
    }


@pytest.fixture
def config(env: dict[str, str]) -> Callable[..., AppConfig]:
    def build(**overrides: str) -> AppConfig:
        return load_config(SHIPPED_CONFIG, {**env, **overrides})

    return build


def broken_everywhere(x: FakeXApi, reddit: FakeReddit, telegram: FakeTelegram) -> dict[str, str]:
    """One unhappy customer per platform; their mentions' ids."""
    tweet = x.post_tweet("@AcmeSupport my order arrived broken, so disappointed", "maria")
    post = reddit.post_submission(
        SUB, "Acme kettle arrived broken", "Really disappointed.", author="kettle_owner"
    )
    person = {"id": 4401, "first_name": "Deniz", "username": "deniz"}
    telegram.push_group_message(GROUP, "My Acme blender arrived broken, awful", from_user=person)
    message_id = telegram.messages(GROUP)[-1]["message_id"]
    return {"x": tweet, "reddit": post, "telegram": f"{GROUP}:{message_id}"}


def staff_texts(telegram: FakeTelegram) -> list[str]:
    return [m["text"] for m in telegram.messages(STAFF_CHAT)]


async def test_a_mention_on_each_platform_gets_an_alert_and_exactly_one_reply(
    fake_x: FakeXApi,
    fake_reddit: FakeReddit,
    fake_telegram: FakeTelegram,
    config: Callable[..., AppConfig],
) -> None:
    ids = broken_everywhere(fake_x, fake_reddit, fake_telegram)
    app = BrandPulse(config(**LIVE))

    summary = await app.run_once()

    assert summary.new == 3
    [tweet] = fake_x.posted
    assert tweet.in_reply_to_tweet_id == ids["x"]
    assert tweet.text.startswith("Hi @maria, we're sorry")
    [comment] = fake_reddit.comments_posted
    assert comment.parent_fullname == ids["reddit"]
    assert comment.body.startswith("Hi kettle_owner,")
    [answer] = [m for m in fake_telegram.sent if m.chat_id == GROUP]
    assert answer.reply_to == int(ids["telegram"].split(":")[1])
    records = {r.platform: r for r in app.store.replies()}
    assert {p: r.state for p, r in records.items()} == {
        "x": "sent",
        "reddit": "sent",
        "telegram": "sent",
    }
    assert records["x"].platform_ref == tweet.id
    assert records["reddit"].platform_ref == comment.fullname
    shown = "\n".join(staff_texts(fake_telegram))
    for platform, record in records.items():
        name = {"x": "X", "reddit": "Reddit", "telegram": "Telegram"}[platform]
        assert f"Replied on {name}" in shown
        assert record.platform_ref in shown
    assert all(r.noted_at is not None for r in records.values())

    again = await BrandPulse(config(**LIVE)).run_once()
    assert again.new == 0
    assert len(fake_x.posted) == len(fake_reddit.comments_posted) == 1
    assert len([m for m in fake_telegram.sent if m.chat_id == GROUP]) == 1


async def test_shadow_mode_shows_staff_the_reply_and_posts_nothing(
    fake_x: FakeXApi,
    fake_reddit: FakeReddit,
    fake_telegram: FakeTelegram,
    config: Callable[..., AppConfig],
) -> None:
    broken_everywhere(fake_x, fake_reddit, fake_telegram)
    app = BrandPulse(config(AUTO_REPLIES="true", REPLY_QUIET_HOURS="off"))  # dry run: default

    await app.run_once()

    assert fake_x.posted == []
    assert fake_reddit.comments_posted == []
    assert [m for m in fake_telegram.sent if m.chat_id == GROUP] == []
    assert {r.state for r in app.store.replies()} == {"dry_run"}
    notes = [t for t in staff_texts(fake_telegram) if t.startswith("🧪 Dry run")]
    assert len(notes) == 3
    assert any("Hi @maria, we're sorry" in note for note in notes)


# A run of the service that dies between the platform accepting each reply and BrandPulse
# recording it: the record's "sent" write and the outbox mark are lost, then SIGKILL, so the
# node's heartbeat lease is left behind as after a real crash.
KILLED_RUN = """
import asyncio, json, os, signal, sys
from core.store import Store
from service.app import BrandPulse
from service.config import load_config

save_reply, posted = Store.save_reply, []

def lose_sent(self, values, finish="", now=None):
    if values.get("state") == "sent":
        posted.append(values["platform_ref"])  # accepted by the platform; never recorded
        return None
    return save_reply(self, values, finish, now)

Store.save_reply = lose_sent
Store.mark_sent = lambda *args, **kwargs: None
app = BrandPulse(load_config(sys.argv[1], json.loads(sys.argv[2])))
asyncio.run(app.run_once())
print(json.dumps(posted), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


async def test_killed_between_posting_and_recording_nothing_is_posted_twice(
    fake_x: FakeXApi,
    fake_reddit: FakeReddit,
    fake_telegram: FakeTelegram,
    env: dict[str, str],
    config: Callable[..., AppConfig],
) -> None:
    broken_everywhere(fake_x, fake_reddit, fake_telegram)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(SHIPPED_CONFIG), json.dumps({**env, **LIVE})],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert len(json.loads(killed.stdout)) == 3  # all three platforms took their reply
    telegram_replies = [m for m in fake_telegram.sent if m.chat_id == GROUP]
    assert len(fake_x.posted) == len(fake_reddit.comments_posted) == len(telegram_replies) == 1

    # The restart, once the dead node's heartbeat lease has run out.
    later = FakeClock(datetime.now(UTC) + timedelta(minutes=2))
    app = BrandPulse(config(**LIVE), clock=later)
    await app.run_once()

    assert len(fake_x.posted) == len(fake_reddit.comments_posted) == 1
    assert len([m for m in fake_telegram.sent if m.chat_id == GROUP]) == 1
    records = {r.platform: r for r in app.store.replies()}
    # X and Reddit were asked and the replies found; Telegram cannot be asked, so it is
    # marked uncertain and staff are told instead of the customer getting a second reply.
    assert (records["x"].state, records["x"].platform_ref) == ("sent", fake_x.posted[0].id)
    assert records["reddit"].platform_ref == fake_reddit.comments_posted[0].fullname
    assert records["telegram"].state == "uncertain"
    assert any("Reply maybe sent" in text for text in staff_texts(fake_telegram))


async def test_refused_reddit_credentials_pause_it_and_staff_hear_once(
    fake_reddit: FakeReddit, fake_telegram: FakeTelegram, config: Callable[..., AppConfig]
) -> None:
    wrong = config(REDDIT_CLIENT_SECRET="revoked")
    first = BrandPulse(wrong)
    await first.run_once()
    reddit_pollers = [p for p in first.pollers if p.source.startswith("reddit:")]
    assert reddit_pollers and all(p.problem == "ListenerAuthFailed" for p in reddit_pollers)
    await BrandPulse(wrong).run_once()

    notices = [t for t in staff_texts(fake_telegram) if "refused BrandPulse's credentials" in t]
    assert len(notices) == 1
    assert notices[0].startswith("🔑 reddit:")
