"""The rule language brand managers write in YAML, as frozen pydantic models.

    rules:
      - name: refunds-and-legal          # unique, shown in alerts and reports
        when:                            # every condition given must hold
          keywords: {refund: 25, lawsuit: 40, broken: 10}
        actions: [alert]                 # or: - {kind: alert, route: vip}

Unknown keys are errors (with a "did you mean"), never silently ignored. Every key is documented,
with examples, in docs/rules.md.
"""

import difflib
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.config_file import PathKey
from core.duration import Duration
from rules.patterns import compile_pattern
from rules.schema_base import OneOrMany, Platform, Strict, one_or_many
from rules.templates import template_fields
from rules.time_window import TimeWindow, check_timezone

# SpikeWindow is re-exported: service/app.py reads it from here.
from rules.window_schema import SpikeWindow as SpikeWindow
from rules.window_schema import Window

# Validation context flag: the loader checks references itself, with the line of each one.
LOCATED_REFERENCES = "located_references"


# --- terms and patterns -------------------------------------------------------------------


def _terms_to_weights(value: object) -> object:
    """`keywords: [refund, broken]` → `{refund: None, broken: None}` (default weight)."""
    value = one_or_many(value)
    if isinstance(value, list):
        out: dict[str, object] = {}
        for term in value:
            if isinstance(term, dict) and len(term) == 1:
                out.update(term)  # `- refund: 25` inside a list
            else:
                out[str(term)] = None
        return out
    return value


def _check_term(term: str) -> str:
    words = term.rstrip("*").strip()
    if not words:
        raise ValueError("keywords must not be empty strings")
    if "*" in words:
        raise ValueError(f"{term!r}: '*' may only end a word stem, as in refund*")
    return " ".join(term.split())


def _check_terms(terms: list[str]) -> list[str]:
    return [_check_term(str(term)) for term in terms]


Weight = Annotated[int, Field(ge=-100, le=100)]


# --- conditions ---------------------------------------------------------------------------


