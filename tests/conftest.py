"""Shared fixtures: the sandbox fakes and the shipped config.yaml pointed at them."""

import asyncio
import contextlib
import functools
import inspect
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from core.store import connect
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.config import AppConfig, load_config

REPO = Path(__file__).resolve().parents[1]
TESTS = str(REPO / "tests")
# The product's database door and the libraries behind it: a query's caller is found outside.
_DATABASE_CODE = str(REPO / "core")
_WATCHING: list[list[str]] = []  # the lists of queries_on_the_event_loop, innermost last
SHIPPED_CONFIG = REPO / "config.yaml"
STAFF_CHAT = -1001234567890
# .ci/run exports the URL of the server it started; a developer machine may have one on 5432.
POSTGRES_URL = os.environ.get(
    "BRANDPULSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_configure(config: pytest.Config) -> None:
    # Every event loop of the suite in asyncio's debug mode: un-awaited coroutines and
    # callbacks that hold the loop longer than slow_callback_duration are logged.
    os.environ.setdefault("PYTHONASYNCIODEBUG", "1")


@contextlib.contextmanager
def queries_on_the_event_loop() -> Iterator[list[str]]:
    """Where product code queries the database on the event loop's thread, while inside.

    One slow query there stalls polling, the SLA watcher and every button at once, so the
    service calls the store through `asyncio.to_thread`. A test's own store calls are fine.
    """
    offenders: list[str] = []
    _WATCHING.append(offenders)

    def check(*_args: Any) -> None:
        if _WATCHING[-1] is not offenders:
            return  # an inner watch (a test of this guard) takes the calls
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread, or no loop at all
        # Outwards from the query: a product coroutine reached before any test frame is
        # async product code blocking the loop; a test calling product code synchronously is not.
        frame, caller = sys._getframe(1), ""
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(TESTS):
                return
            if _is_product(name) and not caller:
                caller = f"{name.removeprefix(str(REPO))}:{frame.f_lineno} {frame.f_code.co_name}"
            if _is_product(name) and frame.f_code.co_flags & inspect.CO_COROUTINE:
                offenders.append(caller)
                return
            frame = frame.f_back

    event.listen(Engine, "before_cursor_execute", check)
    try:
        yield offenders
    finally:
        event.remove(Engine, "before_cursor_execute", check)
        _WATCHING.pop()


def _is_product(filename: str) -> bool:
    """Our code above the database door (not core/, not a library in a venv inside the repo)."""
    return (
        filename.startswith(str(REPO))
        and not filename.startswith(_DATABASE_CODE)
        and "site-packages" not in filename
    )


@pytest.fixture(autouse=True)
def no_database_call_on_the_event_loop() -> Iterator[None]:
    with queries_on_the_event_loop() as offenders:
        yield
    assert not offenders, "database calls on the event loop:\n" + "\n".join(sorted(set(offenders)))


@functools.cache
def postgres_unavailable() -> str:
    """Why PostgreSQL tests cannot run here, or "" when they can."""
    engine = connect(POSTGRES_URL)
    try:
        with engine.connect():
            return ""
    except OperationalError as exc:
        return f"no PostgreSQL at {POSTGRES_URL.split('@')[-1]} ({str(exc.orig).strip()[:80]})"
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite (the default) and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'brandpulse.db'}"
    url = request.getfixturevalue("run_postgres_url")
    engine = connect(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:  # so the store sees a new database and migrates it
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def run_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test run's own, so parallel runs never empty each other's."""
    with _new_postgres_database("brandpulse_run") as url:
        yield url


@pytest.fixture
def scratch_postgres_url() -> Iterator[str]:
    """A new PostgreSQL database of the test's own, dropped afterwards.

    For tests whose subprocesses or schema changes must not meet the shared run database.
    """
    with _new_postgres_database("brandpulse") as url:
        yield url


@contextlib.contextmanager
def _new_postgres_database(prefix: str) -> Iterator[str]:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}; set BRANDPULSE_TEST_POSTGRES_URL")
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def fake_x() -> Iterator[FakeXApi]:
    with FakeXApi(brand_username="AcmeSupport") as fake:
        yield fake


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def sandbox_env(database_url: str, fake_x: FakeXApi, fake_telegram: FakeTelegram) -> dict[str, str]:
    """The environment an operator would set, pointing every platform at the sandbox."""
    return {
        "X_API_BASE": fake_x.base_url,
        "X_BEARER_TOKEN": fake_x.bearer_token,
        "X_ACCOUNT": "AcmeSupport",
        "X_POLL_EVERY": "1s",
        "TELEGRAM_API_BASE": fake_telegram.base_url,
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_ALERT_CHAT_ID": str(STAFF_CHAT),
        "BRANDPULSE_DATABASE_URL": database_url,
    }


@pytest.fixture
def sandbox_config(sandbox_env: dict[str, str]) -> Callable[..., AppConfig]:
    """The shipped config.yaml read with the sandbox environment (plus overrides)."""

    def build(**overrides: str) -> AppConfig:
        return load_config(SHIPPED_CONFIG, {**sandbox_env, **overrides})

    return build
