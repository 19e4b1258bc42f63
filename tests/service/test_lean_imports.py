"""A command loads only the libraries it uses: a platform's library only when it is set up, the
web console only when it is served, Alembic only to migrate (issue 19: start-up and memory)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.store import Store
from sandbox.telegram_api import FakeTelegram
from tests.conftest import REPO

# Runs main.py as `python main.py …` would, then writes the modules it imported.
RECORDER = """
import atexit, json, runpy, sys
path = sys.argv[1]
def record():
    with open(path, "w") as out:
        json.dump(sorted(sys.modules), out)
atexit.register(record)
sys.argv = ["main.py"] + sys.argv[2:]
runpy.run_path("main.py", run_name="__main__")
"""


def _command(record: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", RECORDER, str(record), *args]


def _modules(record: Path) -> set[str]:
    return set(json.loads(record.read_text()))


def _imported(record: Path) -> set[str]:
    """The top-level packages imported."""
    return {name.split(".")[0] for name in _modules(record)}


def _env(extra: dict[str, str]) -> dict[str, str]:
    # Nothing configured unless the test says so: the developer's own tokens must not leak in.
    keep = {key: value for key, value in os.environ.items() if not key.startswith(("X_", "REDDIT"))}
    keep = {key: value for key, value in keep.items() if not key.startswith("TELEGRAM")}
    return {**keep, **extra}


def test_run_with_x_and_telegram_and_web_off_loads_neither_praw_nor_the_console(
    sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    # A new empty database: a child process creates its schema, the node never loads Alembic.
    record = tmp_path / "modules.json"
    env = _env({**sandbox_env, "BRANDPULSE_WEB_LISTEN": "off"})
    log = tmp_path / "log"
    with log.open("w") as stderr:
        node = subprocess.Popen(
            _command(record, "run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 60
        while "running: x:mentions" not in log.read_text() and time.monotonic() < deadline:
            assert node.poll() is None, log.read_text()
            time.sleep(0.05)
        assert "running: x:mentions" in log.read_text(), log.read_text()
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=60)
    assert node.returncode == 0, log.read_text()
    imported = _imported(record)
    assert {"tweepy", "telegram", "apscheduler"} <= imported  # what it does use
    assert not {"praw", "prawcore", "uvicorn", "starlette", "jinja2", "alembic"} & imported
    # Nor the report (the daily digest, /stats) nor the health report (/health) until asked.
    assert not {"service.report", "service.health"} & _modules(record)
    Store.open(sandbox_env["BRANDPULSE_DATABASE_URL"], create_empty=False).close()  # it has one


def test_run_once_with_nothing_configured_loads_no_platform_library(
    database_url: str, tmp_path: Path
) -> None:
    env = _env({"BRANDPULSE_DATABASE_URL": database_url})
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    subprocess.run(_command(first, "run", "--once"), env=env, cwd=REPO, check=True)
    subprocess.run(_command(second, "run", "--once"), env=env, cwd=REPO, check=True)
    assert "alembic" in _imported(first)  # it created the schema
    imported = _imported(second)
    assert "sqlalchemy" in imported
    unused = {"telegram", "tweepy", "praw", "requests", "httpx", "apscheduler", "alembic"}
    assert not unused & imported
    assert not {"uvicorn", "starlette", "jinja2"} & imported
    assert "prometheus_client" not in imported  # no source polled, no console: no metrics
    assert "re2" not in imported  # the shipped rules have no regex
    # Only the dialect of the database in use.
    other = "postgresql" if database_url.startswith("sqlite") else "sqlite"
    assert f"sqlalchemy.dialects.{other}" not in _modules(second)
    assert not {"service.report", "service.health"} & _modules(second)


def test_rules_test_loads_no_platform_library_nor_the_scheduler(tmp_path: Path) -> None:
    record = tmp_path / "modules.json"
    args = ("rules", "test", "my parcel arrived broken, refund please")
    with FakeTelegram() as telegram:  # alerts set up: still nothing of Telegram is needed
        env = _env({"TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_ALERT_CHAT_ID": "-1001"})
        result = subprocess.run(
            _command(record, *args), env=env, cwd=REPO, capture_output=True, text=True
        )
    assert result.returncode == 0, result.stderr
    assert "urgency" in result.stdout
    imported = _imported(record)
    unused = {"telegram", "tweepy", "praw", "apscheduler", "alembic", "uvicorn", "starlette"}
    assert not unused & imported
    # Nor the ORM: scoring one text reads no database (sqlalchemy itself checks the URL).
    assert not {"sqlmodel", "sqlalchemy.orm", "core.models", "core.store"} & _modules(record)
    # Nor what reads the database: the backtest's replay, the health report, login links.
    ours = {"service.backtest", "service.progress", "service.health", "service.web_links"}
    # Nor the SLA watcher: the config's `sla:` section is read from service.sla_policy.
    ours |= {"service.sla", "responders.flood_budget"}
    assert not ours & _modules(record)
