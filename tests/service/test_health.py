"""`main.py health` judges the deployment it finds: cron runs of `run --once`, or a running node."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.leases import Leases
from core.store import Store
from main import main
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.health import HealthReport, collect
from tests.conftest import SHIPPED_CONFIG

OUTBOX_MAX_AGE = timedelta(minutes=10)
SOURCE_MAX_AGE = timedelta(hours=1)


def test_run_once_from_cron_then_health_is_healthy(
    sandbox_env: dict[str, str],
    fake_x: FakeXApi,
    fake_telegram: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in sandbox_env.items():
        monkeypatch.setenv(name, value)
    fake_x.post_tweet("@AcmeSupport this is the worst service ever, I hate it", "angry")
    config = ["--config", str(SHIPPED_CONFIG)]
    assert main(["run", "--once", *config]) == 0
    capsys.readouterr()

    assert main(["health", *config]) == 0
    out = capsys.readouterr().out
    assert out.startswith("healthy at "), out
    assert "source x:mentions: ok" in out

    # A deployment that expects a long-running node is not healthy without one.
    assert main(["health", "--expect-node", *config]) == 1
    assert "no BrandPulse node is running" in capsys.readouterr().out


def cron_health(store: Store, clock: FakeClock) -> HealthReport:
    return collect(store, clock, OUTBOX_MAX_AGE, source_max_age=SOURCE_MAX_AGE, expect_node=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'health.db'}")
    yield opened
    opened.close()


def test_a_source_without_a_recent_success_is_unhealthy(store: Store) -> None:
    clock = FakeClock()
    store.record_poll("x:mentions", "cron", clock.now(), "")
    clock.advance(SOURCE_MAX_AGE - timedelta(seconds=1))
    fresh = cron_health(store, clock)
    assert fresh.healthy, fresh.problems()

    clock.advance(timedelta(seconds=2))
    stale = cron_health(store, clock)
    assert stale.problems() == [
        "x:mentions: no successful poll for 60 min (since 2026-01-05 09:00:00 UTC)"
    ]


def test_a_node_that_ran_lately_and_stopped_renewing_is_missed(store: Store) -> None:
    clock = FakeClock()
    node = Leases(store.engine, "vm:42:abc", timedelta(seconds=30), clock)
    node.beat()
    alive = cron_health(store, clock)
    assert alive.healthy and alive.nodes == ["vm:42:abc"]

    clock.advance(timedelta(minutes=5))  # killed: its heartbeat expired, nobody released it
    crashed = cron_health(store, clock)
    assert crashed.problems() == [
        "no BrandPulse node is running (no live heartbeat; node vm:42:abc stopped renewing it"
        " at 2026-01-05 09:00:30 UTC)"
    ]

    clock.advance(SOURCE_MAX_AGE)  # long enough ago to be a past deployment, not an outage
    later = cron_health(store, clock)
    assert later.healthy, later.problems()


def test_a_node_stopped_gracefully_is_not_missed_in_cron_mode(store: Store) -> None:
    clock = FakeClock()
    node = Leases(store.engine, "vm:43:def", timedelta(seconds=30), clock)
    node.beat()
    node.release()
    report = cron_health(store, clock)
    assert report.healthy, report.problems()
    expected = collect(store, clock, OUTBOX_MAX_AGE, expect_node=True)
    assert not expected.healthy
