"""The command line, as an operator uses it."""

from pathlib import Path

import pytest

from main import main
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from tests.conftest import SHIPPED_CONFIG, STAFF_CHAT


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "run" in out and "demo" in out


def test_a_broken_config_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        SHIPPED_CONFIG.read_text(encoding="utf-8").replace(
            "sentiment_below: -0.5", "sentiment_belw: -0.5"
        ),
        encoding="utf-8",
    )
    line = next(
        n for n, text in enumerate(config.read_text().splitlines(), 1) if "sentiment_belw" in text
    )
    assert main(["run", "--once", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f'{config}:{line} rule "clearly-negative" when.sentiment_belw: unknown key' in err
    assert "did you mean 'sentiment_below'?" in err


def test_the_shipped_config_starts_with_no_tokens_and_disables_platforms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("X_BEARER_TOKEN", "TELEGRAM_BOT_TOKEN", "TELEGRAM_ALERT_CHAT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    assert main(["run", "--once", "--config", str(SHIPPED_CONFIG)]) == 0
    err = capsys.readouterr().err
    assert "X listener disabled: X_BEARER_TOKEN is not set" in err
    assert "Telegram disabled" in err


def test_run_once_alerts_on_negative_not_on_neutral_and_never_logs_secrets(
    sandbox_env: dict[str, str],
    fake_x: FakeXApi,
    fake_telegram: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in sandbox_env.items():
        monkeypatch.setenv(name, value)
    fake_x.post_tweet("@AcmeSupport this is the worst service ever, I hate it", "angry")
    fake_x.post_tweet("@AcmeSupport picked up my order at the Berlin store today", "neutral")
    fake_telegram.fail_next(502)  # a failed call, with the token in its URL: nothing delivered

    assert main(["run", "--once", "--config", str(SHIPPED_CONFIG)]) == 0
    assert not fake_telegram.sent
    assert main(["run", "--once", "--config", str(SHIPPED_CONFIG)]) == 0

    texts = [m.text for m in fake_telegram.sent if m.chat_id == STAFF_CHAT]
    assert len(texts) == 1 and "@angry" in texts[0]
    logged = capsys.readouterr()
    for secret in (fake_telegram.token, fake_x.bearer_token):
        assert secret not in logged.err + logged.out


def test_the_demo_runs_and_says_what_staff_would_see(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("BrandPulse demo: fake X at http://127.0.0.1:")
    assert "Urgency" in out
    assert "The demo switches them on, live (AUTO_REPLIES=true, AUTO_REPLY_DRY_RUN=false)" in out
    assert "@<b>sneaky</b> mention's HTML tags" in out
