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
import string
import zoneinfo
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from core.config_file import PathKey
from core.duration import Duration
from core.platforms import platforms
from rules.patterns import compile_pattern

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What a reply template may say about the mention it answers; nothing else is substituted.
TEMPLATE_FIELDS = ("author", "platform", "rule")
# Validation context flag: the loader checks references itself, with the line of each one.
LOCATED_REFERENCES = "located_references"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_or_many(value: object) -> object:
    """`platform: x` is short for `platform: [x]`."""
    return [value] if isinstance(value, str | int | float) else value


OneOrMany = BeforeValidator(_one_or_many)


def _registered_platform(value: object) -> str:
    """A platform key some descriptor registered; refused like a Literal, with the choices."""
    known = [info.key for info in platforms()]
    if not known:  # a programming error, not a config problem: say so rather than refuse all
        raise RuntimeError("no platform registered: discover service.platforms before validating")
    if isinstance(value, str) and value in known:
        return value
    expected = " or ".join(f"'{key}'" for key in known)
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


Platform = Annotated[str, PlainValidator(_registered_platform)]


# --- terms and patterns -------------------------------------------------------------------


def _terms_to_weights(value: object) -> object:
    """`keywords: [refund, broken]` → `{refund: None, broken: None}` (default weight)."""
    value = _one_or_many(value)
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


def _parse_hours(value: object) -> object:
    if not isinstance(value, str | list):
        return value
    return [_hour_range(str(part)) for part in _one_or_many(value)]  # type: ignore[union-attr]


def _hour_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not a time range; write it like 09:00-17:30")
    h1, m1, h2, m2 = map(int, match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{text!r}: hours run 00:00 to 24:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"{text!r} is empty: start and end are the same")
    return start, end  # end < start wraps past midnight: 22:00-06:00


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ALIASES = {"weekdays": "mon-fri", "weekend": "sat-sun"}


def _parse_days(value: object) -> object:
    if not isinstance(value, str | list):
        return value
    days: set[int] = set()
    for part in _one_or_many(value):  # type: ignore[union-attr]
        text = _DAY_ALIASES.get(str(part).strip().lower(), str(part).strip().lower())
        first, _, last = text.partition("-")
        start, end = _day(first), _day(last or first)
        days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    return sorted(days)


def _day(name: str) -> int:
    key = name.strip()
    for names in (DAYS, _DAY_NAMES):
        if key in names:
            return names.index(key)
    raise ValueError(
        f"{name!r} is not a day; write mon, tue, wed, thu, fri, sat, sun, a range like "
        "mon-fri, or weekdays / weekend"
    )


class TimeWindow(_Strict):
    """When, in local time, the condition holds: `hours` and `days` both, when given."""

    hours: Annotated[list[tuple[int, int]], BeforeValidator(_parse_hours)] = Field(
        default_factory=list
    )
    days: Annotated[list[int], BeforeValidator(_parse_days)] = Field(default_factory=list)
    timezone: str | None = None  # an IANA name such as Europe/Istanbul; default: the file's

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        return None if name is None else check_timezone(name)

    @model_validator(mode="after")
    def _says_something(self) -> "TimeWindow":
        if not self.hours and not self.days:
            raise ValueError("give hours (e.g. 09:00-17:00), days (e.g. mon-fri) or both")
        return self


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, _zone_names(), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else " (write e.g. Europe/Istanbul or UTC)"
        raise ValueError(f"unknown time zone '{name}'{hint}") from None
    return name


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


class AlertAction(_Strict):
    """Send the mention to a staff chat."""

    kind: Literal["alert"]
    route: str = "staff"  # a name under platforms.telegram.routes; "staff" is the alert chat


class ReplyAction(_Strict):
    """Answer the mention in public with a template; `{author}` etc. are filled in."""

    kind: Literal["reply"]
    template: str = Field(min_length=1, max_length=2000)
    dry_run: bool = False  # plan and log the reply, never send it

    @field_validator("template")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        template_fields(template)
        return template


