"""Compile rules once, evaluate each mention in one pass: pure, no I/O.

The same `Engine.evaluate` runs live, in `rules test` and in a backtest. Sentiment and the default
triage are computed once per mention, never per rule; every rule keyword of every rule sits in one
Aho-Corasick automaton, and a rule whose `when` names keywords is only looked at when one of them
was found, so a thousand rules cost about what ten do.
"""

import functools
import math
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import ahocorasick

from core.duration import format_duration
from core.mention import Mention
from core.platforms import author_values
from core.reasons import Reason, ReasonKind, measured_topic
from rules.checks import (
    Check,
    Context,
    Term,
    all_of,
    mention_checks,
    time_check,
    triage_checks,
)
from rules.deferred_triage import DeferredTriage
from rules.patterns import compile_pattern
from rules.schema import (
    AlertAction,
    Condition,
    EscalateAction,
    ReplyAction,
    Rule,
    RulesConfig,
    TagAction,
)
from rules.templates import render_template
from rules.text import fold
from rules.triage import Assessment, Signal, Triage
from rules.verdict import Alert, Escalation, Reply, Verdict


@dataclass(slots=True)
class _CompiledRule:
    """A rule ready to run: its condition as one function, its actions built in advance."""

    rule: Rule
    order: int
    check: Check
    gate: int | None  # a keyword slot that must match for the rule to be able to fire
    weighted_slots: list[int]  # keyword slots whose terms add urgency when the rule fires
    alerts: tuple[Alert, ...]
    reply: ReplyAction | None
    tags: tuple[str, ...]
    escalations: tuple[Escalation, ...]
    ignores: bool
    stops: bool

    @classmethod
    def build(cls, rule: Rule, order: int, check: Check, weighted: list[int]) -> "_CompiledRule":
        actions = rule.actions
        return cls(
            rule=rule,
            order=order,
            check=check,
            gate=weighted[0] if rule.when.keywords else None,
            weighted_slots=weighted,
            alerts=tuple(
                Alert(rule.name, a.route, rule.owner, rule.priority)
                for a in actions
                if isinstance(a, AlertAction)
            ),
            reply=next((a for a in actions if isinstance(a, ReplyAction)), None),
            tags=tuple(tag for a in actions if isinstance(a, TagAction) for tag in a.tags),
            escalations=tuple(
                Escalation(rule.name, a.route, a.after)
                for a in actions
                if isinstance(a, EscalateAction)
            ),
            ignores=any(a.kind == "ignore" for a in actions),
            stops=any(a.kind == "stop" for a in actions),
        )


