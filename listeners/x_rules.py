"""X filtered-stream rules: made from config, reconciled with the rules in force on X.

Config gives the rules: the brand's handle (`@AcmeSupport`), each search query and each brand
keyword, tagged with where it came from (`brandpulse:mentions`, `brandpulse:search:<name>`,
`brandpulse:keyword:<word>`). The tag prefix marks a rule as ours: reconciling adds what config
has and X lacks, deletes our rules config no longer has, and never touches a rule another app
of the same account made. Additions are checked with `dry_run` first, so one invalid query is
reported with its config line and the valid ones still go in (X refuses a whole request when
one rule in it is invalid).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.config_file import PathKey, format_path
from listeners.base import ListenerAuthFailed, ListenerUnavailable

log = logging.getLogger(__name__)

RULES_PATH = "/2/tweets/search/stream/rules"
OUR_TAG = "brandpulse:"
# Finds the config file line of a config path; without one, the path alone is shown.
Locate = Callable[[PathKey], str]


@dataclass(frozen=True, slots=True)
class StreamRule:
    value: str
    tag: str
    origin: PathKey  # where in config.yaml it comes from

    def json(self) -> dict[str, str]:
        return {"value": self.value, "tag": self.tag}


@dataclass(frozen=True, slots=True)
class RuleProblem:
    rule: StreamRule
    detail: str
    where: str  # "config.yaml:31", "" when unknown

    def __str__(self) -> str:
        place = f"{self.where} " if self.where else ""
        return (
            f"{place}{format_path(self.rule.origin)}: X refused the stream rule "
            f"{self.rule.value!r}: {self.detail}"
        )


@dataclass(slots=True)
class Reconciled:
    added: list[StreamRule] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # rule ids
    kept: int = 0
    problems: list[RuleProblem] = field(default_factory=list)


def rules_from_config(
    account: str, mentions: bool, searches: list[tuple[str, str]], keywords: list[str]
) -> list[StreamRule]:
    """The stream rules config asks for, in config order, each tagged with its source."""
    base: PathKey = ("platforms", "x")
    rules: list[StreamRule] = []
    if mentions and account:
        rules.append(StreamRule(f"@{account}", f"{OUR_TAG}mentions", (*base, "account")))
    for index, (name, query) in enumerate(searches):
        origin = (*base, "searches", index, "query")
        rules.append(StreamRule(query, f"{OUR_TAG}search:{name}", origin))
    for index, keyword in enumerate(keywords):
        value = f'"{keyword}"' if " " in keyword else keyword
        rules.append(StreamRule(value, f"{OUR_TAG}keyword:{keyword}", (*base, "keywords", index)))
    return rules


class RuleSync:
    """Reads, validates, adds and deletes stream rules over an httpx client with app auth."""

    def __init__(self, client: httpx.AsyncClient, locate: Locate | None = None):
        self.client = client
        self.locate = locate or (lambda _path: "")

    async def reconcile(self, wanted: list[StreamRule]) -> Reconciled:
        in_force = await self._in_force()
        ours = {r["id"]: r for r in in_force if str(r.get("tag", "")).startswith(OUR_TAG)}
        present = {(r.get("value"), r.get("tag")) for r in ours.values()}
        missing = [rule for rule in wanted if (rule.value, rule.tag) not in present]
        keep = {(rule.value, rule.tag) for rule in wanted}
        stale = [i for i, r in ours.items() if (r.get("value"), r.get("tag")) not in keep]
        result = Reconciled(kept=len(ours) - len(stale))
        if missing:
            valid, result.problems = await self._validate(missing)
            if valid:
                await self._post({"add": [rule.json() for rule in valid]}, dry_run=False)
            result.added = valid
        if stale:
            await self._post({"delete": {"ids": stale}}, dry_run=False)
            result.deleted = stale
        for problem in result.problems:
            log.error("%s", problem)
        return result

    async def _in_force(self) -> list[dict[str, Any]]:
        body = await self._call("GET", RULES_PATH)
        return [r for r in body.get("data") or [] if isinstance(r, dict) and "id" in r]

    async def _validate(
        self, rules: list[StreamRule]
    ) -> tuple[list[StreamRule], list[RuleProblem]]:
        body = await self._post({"add": [rule.json() for rule in rules]}, dry_run=True)
        by_value = {rule.value: rule for rule in rules}
        problems: list[RuleProblem] = []
        refused: set[str] = set()
        for error in body.get("errors") or []:
            if not isinstance(error, dict) or error.get("value") not in by_value:
                continue
            if error.get("title") == "DuplicateRule":
                # Another app of the account has this very rule: its posts reach us anyway.
                log.info("stream rule %r exists already (id %s)", error["value"], error.get("id"))
                refused.add(error["value"])
                continue
            rule = by_value[error["value"]]
            details = error.get("details") or [error.get("detail") or error.get("title")]
            detail = "; ".join(str(d) for d in details)
            problems.append(RuleProblem(rule, detail, self.locate(rule.origin)))
            refused.add(rule.value)
        return [rule for rule in rules if rule.value not in refused], problems

    async def _post(self, body: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        params = {"dry_run": "true"} if dry_run else None
        return await self._call("POST", RULES_PATH, json=body, params=params, refusals_ok=True)

    async def _call(
        self, method: str, path: str, refusals_ok: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """The JSON body; a 400 with rule errors is an answer (`refusals_ok`), not a failure."""
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            problem = f"X stream rules unreachable ({type(exc).__name__})"
            raise ListenerUnavailable(problem) from None
        if response.status_code in (401, 403):
            status = response.status_code
            raise ListenerAuthFailed(f"X refused the stream rules request ({status})")
        try:
            body = response.json()
        except ValueError:
            raise ListenerUnavailable("X stream rules: a malformed (non-JSON) answer") from None
        if not isinstance(body, dict):
            raise ListenerUnavailable("X stream rules: an unexpected answer shape")
        if response.status_code == 400 and refusals_ok and body.get("errors"):
            return body
        if response.status_code >= 400:
            title = body.get("title") or body.get("detail") or ""
            raise ListenerUnavailable(f"X stream rules error ({response.status_code} {title})")
        return body
