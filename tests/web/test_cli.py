"""`main.py web link` and the `web:` settings, as an operator meets them."""

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.store import Store
from core.web_logins import Login, WebLogins
from main import main
from tests.conftest import SHIPPED_CONFIG


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", url)
    monkeypatch.setenv("TELEGRAM_AGENT_IDS", "4242,4243")
    monkeypatch.setenv("BRANDPULSE_WEB_URL", "https://inbox.example.com/")
    return url


def redeem(url: str, link: str) -> Login | str:
    store = Store.open(url)
    try:
        return WebLogins(store.engine).redeem(link.split("token=")[1], datetime.now(UTC))
    finally:
        store.close()


def test_web_link_prints_a_one_time_link_for_an_agent(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["web", "link", "--agent", "4242", "--name", "Ayşe", "--config", str(SHIPPED_CONFIG)]
    )
    out, err = capsys.readouterr()
    assert code == 0
    link = out.strip()
    assert link.startswith("https://inbox.example.com/login?token=")
    assert "valid for 10 minutes" in err
    assert redeem(env, link) == Login("agent", "4242", "Ayşe")
    assert "already used" in str(redeem(env, link))


def test_web_link_for_a_viewer(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["web", "link", "--viewer", "auditor", "--config", str(SHIPPED_CONFIG)]) == 0
    assert redeem(env, capsys.readouterr().out.strip()) == Login("viewer", "", "auditor")


def test_web_link_refuses_an_agent_not_on_the_list(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["web", "link", "--agent", "999", "--config", str(SHIPPED_CONFIG)]) == 2
    err = capsys.readouterr().err
    assert "--agent 999 is not in TELEGRAM_AGENT_IDS (4242, 4243)" in err


def test_web_link_needs_an_agent_or_a_viewer(env: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["web", "link", "--config", str(SHIPPED_CONFIG)])
    assert exited.value.code == 2


def test_a_bad_listen_address_names_the_setting(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRANDPULSE_WEB_LISTEN", "localhost")
    assert main(["run", "--config", str(SHIPPED_CONFIG)]) == 2  # a set-up error, as every other
    err = capsys.readouterr().err
    assert "web.listen" in err and "write host:port (127.0.0.1:8080) or off" in err


def test_a_taken_port_stops_the_start_with_a_clear_error(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        monkeypatch.setenv("BRANDPULSE_WEB_LISTEN", f"127.0.0.1:{port}")
        assert main(["run", "--config", str(SHIPPED_CONFIG)]) == 2
    err = capsys.readouterr().err
    assert f"BrandPulse did not start: web.listen 127.0.0.1:{port}:" in err