class Engine:
    def __init__(self, config: RulesConfig, triage: Triage | DeferredTriage):
        """`triage`, or what builds it when the first mention is scored."""
        self.config = config
        self._triage_source = triage
        self._terms: dict[str, list[Term]] = {}  # folded term → where it is used
        self._slots = 0
        self._lists = {name: frozenset(entries) for name, entries in config.lists.items()}
        self._zone = zoneinfo.ZoneInfo(config.timezone)
        enabled = [rule for rule in config.rules if rule.enabled]
        ordered = sorted(enumerate(enabled), key=lambda pair: (-pair[1].priority, pair[0]))
        self._rules = [self._compile_rule(rule, order) for order, (_i, rule) in enumerate(ordered)]
        self._ungated = [r for r in self._rules if r.gate is None]
        self._gated: dict[int, list[_CompiledRule]] = {}
        for compiled in self._rules:
            if compiled.gate is not None:
                self._gated.setdefault(compiled.gate, []).append(compiled)
        self._automaton = ahocorasick.Automaton()
        for key, uses in self._terms.items():
            # Whether the key starts and ends with a letter or digit decides if a word boundary
            # must be checked there: "#acme" and "c++" need none at their symbol ends.
            self._automaton.add_word(key, (len(key), key[0].isalnum(), key[-1].isalnum(), uses))
        if self._terms:
            self._automaton.make_automaton()

    @functools.cached_property
    def triage(self) -> Triage:
        """Looked up once: a deferred triage is built for the first mention scored, and every
        later mention reads the attribute the cache set, with no check on the hot path."""
        source = self._triage_source
        return source.get() if isinstance(source, DeferredTriage) else source

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Enabled rules in evaluation order (priority, then file order)."""
        return tuple(compiled.rule.name for compiled in self._rules)

    # --- compiling ------------------------------------------------------------------------

    def _compile_rule(self, rule: Rule, order: int) -> _CompiledRule:
        weighted: list[int] = []
        check = self._condition(rule.when, weighted, positive=True, gated=True)
        return _CompiledRule.build(rule, order, check, weighted)

    def _new_slot(self, terms: dict[str, int | None]) -> int:
        slot = self._slots
        self._slots += 1
        for written, weight in terms.items():
            word = written.rstrip("*")
            term = Term(slot, word != written, word, fold(word), weight)
            self._terms.setdefault(_spaced(fold(word)), []).append(term)
        return slot

    def _condition(
        self, condition: Condition, weighted: list[int], positive: bool, gated: bool = False
    ) -> Check:
        """One function checking every part of `condition`, cheapest parts first.

        `gated`: this is a rule's top-level condition, whose keywords decide whether the rule is
        a candidate at all (see `_candidates`), so they need no second look here.
        """
        checks: list[Check] = []
        if condition.keywords:
            slot = self._new_slot(condition.keywords)
            if positive:
                weighted.append(slot)
            if not gated:
                checks.append(lambda ctx: slot in ctx.matched)
        if condition.exclude:
            excluded = self._new_slot(dict.fromkeys(condition.exclude))
            checks.append(lambda ctx: excluded not in ctx.matched)
        checks.extend(mention_checks(condition))
        if condition.author_in:
            authors = frozenset().union(*(self._lists[name] for name in condition.author_in))
            checks.append(lambda ctx: ctx.handle in authors or ctx.mention.author_id in authors)
        checks.extend(triage_checks(condition))
        if condition.time is not None:
            checks.append(time_check(condition.time, self._zone))
        if condition.regex:
            searches = [compile_pattern(p) for p in condition.regex]  # RE2: linear time
            checks.append(lambda ctx: any(search(ctx.mention.text) for search in searches))
        if condition.any:
            options = [self._condition(c, weighted, positive) for c in condition.any]
            checks.append(lambda ctx: any(option(ctx) for option in options))
        checks.extend(self._condition(c, weighted, positive) for c in condition.all)
        if condition.not_ is not None:
            negated = self._condition(condition.not_, weighted, not positive)
            checks.append(lambda ctx: not negated(ctx))
        return all_of(checks)

    # --- evaluating -----------------------------------------------------------------------

    def evaluate(
        self,
        mention: Mention,
        assessment: Assessment | None = None,
        *,
        now: datetime | None = None,
        author_recent_count: int = 0,
    ) -> Verdict:
        """What the rules make of `mention`.

        `now` is the moment `time:` conditions look at (default: when the mention was written);
        `author_recent_count` is how many earlier mentions the same author wrote within
        `urgency.repeat_window`, counted by the caller, so evaluation stays pure.
        """
        assessment = assessment or self.triage.assess(mention.text, mention.lang or None)
        is_question = _is_question(mention.text, assessment.signals)
        parts = self._triage_parts(assessment.signals)
        base = self._base_points(mention, is_question, author_recent_count)
        matched = self._match(mention.text)
        outcome = _Outcome()
        candidates = self._candidates(matched)
        if candidates:
            ctx = Context(
                mention=mention,
                assessment=assessment,
                matched=matched,
                urgency=_clamp(_sum(parts) + _sum(base)),
                now=now or mention.created_at,
                language=(mention.lang or assessment.language).split("-")[0].lower(),
                handle=mention.author_handle.lstrip("@").casefold(),
                is_question=is_question,
            )
            for compiled in candidates:
                if compiled.check(ctx) and outcome.apply(compiled, ctx):
                    break
        if outcome.terms and not outcome.ignored_by:
            parts = self._with_keywords(parts, list(outcome.terms.values()))
        parts += base
        return Verdict(
            sentiment=assessment.sentiment,
            urgency=_clamp(_sum(parts)),
            reasons=tuple(parts),
            rules=tuple(outcome.fired),
            alerts=tuple(outcome.alerts.values()),
            needs_response=assessment.needs_response,
            ignored_by=outcome.ignored_by,
            replies=tuple(outcome.replies),
            tags=tuple(outcome.tags),
            escalations=tuple(outcome.escalations.values()),
            is_question=is_question,
        )

    def _triage_parts(self, signals: tuple[Signal, ...]) -> list[Reason]:
        """The triage's signals as weighted reasons, zero points left out."""
        weights = self.config.urgency
        parts = []
        for signal in signals:
            if signal.category == "sentiment":
                points = round(signal.points * weights.sentiment)
            elif signal.category == "question" and weights.question is not None:
                continue  # replaced by the `question` weight in the base points
            else:
                points = round(signal.points * weights.triage)
            if points:
                parts.append(_reason(signal.label, points, ReasonKind.TRIAGE))
        return parts

    def _with_keywords(self, parts: list[Reason], terms: Iterable[Term]) -> list[Reason]:
        """Add the fired rules' keyword points to the triage's, never counting a term twice.

        A term the triage already scored keeps the triage's points, unless the rule gives it an
        explicit weight: then the rule's weight replaces them.
        """
        default = self.config.urgency.keyword
        explicit = {term.folded for term in terms if term.weight is not None}
        kept = [reason for reason in parts if fold(reason.label) not in explicit]
        counted = {fold(reason.label) for reason in parts}
        for term in terms:
            if term.weight is not None:
                if term.weight:
                    kept.append(_reason(term.written, term.weight, ReasonKind.KEYWORD))
            elif default and term.folded not in counted:
                kept.append(_reason(term.written, default, ReasonKind.KEYWORD))
        return kept

    def _base_points(self, mention: Mention, is_question: bool, recent: int) -> list[Reason]:
        """Urgency that does not depend on which rules match: reach, verified, repeat, question."""
        weights = self.config.urgency
        parts: list[Reason] = []
        reach = _reach_points(mention.author_followers, weights.reach)
        if reach:
            label = f"followers {_short(mention.author_followers)}"
            parts.append(Reason(label, reach, ReasonKind.REACH, "followers"))
        if mention.author_verified and weights.verified:
            parts.append(Reason("verified", weights.verified, ReasonKind.VERIFIED))
        if recent > 0 and weights.repeat:
            window = format_duration(weights.repeat_window)
            points = min(weights.repeat_max, weights.repeat * recent)
            label = f"repeat: {recent} earlier in {window}"
            parts.append(Reason(label, points, ReasonKind.REPEAT, "repeat"))
        if is_question and weights.question:
            parts.append(Reason("question", weights.question, ReasonKind.QUESTION))
        return parts

    def _match(self, text: str) -> dict[int, list[Term]]:
        """Keyword slot → its terms found in `text` as whole words (or stems)."""
        found: dict[int, list[Term]] = {}
        if not self._terms:
            return found
        # Padded with spaces, so the characters around a match always exist.
        padded = " " + _spaced(fold(text)) + " "
        for end, (length, word_start, word_end, terms) in self._automaton.iter(padded):
            if word_start and padded[end - length].isalnum():
                continue  # "late" inside "chocolate"
            whole = not word_end or not padded[end + 1].isalnum()
            for term in terms:
                if not (whole or term.stem):
                    continue
                hits = found.get(term.slot)
                if hits is None:
                    found[term.slot] = [term]
                elif term not in hits:
                    hits.append(term)
        return found

    def _candidates(self, matched: dict[int, list[Term]]) -> list[_CompiledRule]:
        """Rules that can fire: those without keywords, and those whose keywords were found."""
        gated = [rule for slot in matched for rule in self._gated.get(slot, ())]
        if not gated:
            return self._ungated
        return sorted([*self._ungated, *gated], key=lambda compiled: compiled.order)


