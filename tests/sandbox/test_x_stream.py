"""The fake filtered stream speaks X's wire format: chunked lines, keep-alives, rules, errors."""

import json
from collections.abc import Iterator

import httpx
import pytest

from sandbox.x_api import FakeXApi

APP = {"Authorization": "Bearer test-bearer-token"}
STREAM = "/2/tweets/search/stream"
RULES = "/2/tweets/search/stream/rules"


@pytest.fixture
def fake() -> Iterator[FakeXApi]:
    with FakeXApi(stream_keepalive=0.1) as fake:
        yield fake


def client(fake: FakeXApi) -> httpx.Client:
    return httpx.Client(base_url=fake.base_url, headers=APP, timeout=5)


def test_a_matching_post_is_one_json_line_with_its_rules_between_keepalives(
    fake: FakeXApi,
) -> None:
    with client(fake) as http:
        added = http.post(RULES, json={"add": [{"value": "@AcmeSupport", "tag": "ours"}]})
        rule_id = added.json()["data"][0]["id"]
        params = {"expansions": "author_id", "tweet.fields": "author_id", "user.fields": "username"}
        with http.stream("GET", STREAM, params=params) as response:
            assert response.status_code == 200
            assert response.headers["transfer-encoding"] == "chunked"
            raw = response.iter_raw()
            assert next(raw).strip() == b""  # keep-alives before anything matches
            fake.post_tweet("not for the brand", "bob")
            fake.post_tweet("@AcmeSupport hello", "alice")
            received = b""
            while not received.strip():
                received += next(raw)
            while not received.endswith(b"\r\n"):
                received += next(raw)
    (text,) = [line for line in received.split(b"\r\n") if line.strip()]
    line = json.loads(text)
    assert line["data"]["text"] == "@AcmeSupport hello"
    assert line["data"]["author_id"] == line["includes"]["users"][0]["id"]
    assert line["includes"]["users"][0]["username"] == "alice"
    assert line["matching_rules"] == [{"id": rule_id, "tag": "ours"}]


def test_rules_dry_run_changes_nothing_and_an_invalid_rule_refuses_the_request(
    fake: FakeXApi,
) -> None:
    with client(fake) as http:
        dry = http.post(RULES, params={"dry_run": "true"}, json={"add": [{"value": "acme"}]})
        assert dry.status_code == 200
        assert dry.json()["meta"]["summary"] == {
            "created": 1,
            "not_created": 0,
            "valid": 1,
            "invalid": 0,
        }
        listed = http.get(RULES).json()
        assert listed["meta"]["result_count"] == 0
        assert "data" not in listed
        bad = http.post(RULES, json={"add": [{"value": "acme"}, {"value": "nope:x"}]})
        assert bad.status_code == 400
        body = bad.json()
        assert body["errors"][0]["value"] == "nope:x"
        assert body["errors"][0]["type"] == "https://api.twitter.com/2/problems/invalid-rules"
        assert "invalid operator 'nope'" in body["errors"][0]["details"][0]
        assert body["meta"]["summary"]["created"] == 0
        assert "data" not in http.get(RULES).json()


def test_rules_are_added_listed_and_deleted_by_id(fake: FakeXApi) -> None:
    theirs = fake.stream.add_rule("other brand", "another app")
    with client(fake) as http:
        ours = http.post(RULES, json={"add": [{"value": "acme", "tag": "t"}]}).json()
        ours_id = ours["data"][0]["id"]
        again = http.post(RULES, json={"add": [{"value": "acme", "tag": "t"}]}).json()
        assert again["errors"][0]["title"] == "DuplicateRule"
        listed = http.get(RULES).json()
        assert {r["id"] for r in listed["data"]} == {theirs, ours_id}
        deleted = http.post(RULES, json={"delete": {"ids": [ours_id]}}).json()
        assert deleted["meta"]["summary"] == {"deleted": 1, "not_deleted": 0}
        assert [r["id"] for r in http.get(RULES).json()["data"]] == [theirs]


def test_one_connection_per_app_and_app_only_auth(fake: FakeXApi) -> None:
    with client(fake) as http, http.stream("GET", STREAM) as first:
        assert first.status_code == 200
        second = httpx.get(fake.base_url + STREAM, headers=APP, timeout=5)
        assert second.status_code == 429
        assert second.json()["connection_issue"] == "TooManyConnections"
    user = httpx.get(
        fake.base_url + STREAM, headers={"Authorization": "Bearer test-user-token"}, timeout=5
    )
    assert user.status_code == 403
    assert user.json()["title"] == "Unsupported Authentication"


def test_a_drop_mid_line_cuts_the_connection_without_the_closing_chunk(fake: FakeXApi) -> None:
    received = b""
    with client(fake) as http, http.stream("GET", STREAM) as response:
        fake.stream.drop_stream(mid_line=True)
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received += chunk
    assert received.endswith(b'{"data":{"id":"19')  # half a line, then nothing
    assert fake.stream.connected == 0
