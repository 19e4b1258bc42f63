"""The brand's own posts read back on X, Reddit and Telegram: stored as ours, never acted on.

The shipped config.yaml against the sandbox fakes, auto-replies live: customers' complaints are
alerted and answered, the brand's own answers (by the credentials' accounts and by the accounts
in BRAND_OWN_ACCOUNTS) are stored with status "ours" and get no alert and no reply.
"""

from collections.abc import Callable, Iterator

import prawcore
import pytest

from sandbox import FakeReddit, FakeTelegram, FakeXApi
from service.app import BrandPulse
from service.config import AppConfig, load_config
from service.pipeline import OURS
from tests.conftest import SHIPPED_CONFIG, STAFF_CHAT

GROUP = -1008880001
SUB = "AcmeHelp"
LIVE = {"AUTO_REPLIES": "true", "AUTO_REPLY_DRY_RUN": "false", "REPLY_QUIET_HOURS": "off"}
BRAND_X_ID = "1570000000000000001"
STAFF_PERSON = {"id": 5501, "first_name": "Ayşe", "username": "acme_help"}


@pytest.fixture(autouse=True)
def _no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda _: None)


@pytest.fixture
def fake_x() -> Iterator[FakeXApi]:
    """X whose user-context access token, like X's own, starts with the brand's user id."""
    with FakeXApi(
        brand_username="AcmeSupport",
        brand_user_id=BRAND_X_ID,
        access_token=f"{BRAND_X_ID}-brandsecret",
    ) as fake:
        yield fake


@pytest.fixture
def fake_reddit() -> Iterator[FakeReddit]:
    with FakeReddit() as fake:
        yield fake


@pytest.fixture
def config(
    sandbox_env: dict[str, str], fake_x: FakeXApi, fake_reddit: FakeReddit
) -> Callable[..., AppConfig]:
    env = {
        **sandbox_env,
        "X_ACCOUNT": "",  # the handle comes from the user-context keys (users/me)
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
        "BRAND_OWN_ACCOUNTS": "x:AcmeHelp,reddit:acme_help,telegram:acme_help",
        **LIVE,
    }

    def build(**overrides: str) -> AppConfig:
        return load_config(SHIPPED_CONFIG, {**env, **overrides})

    return build


async def test_the_brands_replies_read_back_are_ours_on_every_platform(
    fake_x: FakeXApi,
    fake_reddit: FakeReddit,
    fake_telegram: FakeTelegram,
    config: Callable[..., AppConfig],
) -> None:
    complaint = "my Acme order arrived broken, so disappointed"
    fake_x.post_tweet(f"@AcmeSupport {complaint}", "maria")
    post = fake_reddit.post_submission(SUB, "Acme kettle arrived broken", "Awful.", author="kettle")
    person = {"id": 4401, "first_name": "Dana"}
    fake_telegram.push_group_message(GROUP, f"{complaint}!", from_user=person)
    # The brand answering, in words that match the complaint rules and the auto-reply rule.
    ours = "Sorry your Acme order arrived broken, so disappointing: a refund is on its way"
    fake_x.post_tweet(f"@maria @AcmeSupport {ours}", "AcmeSupport")  # the keys' account
    fake_x.post_tweet(f"@maria @AcmeSupport {ours}", "AcmeHelp")  # a staff account
    fake_reddit.post_comment(SUB, post, ours, author=fake_reddit.username)
    fake_reddit.post_comment(SUB, post, ours, author="acme_help")
    fake_telegram.push_group_message(GROUP, ours, from_user=STAFF_PERSON)

    app = BrandPulse(config())
    await app.run_once()

    mentions = app.store.mentions()
    brand = [m for m in mentions if m.text.endswith(ours)]
    customers = [m for m in mentions if not m.text.endswith(ours)]
    assert sorted((m.platform, m.author_handle) for m in brand) == sorted(
        [
            ("reddit", "acme_help"),
            ("reddit", fake_reddit.username),
            ("telegram", "acme_help"),
            ("x", "AcmeHelp"),
            ("x", "AcmeSupport"),
        ]
    )
    assert {(m.status, tuple(map(str, m.reasons)), m.urgency) for m in brand} == {
        ("ours", (OURS,), 0)
    }
    assert {m.platform for m in customers} == {"x", "reddit", "telegram"}
    assert {m.status for m in customers} == {"triaged"}
    acted_on = {row.mention_id for row in app.store.outbox()}
    assert acted_on == {m.id for m in customers}  # customers alerted and answered, not us
    assert not any(ours in text["text"] for text in fake_telegram.messages(STAFF_CHAT))
    replied_to = {r.mention_id for r in app.store.replies()}
    assert replied_to == {m.id for m in customers}


async def test_rules_check_warns_of_a_platform_with_no_own_account_known(
    config: Callable[..., AppConfig],
) -> None:
    from service.platforms import without_own_account

    known = config()
    assert without_own_account(known.platforms, known.brand.own_accounts) == []
    app_only = config(REDDIT_USERNAME="", REDDIT_PASSWORD="", BRAND_OWN_ACCOUNTS="x:AcmeHelp")
    assert without_own_account(app_only.platforms, app_only.brand.own_accounts) == ["Reddit"]


def test_rules_check_prints_the_warning_and_still_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from main import main

    for name, value in {
        "REDDIT_CLIENT_ID": "app-only",
        "REDDIT_CLIENT_SECRET": "secret",
        "REDDIT_USERNAME": "",
        "BRAND_OWN_ACCOUNTS": "",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("X_BEARER_TOKEN", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # only Reddit is on
    assert main(["rules", "check", "--config", str(SHIPPED_CONFIG)]) == 0
    [warning] = [line for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert warning.startswith("warning: ")
    assert "brand.own_accounts: Reddit is enabled but none of the brand's accounts" in warning
    monkeypatch.setenv("BRAND_OWN_ACCOUNTS", "reddit:acme_help")
    assert main(["rules", "check", "--config", str(SHIPPED_CONFIG)]) == 0
    assert "warning" not in capsys.readouterr().out
