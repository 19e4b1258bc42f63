"""The rules workbench `/rules` through Starlette's test client: the rules in force with their
file:line and fire counts, the hot reload's last result, try-a-text, and the backtest."""

import argparse
import html
import io
import os
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from core.clock import FakeClock
from core.states import WebRole
from listeners.base import Batch
from service.app import BrandPulse
from service.config import load_config
from service.rules_cli import cmd_test
from tests.service.alerting import mention
from tests.web.harness import console_client, log_in
from web import rules_page

MAIN = """database: {{url: '{url}'}}
include: [team.yaml]
rules:
  - name: refunds
    owner: "<img src=x onerror=alert(1)>"
    when: {{keywords: [refund, "<script>alert(1)</script>"]}}
    actions: [alert]
"""
TEAM = """rules:
  - name: kettle-recall
    when: {keywords: [kettle]}
    actions: [alert]
"""
CANDIDATE = """rules:
  - name: refunds
    when: {keywords: [refund]}
    actions: [{kind: alert, route: billing}]
  - name: greetings
    when: {keywords: [hello]}
    actions: [alert]
"""
SEEDED = {  # external id's n → (text, days ago)
    1: ("where is my refund", 0),
    2: ("my kettle leaks", 1),
    3: ("a refund for the kettle please", 2),
    4: ("hello there", 3),
    5: ("refund, as I asked last week", 10),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def workbench(tmp_path: Path, database_url: str, clock: FakeClock) -> BrandPulse:
    """A node following config.yaml (which includes team.yaml), with the seeded mentions."""
    path = tmp_path / "config.yaml"
    path.write_text(MAIN.format(url=database_url), encoding="utf-8")
    edit(tmp_path / "team.yaml", TEAM, 1)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "candidate.yaml").write_text(CANDIDATE, encoding="utf-8")
    app = BrandPulse(load_config(path, {}), clock=clock, config_path=path)
    seeded = [
        mention(n, clock, text=text, ago=timedelta(days=days, minutes=1))
        for n, (text, days) in SEEDED.items()
    ]
    app.pipeline.ingest("x:mentions", Batch(seeded, None), clock.now())
    yield app
    app.close()


def edit(path: Path, text: str, second: int) -> None:
    path.write_text(text, encoding="utf-8")
    stamp = 1_000_000_000_000_000_000 + second * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))  # a distinct mtime, however fast the test runs


def client_of(app: BrandPulse, role: WebRole = WebRole.AGENT) -> tuple[TestClient, str]:
    client = console_client(app)
    return client, log_in(client, app, role)


def rule_row(page: str, name: str) -> str:
    found = re.search(rf'<tr data-rule="{name}">(.*?)</tr>', page, re.S)
    assert found, f"no row for rule {name}"
    return found.group(1)


def fired(page: str, name: str) -> int:
    found = re.search(r'<td class="fired"[^>]*>(\d+)</td>', rule_row(page, name))
    assert found
    return int(found.group(1))


def ids_of(app: BrandPulse) -> dict[int, int]:
    """n of SEEDED → the stored mention's id."""
    return {int(row.external_id) % 1000: row.id or 0 for row in app.store.mentions()}


def changed(page: str, kind: str) -> set[int]:
    table = re.search(rf'<table class="[^"]*" data-kind="{kind}">(.*?)</table>', page, re.S)
    if table is None:
        return set()
    return {int(n) for n in re.findall(r'<tr data-mention="(\d+)">', table.group(1))}


