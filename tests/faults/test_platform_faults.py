"""Platform API faults: retried with backoff and jitter, nothing lost, reported and recovered once.

Each case posts a mention, lets the fake X API fail the next poll in one way, and checks that the
cursor stayed where the saved data ends, that the retry waits as it should (a fake clock, no
sleeping), that exactly one "unavailable" and one "recovered" line were logged, and that the
mention arrives on the retry. The fake serves the real wire formats through tweepy.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from core.clock import FakeClock
from core.models import SourceStatusRow
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig
from service.polling import SourcePoller

SOURCE = "x:mentions"
FIRST = "@AcmeSupport my order arrived broken, refund please"
SECOND = "@AcmeSupport still broken, and nobody answers"


@dataclass(frozen=True)
class Fault:
    inject: Callable[[FakeXApi], None]
    wait: tuple[float, float]  # seconds until the retry: within this range
    code: str  # the brandpulse_api_errors label


FAULTS = {
    "429 with reset headers": Fault(lambda x: x.rate_limit_next(90), (80, 91), "429"),
    "500": Fault(lambda x: x.fail_next(500), (4, 6), "500"),
    "502": Fault(lambda x: x.fail_next(502), (4, 6), "502"),
    "503": Fault(lambda x: x.fail_next(503), (4, 6), "503"),
    "timeout": Fault(lambda x: x.slow_next(1.5), (4, 6), "ReadTimeout"),
    "connection reset": Fault(lambda x: x.reset_next_connection(), (4, 6), "ConnectionError"),
    "connection dropped": Fault(lambda x: x.drop_next_connection(), (4, 6), "ConnectionError"),
    "truncated JSON": Fault(lambda x: x.malformed_next(), (4, 6), "non-JSON"),
    "JSON of the wrong shape": Fault(
        lambda x: x.fail_next(200, body={"data": {"id": "1"}, "meta": ["not", "an", "object"]}),
        (4, 6),
        "AttributeError",
    ),
    "expired token (401)": Fault(lambda x: x.fail_next(401), (900, 900), "401"),
}


@pytest.fixture
def clock(fake_x: FakeXApi) -> FakeClock:
    clock = FakeClock(datetime.now(UTC))
    # The fake API stamps tweets and rate-limit resets on the same clock: a 429's reset is then
    # 90 s of the test's time away, however slowly a busy machine runs the test.
    fake_x.set_clock(lambda: clock.now().timestamp())
    return clock


def service(config: AppConfig, clock: FakeClock) -> BrandPulse:
    # A short client timeout, so the timeout case costs a second, not fifteen.
    x = config.platforms.x.model_copy(update={"timeout": timedelta(seconds=0.5)})
    platforms = config.platforms.model_copy(update={"x": x})
    return BrandPulse(config.model_copy(update={"platforms": platforms}), clock=clock)


def lines(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


@pytest.mark.parametrize("name", FAULTS)
async def test_a_fault_loses_nothing_and_is_reported_once(
    name: str,
    fake_x: FakeXApi,
    sandbox_config: Callable[..., AppConfig],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fault = FAULTS[name]
    app = service(sandbox_config(), clock)
    [poller] = app.pollers
    fake_x.post_tweet(FIRST, "first_customer")
    assert await poller.poll() is not None
    saved_cursor = app.store.cursor(SOURCE)
    fake_x.post_tweet(SECOND, "second_customer")
    _until_due(poller, clock)
    caplog.set_level(logging.INFO, logger="service.polling")

    fault.inject(fake_x)
    assert await poller.poll() is None

    assert app.store.cursor(SOURCE) == saved_cursor  # not past what was saved
    assert app.store.count_mentions() == 1
    assert poller.next_at is not None
    wait = (poller.next_at - clock.now()).total_seconds()
    assert fault.wait[0] <= wait <= fault.wait[1]
    assert await poller.poll() is None  # waiting: no request, no second log line
    [down] = lines(caplog, f"{SOURCE} unavailable")
    assert "bearer" not in down.lower() and fake_x.bearer_token not in down
    assert _status(app).problem
    errors = app.metrics.api_errors.labels(SOURCE, fault.code)._value.get()
    assert errors == 1

    clock.advance(timedelta(seconds=wait))
    result = await poller.poll()

    assert result is not None
    assert [m.text for m in app.store.mentions()] == [FIRST, SECOND]
    assert app.store.cursor(SOURCE) != saved_cursor
    assert len(lines(caplog, f"{SOURCE} recovered")) == 1
    assert len(lines(caplog, f"{SOURCE} unavailable")) == 1
    status = _status(app)
    assert (status.problem, status.last_success_at) == ("", clock.now())


async def test_repeated_failures_back_off_doubling_with_jitter_and_log_once(
    fake_x: FakeXApi,
    sandbox_config: Callable[..., AppConfig],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = service(sandbox_config(), clock)
    [poller] = app.pollers
    caplog.set_level(logging.INFO, logger="service.polling")
    fake_x.post_tweet(FIRST, "first_customer")
    fake_x.fail_next(503, times=4)

    waits = []
    for _ in range(4):
        assert await poller.poll() is None
        assert poller.next_at is not None
        waits.append((poller.next_at - clock.now()).total_seconds())
        clock.advance(timedelta(seconds=waits[-1]))
    assert await poller.poll() is not None

    for attempt, wait in enumerate(waits):
        base = 5 * 2**attempt
        assert 0.8 * base <= wait <= 1.2 * base, waits
    assert len(set(waits)) == len(waits)  # jittered: nodes retrying together drift apart
    assert len(lines(caplog, "unavailable")) == 1
    assert len(lines(caplog, "recovered")) == 1
    assert app.store.count_mentions() == 1


async def test_a_failure_on_the_second_page_saves_neither_page(
    fake_x: FakeXApi, sandbox_config: Callable[..., AppConfig], clock: FakeClock
) -> None:
    app = service(sandbox_config(), clock)
    [poller] = app.pollers
    assert await poller.poll() is not None  # resolves the account, sets the cursor
    saved_cursor = app.store.cursor(SOURCE)
    for n in range(150):
        fake_x.post_tweet(f"@AcmeSupport order {n} is broken", f"customer{n}")
    _until_due(poller, clock)
    fake_x.slow_next(0)  # page one passes …
    fake_x.fail_next(503)  # … page two fails

    assert await poller.poll() is None
    assert app.store.cursor(SOURCE) == saved_cursor
    assert app.store.count_mentions() == 0

    _until_due(poller, clock)
    result = await poller.poll()
    assert result is not None and len(result.new) == 150


def _until_due(poller: SourcePoller, clock: FakeClock) -> None:
    """Move the clock to the poll the interval and the rate budget allow next."""
    if poller.next_at is not None and poller.next_at > clock.now():
        clock.advance(poller.next_at - clock.now())


def _status(app: BrandPulse) -> SourceStatusRow:
    with Session(app.store.engine) as session:
        status = session.get(SourceStatusRow, SOURCE)
        assert status is not None
        return status
