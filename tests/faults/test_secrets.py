"""Secrets never reach logs, alerts, stored errors or exceptions; JSON logs are one object a line.

A real `main.py run` with JSON logs goes through failures whose messages are most likely to
carry a token: Telegram unreachable (its URLs contain the bot token) and a dropped X
connection. Everything it wrote, and everything it stored, is searched. (What a refused X
token logs is checked in test_platform_faults.py.)
"""

import json
from pathlib import Path

from sqlalchemy import text

from core.store import connect
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from tests.multinode.nodes import START_TIMEOUT, Node, node_config, node_env, until


def test_no_secret_in_output_alerts_or_the_database(
    tmp_path: Path, fake_x: FakeXApi, fake_telegram: FakeTelegram
) -> None:
    url = f"sqlite:///{tmp_path / 'secrets.db'}"
    fake_x.post_tweet("@AcmeSupport my order arrived broken, refund please", "angry_customer")
    fake_x.drop_next_connection()
    fake_telegram.set_down(True)  # sends fail with the token in every request URL
    config = node_config(tmp_path, log_format="json")
    node = Node(config, node_env(fake_x, fake_telegram, url), tmp_path / "node.log")
    until(lambda: _stored(url) > 0, START_TIMEOUT, "the mention, after the dropped connection")
    until(lambda: bool(fake_telegram.calls(f"/bot{fake_telegram.token}/")), 30, "a failed call")
    fake_telegram.set_down(False)
    until(lambda: bool(fake_telegram.sent), 30, "the alert, once Telegram is back")
    assert node.terminate() == 0

    output = node.output()
    stored = _everything_stored(url)
    alerts = " ".join(m.text for m in fake_telegram.sent)
    token_secret = fake_telegram.token.split(":", 1)[1]
    for secret in (fake_x.bearer_token, fake_telegram.token, token_secret):
        assert secret not in output
        assert secret not in stored
        assert secret not in alerts
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any("unavailable" in r["message"] for r in records)  # the failures were logged …
    assert any(r["level"] == "WARNING" and "Telegram" in r["message"] for r in records)


def _stored(url: str) -> int:
    engine = connect(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM mention")).scalar() or 0
    except Exception:
        return 0  # the schema is not there yet
    finally:
        engine.dispose()


def _everything_stored(url: str) -> str:
    """Every text value in every table, as one string to search."""
    engine = connect(url)
    parts = []
    with engine.connect() as connection:
        tables = connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        for table in list(tables.scalars()):
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                parts.extend(str(value) for value in row)
    engine.dispose()
    return "\n".join(parts)