def test_rules_in_force_show_their_file_line_and_fire_counts_of_the_period(
    workbench: BrandPulse, tmp_path: Path
) -> None:
    client, _csrf = client_of(workbench)
    for period, days in (("7d", 7), ("30d", 30)):
        page = client.get(f"/rules?period={period}").text
        since = workbench.clock.now() - timedelta(days=days)
        stored = Counter(r for m in workbench.store.mentions(since) for r in m.rules or ())
        assert {name: fired(page, name) for name in ("refunds", "kettle-recall")} == stored
    assert (fired(page, "refunds"), fired(page, "kettle-recall")) == (3, 2)
    week = client.get("/rules?period=7d").text
    assert (fired(week, "refunds"), fired(week, "kettle-recall")) == (2, 2)
    assert "<code>config.yaml:4</code>" in rule_row(week, "refunds")  # from the config's folder
    assert "<code>team.yaml:2</code>" in rule_row(week, "kettle-recall")
    assert "keywords: [kettle]" in rule_row(week, "kettle-recall")
    assert "No rule file has changed since this node started" in week
    today = client.get("/rules?period=today").text
    assert fired(today, "refunds") == 1  # only the mention of today
    data = client.get("/rules.json?period=7d").json()
    assert [(r["name"], r["place"], r["fired"]) for r in data["rules"]] == [
        ("refunds", "config.yaml:4", 2),
        ("kettle-recall", "team.yaml:2", 2),
    ]
    assert data["last_reload"] is None
    custom = client.get("/rules", params={"from": "2000-01-01", "to": "2000-03-01"}).text
    assert "longer than 31 days" in custom
    assert "dates are written YYYY-MM-DD" in client.get("/rules?from=monday").text


async def test_a_refused_reload_shows_its_errors_and_that_the_previous_rules_stay(
    workbench: BrandPulse, tmp_path: Path
) -> None:
    team = tmp_path / "team.yaml"
    edit(team, TEAM.replace("keywords", "keywordz"), 2)
    await workbench._rules_job()
    client, _csrf = client_of(workbench)
    page = html.unescape(client.get("/rules").text)
    assert "The last edit was refused" in page
    assert "the previous rules stay in force" in page
    assert f"{team}:3 rule \"kettle-recall\" when.keywordz: unknown key 'keywordz'" in page
    assert "keywords: [kettle]" in rule_row(page, "kettle-recall")  # still in force
    reload = client.get("/rules.json").json()["last_reload"]
    assert reload["refused"] and f"{team}:3" in reload["problems"][0]

    edit(team, TEAM.replace("kettle]", "kettle, toaster]"), 3)
    await workbench._rules_job()
    page = client.get("/rules").text
    assert "The last edit took over" in page and "The last edit was refused" not in page
    assert "keywords: [kettle, toaster]" in rule_row(page, "kettle-recall")


