"""A foreground `run` says what each poll did: one INFO line with counts and the next poll."""

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.mention import Mention
from core.store import Store
from listeners.base import Batch, ListenerUnavailable, RateBudget
from main import main
from rules.engine import Engine
from rules.triage import Triage
from service.config import load_config
from service.pipeline import Pipeline
from service.polling import SourcePoller
from tests.conftest import SHIPPED_CONFIG

ANGRY = "@AcmeSupport my order arrived broken, worst service ever, I want a refund"
CALM = "@AcmeSupport picked up my order at the Berlin store today"


class ScriptedListener:
    """A source that answers each fetch with the next scripted batch or error."""

    platform = "x"
    source = "x:scripted"

    def __init__(self, answers: list[Batch | Exception]):
        self.answers = answers

    async def fetch(self, cursor: str | None) -> Batch:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'poll.db'}")
    yield opened
    opened.close()


def poller(store: Store, clock: FakeClock, answers: list[Batch | Exception]) -> SourcePoller:
    config = load_config(SHIPPED_CONFIG, {})
    engine = Engine(config, Triage.from_files(config.brand.lexicons, config.brand.languages))
    listener = ScriptedListener(answers)
    interval, backfill = timedelta(seconds=60), timedelta(hours=1)
    return SourcePoller(listener, Pipeline(store, engine), store, clock, interval, backfill)


def mention(number: int, text: str, clock: FakeClock) -> Mention:
    return Mention(
        platform="x",
        external_id=str(1000 + number),
        text=text,
        created_at=clock.now(),
        source="x:scripted",
        author_id=f"a{number}",
        author_handle=f"author{number}",
    )


def poll_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "service.polling"]


async def test_each_poll_logs_its_counts_and_the_next_poll(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    batch = Batch([mention(1, ANGRY, clock), mention(2, CALM, clock)], next_cursor="1002")
    job = poller(store, clock, [batch, Batch([mention(1, ANGRY, clock)], next_cursor="1002")])
    with caplog.at_level(logging.INFO):
        assert await job.poll() is not None
        clock.advance(timedelta(seconds=60))
        assert await job.poll() is not None
    assert poll_lines(caplog) == [
        "x:scripted: fetched 2, 2 new, 1 alerts, 0 replies; next poll in 60s",
        "x:scripted: fetched 1, 0 new, 0 alerts, 0 replies; next poll in 60s",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "service.polling")


async def test_a_poll_spread_out_by_the_rate_limit_says_why(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    rate = RateBudget(limit=15, remaining=2, reset_at=clock.now() + timedelta(minutes=10))
    job = poller(store, clock, [Batch([], next_cursor=None, rate=rate)])
    with caplog.at_level(logging.INFO):
        await job.poll()
    assert poll_lines(caplog) == [
        "x:scripted: fetched 0, 0 new, 0 alerts, 0 replies; next poll in 300s (spacing out the"
        " rate limit: 2 calls left until 09:10:00 UTC)"
    ]


async def test_failing_polls_warn_once_and_say_each_retry_only_when_verbose(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    down = [ListenerUnavailable("502 Bad Gateway"), ListenerUnavailable("502 Bad Gateway")]
    job = poller(store, clock, list(down))
    with caplog.at_level(logging.DEBUG):
        assert await job.poll() is None
        clock.advance(timedelta(minutes=1))
        assert await job.poll() is None
    records = [r for r in caplog.records if r.name == "service.polling"]
    # A change of state is logged once (STYLE 7); the retries are debug lines.
    assert [r.levelno for r in records] == [logging.WARNING, logging.DEBUG]
    assert records[0].getMessage().startswith("x:scripted unavailable: 502 Bad Gateway")
    assert "still unavailable; next poll in " in records[1].getMessage()
    assert records[1].getMessage().endswith("s (backing off after 2 failures)")


def test_run_quiet_logs_warnings_only_and_verbose_adds_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'q.db'}")
    config = ["--config", str(SHIPPED_CONFIG)]
    assert main(["run", "--once", *config]) == 0
    assert " INFO " in capsys.readouterr().err
    assert main(["run", "--once", "--quiet", *config]) == 0
    assert " INFO " not in capsys.readouterr().err
    assert main(["run", "--once", "--verbose", *config]) == 0
    assert logging.getLogger().level == logging.DEBUG


def test_an_outage_of_reddit_is_one_line_not_one_per_retry_of_prawcore(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from service.logs import setup_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        setup_logging([])
        logging.getLogger("prawcore.sessions").warning("Retrying due to %s: GET /r/x", "Timeout")
        logging.getLogger("service.polling").warning("reddit:search:brand unavailable: Timeout")
    finally:
        root.handlers[:], root.level = handlers, level
    err = capsys.readouterr().err
    assert "reddit:search:brand unavailable" in err
    assert "Retrying due to" not in err
