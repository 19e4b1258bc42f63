"""`main.py run` as real subprocesses against the sandbox fakes running in the test process."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from tests.conftest import REPO, SHIPPED_CONFIG, STAFF_CHAT

# How long a wait that includes a node's start may take: importing the service is about 3 s of
# CPU, and took 50 s on this machine with 7 engineers' work on 2 cores (load 15). A bound for
# "something is broken", never a figure the test checks.
START_TIMEOUT = 180.0


def node_config(
    directory: Path,
    lease_ttl: str = "2s",
    log_format: str = "text",
    web_port: int | None = None,
    searches: int = 0,
    max_per_minute: int = 20,
) -> Path:
    """The shipped config.yaml plus test settings: short leases, one alert per message, and the
    web console (with /health and /metrics) on `web_port`, or off.

    By default no flood budget to wait out within a short test (`max_per_minute` 20, the
    shipped 18 keeps two spare)."""
    text = SHIPPED_CONFIG.read_text()
    queries = "".join(f"\n      - name: s{n}\n        query: 'broken{n}'" for n in range(searches))
    # Every alert its own message.
    edits = {
        "  group_after: 20 ": "  group_after: 100 ",
        "  max_per_minute: 18 ": f"  max_per_minute: {max_per_minute} ",
        "    searches: []": f"    searches:{queries or ' []'}",
        "  listen: ${BRANDPULSE_WEB_LISTEN:-127.0.0.1:8080}": (
            f"  listen: {'off' if web_port is None else f'127.0.0.1:{web_port}'}"
        ),
    }
    for old, new in edits.items():
        assert old in text, f"config.yaml changed: update tests/multinode/nodes.py for {old!r}"
        text = text.replace(old, new)
    text += f"\nservice:\n  lease_ttl: {lease_ttl}\n  log_format: {log_format}\n"
    path = directory / "config.yaml"
    path.write_text(text)
    return path


def node_env(fake_x: FakeXApi, fake_telegram: FakeTelegram, database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "X_API_BASE": fake_x.base_url,
        "X_BEARER_TOKEN": fake_x.bearer_token,
        "X_ACCOUNT": "AcmeSupport",
        "X_POLL_EVERY": "1s",
        "TELEGRAM_API_BASE": fake_telegram.base_url,
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_ALERT_CHAT_ID": str(STAFF_CHAT),
        "BRANDPULSE_DATABASE_URL": database_url,
    }


class Node:
    """One `main.py run` process; its stderr goes to a file the test reads afterwards."""

    def __init__(self, config: Path, env: dict[str, str], log: Path):
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(REPO / "main.py"), "run", "--config", str(config)],
                env=env,
                cwd=config.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as in a power cut of the process."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for something the subprocesses make true; the only waiting these tests do."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