def test_try_a_text_prints_what_rules_test_prints(
    workbench: BrandPulse, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, csrf = client_of(workbench, WebRole.VIEWER)  # viewers may try: nothing is written
    text = "my kettle is broken and I want a refund!"
    response = client.post(
        "/rules/try", data={"csrf": csrf, "text": text, "platform": "reddit", "followers": "5000"}
    )
    assert response.status_code == 200
    shown = re.search(r'<pre id="try-output">(.*?)</pre>', response.text, re.S)
    assert shown
    args = argparse.Namespace(
        config=tmp_path / "config.yaml",
        text=text,
        platform="reddit",
        followers=5000,
        verified=False,
        author="customer",
        lang="",
        source="",
        is_reply=False,
        at=workbench.clock.now(),
        recent=0,
        json=False,
        jsonl=False,
    )
    out = io.StringIO()
    assert cmd_test(args, out) == 0
    assert html.unescape(shown.group(1)) == out.getvalue().rstrip("\n")
    assert "rules      refunds, kettle-recall" in out.getvalue()  # reasons and rules, as the CLI

    bad = client.post("/rules/try", data={"csrf": csrf, "text": "x", "followers": "many"})
    assert bad.status_code == 400 and "a whole number" in bad.text


def test_backtest_of_a_pasted_candidate_lists_the_difference(workbench: BrandPulse) -> None:
    client, csrf = client_of(workbench)
    response = client.post("/rules/backtest?period=7d", data={"csrf": csrf, "candidate": CANDIDATE})
    assert response.status_code == 200, response.text
    page = response.text
    ids = ids_of(workbench)
    assert changed(page, "new") == {ids[4]}  # "hello" now fires greetings
    assert changed(page, "gone") == {ids[2]}  # the kettle rule is not in the candidate
    assert changed(page, "changed") == {ids[1], ids[3]}  # refunds alert billing, not staff
    assert "4 mentions replayed" in page  # the one of 10 days ago is outside the period
    for n in (1, 2, 3, 4):
        assert f'<a href="/mentions/{ids[n]}">' in page
    never_alerted = client.get(f"/mentions/{ids[4]}")  # the link opens it all the same
    assert never_alerted.status_code == 200 and "hello there" in never_alerted.text
    assert "this mention opened no alert" in never_alerted.text
    refunds = re.search(r"<tr><td>refunds</td>(.*?)</tr>", page)
    assert refunds and re.findall(r"<td>([^<]*)</td>", refunds.group(1)) == ["2", "2", "+0"]
    picked = client.post(
        "/rules/backtest?period=30d", data={"csrf": csrf, "file": "candidate.yaml"}
    ).text
    assert "5 mentions replayed" in picked and changed(picked, "gone") == {ids[2]}


def test_a_broken_candidate_shows_its_problems_with_their_lines(workbench: BrandPulse) -> None:
    client, csrf = client_of(workbench)
    broken = CANDIDATE.replace("keywords: [hello]", "keywordz: [hello]")
    page = client.post("/rules/backtest", data={"csrf": csrf, "candidate": broken})
    assert page.status_code == 400
    text = html.unescape(page.text)
    assert "The backtest did not run" in text
    assert "pasted:6 rule \"greetings\" when.keywordz: unknown key 'keywordz'" in text
    assert "Traceback" not in text
    for candidate, problem in (
        ("rules: [\n", "pasted:2 YAML syntax error"),
        ("include: [/etc/passwd]\n", "pasted:1 include: a paste cannot include other files"),
        ("a: &x [1]\nb: *x\n", "pasted:1 anchors and aliases"),
        (
            "rules:\n  - name: t\n    when: {keywords: ['${TELEGRAM_BOT_TOKEN}']}\n"
            "    actions: [alert]\n",
            "environment variable TELEGRAM_BOT_TOKEN is not set",
        ),
    ):
        shown = client.post("/rules/backtest", data={"csrf": csrf, "candidate": candidate})
        assert problem in html.unescape(shown.text), candidate
    outside = client.post("/rules/backtest", data={"csrf": csrf, "file": "../config.yaml"})
    assert "no rule file &#39;../config.yaml&#39;" in outside.text


def test_a_backtest_past_the_cap_says_so_and_replays_nothing(
    workbench: BrandPulse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules_page, "MAX_REPLAY", 3)
    client, csrf = client_of(workbench)
    page = client.post("/rules/backtest?period=30d", data={"csrf": csrf, "candidate": CANDIDATE})
    assert page.status_code == 400
    assert "5 stored mentions in that period; at most 3 are replayed" in page.text
    assert "rules backtest --since 30d" in page.text


def test_the_forms_need_a_session_and_its_csrf_token(workbench: BrandPulse) -> None:
    anonymous = console_client(workbench)
    for path in ("/rules", "/rules.json"):
        assert anonymous.get(path, follow_redirects=False).status_code == 303
    assert anonymous.post("/rules/try", data={"text": "x"}).status_code == 401
    client, csrf = client_of(workbench, WebRole.VIEWER)
    assert client.post("/rules/backtest", data={"candidate": CANDIDATE}).status_code == 403
    wrong = client.post("/rules/try", data={"csrf": csrf + "x", "text": "refund"})
    assert wrong.status_code == 403


def test_hostile_rule_texts_and_tried_texts_render_as_text(workbench: BrandPulse) -> None:
    client, csrf = client_of(workbench)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    page = client.post("/rules/try", data={"csrf": csrf, "text": hostile}).text
    candidate = 'rules:\n  - name: "<b onmouseover=alert(1)>x</b>"\n    actions: [alert]\n'
    broken = client.post("/rules/backtest", data={"csrf": csrf, "candidate": candidate}).text
    for shown in (page, broken):
        assert "<script>alert" not in shown and "<img src=x" not in shown
        assert "<b onmouseover" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rule_row(page, "refunds")  # a keyword
    assert "owner &lt;img src=x onerror=alert(1)&gt;" in rule_row(page, "refunds")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page  # the text, kept in its box
    assert "&lt;b onmouseover=alert(1)&gt;" in broken