@dataclass(slots=True)
class _Outcome:
    """What the rules fired so far decided, in evaluation order."""

    fired: list[str] = field(default_factory=list)
    alerts: dict[str, Alert] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    escalations: dict[str, Escalation] = field(default_factory=dict)
    terms: dict[str, Term] = field(default_factory=dict)  # folded → first rule's use
    ignored_by: str = ""

    def apply(self, compiled: _CompiledRule, ctx: Context) -> bool:
        """Take in a fired rule's actions and matched terms; True when no later rule may run."""
        self.fired.append(compiled.rule.name)
        for slot in compiled.weighted_slots:
            for term in ctx.matched.get(slot, ()):
                self.terms.setdefault(term.folded, term)
        if compiled.ignores:
            self.ignored_by = compiled.rule.name
            self.alerts.clear()
            self.replies.clear()
            self.tags.clear()
            self.escalations.clear()
            return True
        for alert in compiled.alerts:
            self.alerts.setdefault(alert.route, alert)
        if compiled.reply is not None and not self.replies:
            self.replies.append(_reply(compiled.rule.name, compiled.reply, ctx.mention))
        self.tags.extend(tag for tag in compiled.tags if tag not in self.tags)
        for escalation in compiled.escalations:
            self.escalations.setdefault(escalation.route, escalation)
        return compiled.stops


def _reply(rule: str, action: ReplyAction, mention: Mention) -> Reply:
    values = {
        **author_values(mention.platform, mention.author_handle, mention.author_id),
        "rule": rule,
    }
    text = render_template(action.template, values)
    return Reply(rule, action.template, text, action.dry_run)


def _is_question(text: str, signals: tuple[Signal, ...]) -> bool:
    # The triage lexicon knows each language's question openings ("how do I …"); a question
    # mark in any script counts even when the lexicon gives questions no points.
    if "?" in text or "？" in text or "؟" in text:
        return True
    return any(signal.category == "question" for signal in signals)


def _spaced(text: str) -> str:
    """`text` with every run of whitespace as one space, so phrases match across line breaks."""
    return " ".join(text.split())


def _reach_points(followers: int, full: int) -> int:
    """0 below 1,000 followers, then log-scaled up to `full` points at 1,000,000."""
    if followers < 1000 or full == 0:
        return 0
    return min(full, round(full * math.log10(followers / 1000) / 3)) or 1


def _short(count: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= size:
            value = count / size
            return f"{value:.1f}".rstrip("0").rstrip(".") + suffix
    return str(count)


@lru_cache(maxsize=8192)
def _reason(label: str, points: int, kind: ReasonKind) -> Reason:
    """A triage or keyword reason; the same few recur on most mentions, and a Reason is
    immutable, so one is built (and its label's topic read) once, not per mention."""
    return Reason(label, points, kind, measured_topic(label))


def _sum(reasons: list[Reason]) -> int:
    return sum(reason.points or 0 for reason in reasons)


def _clamp(points: float) -> int:
    return max(0, min(100, round(points)))