class Condition(BaseModel):
    """All the conditions given must hold; `any`, `all` and `not` combine nested conditions."""

    # At least one of these words or phrases; a weight adds that many urgency points.
    keywords: Annotated[dict[str, Weight | None], BeforeValidator(_terms_to_weights)] = Field(
        default_factory=dict
    )
    exclude: Annotated[list[str], OneOrMany] = Field(default_factory=list)  # none of these
    regex: Annotated[list[str], OneOrMany] = Field(default_factory=list)  # any of these matches
    platform: Annotated[list[Platform], OneOrMany] = Field(default_factory=list)
    source: Annotated[list[str], OneOrMany] = Field(default_factory=list)  # globs: x:search:*
    language: Annotated[list[str], OneOrMany] = Field(default_factory=list)
    followers_at_least: int | None = Field(default=None, ge=0)
    followers_below: int | None = Field(default=None, ge=1)
    verified: bool | None = None
    author_in: Annotated[list[str], OneOrMany] = Field(default_factory=list)  # names of `lists:`
    sentiment_below: float | None = Field(default=None, ge=-1, le=1)
    sentiment_above: float | None = Field(default=None, ge=-1, le=1)
    is_question: bool | None = None
    is_reply: bool | None = None
    needs_response: bool | None = None  # the default triage's verdict
    urgency_at_least: int | None = Field(default=None, ge=0, le=100)
    time: TimeWindow | None = None
    any: list["Condition"] = Field(default_factory=list)
    all: list["Condition"] = Field(default_factory=list)
    not_: "Condition | None" = Field(default=None, alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("keywords")
    @classmethod
    def _clean_keywords(cls, terms: dict[str, int | None]) -> dict[str, int | None]:
        return {_check_term(term): weight for term, weight in terms.items()}

    @field_validator("exclude")
    @classmethod
    def _clean_exclude(cls, terms: list[str]) -> list[str]:
        return _check_terms(terms)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            compile_pattern(pattern)  # ValueError saying what the linear-time engine refuses
        return patterns

    @field_validator("language")
    @classmethod
    def _iso_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not re.fullmatch(r"[a-z]{2}", code):
                raise ValueError(f"{code!r} is not a language code; write en, tr, de …")
        return codes

    @field_validator("source")
    @classmethod
    def _source_names(cls, sources: list[str]) -> list[str]:
        if any(not s.strip() for s in sources):
            raise ValueError("source names must not be empty")
        return sources

    @model_validator(mode="after")
    def _sane_ranges(self) -> "Condition":
        low, high = self.sentiment_above, self.sentiment_below
        if low is not None and high is not None and low >= high:
            raise ValueError(
                f"sentiment_above ({low}) must be lower than sentiment_below ({high}): "
                "no mention can match both"
            )
        least, below = self.followers_at_least, self.followers_below
        if least is not None and below is not None and least >= below:
            raise ValueError(
                f"followers_at_least ({least}) must be lower than followers_below ({below})"
            )
        return self

    def children(self) -> Iterator[tuple[PathKey, "Condition"]]:
        """Nested conditions with their path below this one."""
        for key in ("any", "all"):
            for index, child in enumerate(getattr(self, key)):
                yield (key, index), child
        if self.not_ is not None:
            yield ("not",), self.not_

    def walk(self, path: PathKey = ()) -> Iterator[tuple[PathKey, "Condition"]]:
        """This condition and every nested one, depth first, each with its path."""
        yield path, self
        for sub, child in self.children():
            yield from child.walk((*path, *sub))


# --- actions ------------------------------------------------------------------------------


class AlertAction(Strict):
    """Send the mention to a staff chat."""

    kind: Literal["alert"]
    route: str = "staff"  # a name under platforms.telegram.routes; "staff" is the alert chat


class ReplyAction(Strict):
    """Answer the mention in public with a template; `{author}` etc. are filled in."""

    kind: Literal["reply"]
    template: str = Field(min_length=1, max_length=2000)
    dry_run: bool = False  # plan and log the reply, never send it

    @field_validator("template")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        template_fields(template)
        return template


class TagAction(Strict):
    """Label the mention (shown on its alerts, counted in reports)."""

    kind: Literal["tag"]
    tags: Annotated[list[str], OneOrMany] = Field(min_length=1)

    @field_validator("tags")
    @classmethod
    def _tag_names(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not re.fullmatch(r"[\w.-]{1,32}", tag):
                raise ValueError(f"tag {tag!r}: use up to 32 letters, digits, '-', '_' or '.'")
        return tags


class EscalateAction(Strict):
    """Also alert `route` when nobody acknowledged the alert within `after` (0s: at once)."""

    kind: Literal["escalate"]
    route: str
    after: Duration = timedelta(0)


class IgnoreAction(Strict):
    """Drop the mention: no action of any rule is taken for it. Put spam rules first."""

    kind: Literal["ignore"]


class StopAction(Strict):
    """Later rules are not evaluated for this mention."""

    kind: Literal["stop"]


Action = Annotated[
    AlertAction | ReplyAction | TagAction | EscalateAction | IgnoreAction | StopAction,
    Field(discriminator="kind"),
]


# --- rules --------------------------------------------------------------------------------


class Rule(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    enabled: bool = True
    priority: int = Field(default=0, ge=-1000, le=1000)  # higher runs first; ties in file order
    owner: str = Field(default="", max_length=64)  # who to ask about this rule
    when: Condition = Field(default_factory=Condition)
    actions: list[Action] = Field(min_length=1)

    @field_validator("actions", mode="before")
    @classmethod
    def _shorthand(cls, actions: object) -> object:
        """`actions: [alert, stop]` is short for `[{kind: alert}, {kind: stop}]`."""
        if isinstance(actions, str):
            actions = [actions]
        if isinstance(actions, list):
            return [{"kind": a} if isinstance(a, str) else a for a in actions]
        return actions

    @model_validator(mode="after")
    def _coherent_actions(self) -> "Rule":
        kinds = [action.kind for action in self.actions]
        if "ignore" in kinds and set(kinds) - {"ignore", "stop"}:
            others = ", ".join(sorted(set(kinds) - {"ignore", "stop"}))
            raise ValueError(
                f"ignore drops the mention, so {others} in the same rule would never happen"
            )
        if "escalate" in kinds and "alert" not in kinds:
            raise ValueError("escalate follows up an alert: add an alert action to this rule")
        return self


# --- urgency and the whole rule set -------------------------------------------------------


class UrgencyWeights(Strict):
    """How the urgency score (0–100) is built; see docs/rules.md "Urgency"."""

    sentiment: float = Field(default=1.0, ge=0, le=5)  # multiplier on the triage's VADER points
    triage: float = Field(default=1.0, ge=0, le=5)  # multiplier on the triage lexicon's terms
    keyword: int = Field(default=10, ge=-100, le=100)  # per matched rule keyword without weight
    reach: int = Field(default=20, ge=0, le=100)  # at 1M followers; log-scaled from 1k
    verified: int = Field(default=5, ge=0, le=100)
    # Points when the mention is a question; unset keeps the triage lexicon's question points.
    question: int | None = Field(default=None, ge=-100, le=100)
    repeat: int = Field(default=10, ge=0, le=100)  # per earlier mention by the same author…
    repeat_window: Duration = timedelta(hours=24)  # …within this span before this one
    repeat_max: int = Field(default=30, ge=0, le=100)


Handle = Annotated[str, BeforeValidator(lambda v: str(v).strip().lstrip("@").casefold())]


class RulesConfig(Strict):
    rules: list[Rule] = Field(default_factory=list)
    windows: list[Window] = Field(default_factory=list)
    # Named author lists for `author_in`: handles (with or without @) or platform user ids.
    lists: dict[str, list[Handle]] = Field(default_factory=dict)
    urgency: UrgencyWeights = Field(default_factory=UrgencyWeights)
    timezone: str = "UTC"  # for `time:` conditions that name none

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        return check_timezone(name)

    @field_validator("lists")
    @classmethod
    def _list_names(cls, lists: dict[str, list[str]]) -> dict[str, list[str]]:
        for name in lists:
            if not re.fullmatch(r"[\w.-]{1,64}", name):
                raise ValueError(f"list name {name!r}: use letters, digits, '-', '_' or '.'")
        return lists

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> "RulesConfig":
        if info.context and info.context.get(LOCATED_REFERENCES):
            return self  # the loader reports these with the line of each reference
        problems = reference_problems(self)
        if problems:
            raise ValueError("; ".join(message for _path, message in problems))
        return self


def reference_problems(config: RulesConfig) -> list[tuple[PathKey, str]]:
    """Names used across the rule set that do not resolve, each with the path that uses it."""
    problems: list[tuple[PathKey, str]] = []
    seen: dict[str, PathKey] = {}
    for key, items in (("rules", config.rules), ("windows", config.windows)):
        for index, item in enumerate(items):
            if item.name in seen:
                problems.append(
                    ((key, index, "name"), f"rule name '{item.name}' is used twice; names are ids")
                )
            seen.setdefault(item.name, (key, index))
    for index, rule in enumerate(config.rules):
        for path, condition in rule.when.walk(("rules", index, "when")):
            for name in condition.author_in:
                if name not in config.lists:
                    problems.append(
                        ((*path, "author_in"), _unknown("list", name, list(config.lists)))
                    )
    rule_names = [rule.name for rule in config.rules]
    for index, window in enumerate(config.windows):
        for name in window.when.rules:
            if name not in rule_names:
                problems.append(
                    (("windows", index, "when", "rules"), _unknown("rule", name, rule_names))
                )
    return problems


def _unknown(what: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"no {what} named '{name}' (did you mean '{close[0]}'?)"
    if known:
        return f"no {what} named '{name}'; known: {', '.join(sorted(set(known)))}"
    return f"no {what} named '{name}'; define it under `{what}s:` first"


def routes_used(config: RulesConfig) -> list[tuple[PathKey, str]]:
    """Every staff route a rule or window sends to, with the path that names it."""
    used: list[tuple[PathKey, str]] = []
    for index, rule in enumerate(config.rules):
        for number, action in enumerate(rule.actions):
            if isinstance(action, AlertAction | EscalateAction):
                used.append((("rules", index, "actions", number, "route"), action.route))
    for index, window in enumerate(config.windows):
        used.append((("windows", index, "route"), window.route))
    return used