class TagAction(_Strict):
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


class EscalateAction(_Strict):
    """Also alert `route` when nobody acknowledged the alert within `after` (0s: at once)."""

    kind: Literal["escalate"]
    route: str
    after: Duration = timedelta(0)


class IgnoreAction(_Strict):
    """Drop the mention: no action of any rule is taken for it. Put spam rules first."""

    kind: Literal["ignore"]


class StopAction(_Strict):
    """Later rules are not evaluated for this mention."""

    kind: Literal["stop"]


Action = Annotated[
    AlertAction | ReplyAction | TagAction | EscalateAction | IgnoreAction | StopAction,
    Field(discriminator="kind"),
]
ACTION_KINDS = ("alert", "reply", "tag", "escalate", "ignore", "stop")


def template_fields(template: str) -> list[str]:
    """The placeholders of a reply template; ValueError for anything but plain `{name}`.

    Only these names are ever substituted, and only once: the author's handle (user text) is a
    value, never parsed as a template, so `{author}` named "{rule}" stays "{rule}".
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template: {exc}; write {{{{ and }}}} for literal braces") from None
    names = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            allowed = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
            raise ValueError(
                f"template placeholder {{{name}}} is unknown; use {allowed} "
                "(write {{ and }} for literal braces)"
            )
        names.append(name)
    return names


def render_template(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders checked by `template_fields`; values are inserted verbatim."""
    out = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(values.get(name, ""))
    return "".join(out)


# --- rules --------------------------------------------------------------------------------


class Rule(_Strict):
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


# --- window rules -------------------------------------------------------------------------


class WindowFilter(_Strict):
    """Which stored mentions a window rule counts; all of them when empty."""

    platform: Annotated[list[Platform], OneOrMany] = Field(default_factory=list)
    source: Annotated[list[str], OneOrMany] = Field(default_factory=list)  # globs
    rules: Annotated[list[str], OneOrMany] = Field(default_factory=list)  # matched any of these


class _Window(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    enabled: bool = True
    owner: str = Field(default="", max_length=64)
    when: WindowFilter = Field(default_factory=WindowFilter)
    route: str = "staff"


class SpikeWindow(_Window):
    """Volume in the `last` span is `factor` times the rate of the `baseline` span before it."""

    kind: Literal["spike"]
    last: Duration = timedelta(hours=1)
    baseline: Duration = timedelta(hours=12)
    factor: float = Field(default=3.0, gt=1, le=1000)
    at_least: int = Field(default=10, ge=1)  # never fire on fewer mentions than this

    @model_validator(mode="after")
    def _spans(self) -> "SpikeWindow":
        if self.last < timedelta(minutes=1):
            raise ValueError("last: must be at least 1m")
        if self.baseline < self.last:
            raise ValueError("baseline must be at least as long as last")
        return self


class FrequencyWindow(_Window):
    """`count` or more mentions from one author (or conversation, or in all) within `within`."""

    kind: Literal["frequency"]
    per: Literal["author", "conversation", "all"] = "author"
    count: int = Field(ge=2)
    within: Duration

    @field_validator("within")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("within: must be at least 1m")
        return value


class FlatlineWindow(_Window):
    """No mention at all from the matching sources for `quiet_for`: usually a broken listener."""

    kind: Literal["flatline"]
    quiet_for: Duration

    @field_validator("quiet_for")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("quiet_for: must be at least 1m")
        return value

    @model_validator(mode="after")
    def _sources_only(self) -> "FlatlineWindow":
        if self.when.rules:
            raise ValueError(
                "flatline watches sources going quiet; filter it by platform or source, not rules"
            )
        return self


Window = Annotated[SpikeWindow | FrequencyWindow | FlatlineWindow, Field(discriminator="kind")]
WINDOW_KINDS = ("spike", "frequency", "flatline")


# --- urgency and the whole rule set -------------------------------------------------------


class UrgencyWeights(_Strict):
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


class RulesConfig(_Strict):
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
