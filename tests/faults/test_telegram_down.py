"""Telegram down for ten minutes: alerts wait in the outbox, then go out in order, once each.

Ten minutes pass on a fake clock that both the outbox's retry times and the responder's backoff
read, so the test takes about a second.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from core.clock import FakeClock
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig
from tests.conftest import STAFF_CHAT

STEP = timedelta(seconds=5)
OUTAGE = timedelta(minutes=10)
CUSTOMERS = [f"customer_{n}" for n in range(5)]


async def test_alerts_wait_out_a_ten_minute_outage_and_go_out_in_order_once(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock(datetime.now(UTC))
    config = sandbox_config()
    # One message per alert, so order and count are plain to see (grouping has its own tests).
    alerts = config.alerts.model_copy(update={"group_after": 100})
    app = BrandPulse(config.model_copy(update={"alerts": alerts}), clock=clock)
    for n, handle in enumerate(CUSTOMERS):
        fake_x.post_tweet(f"@AcmeSupport order {n} arrived broken, refund please", handle)
    assert app.telegram is not None
    async with app.telegram:  # the bot knows itself (getMe) before the outage starts
        fake_telegram.set_down(True)
        [poller] = app.pollers
        assert await poller.poll() is not None
        outage_ends = clock.now() + OUTAGE

        while clock.now() < outage_ends:
            await app.deliver()
            clock.advance(STEP)
        attempts = len(fake_telegram.calls(f"/bot{fake_telegram.token}/sendMessage"))
        assert not fake_telegram.messages(STAFF_CHAT)
        assert {row.state for row in app.store.outbox()} <= {"pending"}
        assert len(app.store.outbox()) == len(CUSTOMERS)

        fake_telegram.set_down(False)
        # Backoff is capped at ten minutes: by then the next retry must have gone out.
        deadline = clock.now() + timedelta(minutes=11)
        while app.store.outbox("pending") and clock.now() < deadline:
            clock.advance(STEP)
            await app.deliver()

    # It kept trying, with a growing backoff rather than every five seconds.
    assert 3 <= attempts <= 12, attempts
    texts = [m["text"] for m in fake_telegram.messages(STAFF_CHAT)]
    assert len(texts) == len(CUSTOMERS), texts  # none lost, none doubled
    shown = [next(h for h in CUSTOMERS if h in text) for text in texts]
    assert shown == CUSTOMERS  # in the order customers wrote
    assert not any("may repeat" in text for text in texts)
    assert {row.state for row in app.store.outbox()} == {"sent"}
