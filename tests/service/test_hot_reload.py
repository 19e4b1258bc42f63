"""An edited rule file takes effect in the running service; a broken edit is refused aloud."""

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig, load_config
from tests.conftest import SHIPPED_CONFIG, STAFF_CHAT

KETTLE_RULES = """rules:
  - name: kettle-recall
    when: {keywords: [kettle]}
    actions: [alert]
"""


def edit(path: Path, text: str, stamp: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stamp, stamp))  # a distinct mtime, however fast the test runs


async def test_rules_reload_while_running_and_broken_edits_are_refused(
    tmp_path: Path,
    sandbox_env: dict[str, str],
    fake_x: FakeXApi,
    fake_telegram: FakeTelegram,
    sandbox_config: Callable[..., AppConfig],
) -> None:
    path = tmp_path / "config.yaml"
    team = tmp_path / "team-rules.yaml"  # an included file, as teams keep rules in git
    shipped = SHIPPED_CONFIG.read_text(encoding="utf-8")
    path.write_text(shipped + "\ninclude: [team-rules.yaml]\n", encoding="utf-8")
    edit(team, "rules: []\n", 1_000_000_000_000_000_000)
    app = BrandPulse(load_config(path, sandbox_env), config_path=path)
    assert "kettle-recall" not in app.engine.rule_names

    edit(team, KETTLE_RULES, 1_000_000_001_000_000_000)
    await app._rules_job()
    assert "kettle-recall" in app.pipeline.engine.rule_names
    fake_x.post_tweet("@AcmeSupport is the blue kettle part of the recall", "owner")
    await app.run_once()
    [alert] = [m for m in fake_telegram.sent if m.chat_id == STAFF_CHAT]
    assert "kettle-recall" in alert.text

    edit(team, KETTLE_RULES.replace("keywords", "keywordz"), 1_000_000_002_000_000_000)
    assert app.telegram is not None
    async with app.telegram:  # as in `run`, where the bot is up
        await app._rules_job()
    assert "kettle-recall" in app.pipeline.engine.rule_names  # the last good rules stay
    refused = fake_telegram.sent[-1]
    assert refused.chat_id == STAFF_CHAT
    assert "Rule change refused" in refused.text
    assert "unknown key 'keywordz'" in refused.text
    assert f"{team}:3" in refused.text


async def test_unchanged_rule_files_are_checked_on_the_loop_without_a_thread(
    tmp_path: Path, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle node checks its rule files every few seconds: a stat on the loop, no thread hop
    (the hop was a fifth of an idle node's loop wakeups). A changed file is read in a thread."""
    path = tmp_path / "config.yaml"
    shipped = SHIPPED_CONFIG.read_text(encoding="utf-8")
    edit(path, shipped, 1_000_000_000_000_000_000)
    app = BrandPulse(load_config(path, sandbox_env), config_path=path)
    assert app.rules_watcher is not None
    hops: list[Callable[..., object]] = []
    to_thread = asyncio.to_thread

    async def counted(function: Callable[..., object], /, *args: object) -> object:
        hops.append(function)
        return await to_thread(function, *args)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    await app._rules_job()
    await app._rules_job()
    assert hops == []
    edit(path, shipped, 1_000_000_001_000_000_000)  # touched: read again, in a thread
    await app._rules_job()
    assert hops == [app.rules_watcher.check]
    await app._rules_job()
    assert hops == [app.rules_watcher.check]
