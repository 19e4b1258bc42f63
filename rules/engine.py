"""Compile rules once, evaluate each mention in one pass: pure, no I/O.

The same `Engine.evaluate` runs live, in `rules test` and in a backtest. Sentiment and the default
triage are computed once per mention, never per rule; every rule keyword of every rule sits in one
Aho-Corasick automaton, so a thousand keywords cost about what ten do.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from core.models import Mention
from rules.schema import AlertAction, Condition, IgnoreAction, Rule, RulesConfig, StopAction
from rules.text import fold
from rules.triage import Assessment, Triage


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str  # the first rule that asked for it; all rules that did are in Verdict.rules
    route: str


@dataclass(frozen=True, slots=True)
class Verdict:
    sentiment: float
    urgency: int  # 0..100
    reasons: tuple[str, ...]  # "refund +25", "followers 48k +15", …
    rules: tuple[str, ...]  # names of the rules that matched, in evaluation order
    alerts: tuple[Alert, ...]
    needs_response: bool
    ignored_by: str = ""  # the rule whose `ignore` dropped the mention


@dataclass(slots=True)
class _Compiled:
    rule: Rule
    # id() of each Condition node holding keywords/exclude → index into the match table
    keyword_nodes: dict[int, int] = field(default_factory=dict)
    exclude_nodes: dict[int, int] = field(default_factory=dict)


class Engine:
    def __init__(self, config: RulesConfig, triage: Triage):
        self.config = config
        self.triage = triage
        self._rules: list[_Compiled] = []
        self._automaton = ahocorasick.Automaton()
        self._terms: dict[str, list[int]] = defaultdict(list)  # folded term → term-set slots
        self._slot_count = 0
        for rule in config.rules:
            if rule.enabled:
                compiled = _Compiled(rule)
                self._index(rule.when, compiled)
                self._rules.append(compiled)
        for term, slots in self._terms.items():
            self._automaton.add_word(term, (term, tuple(slots)))
        if self._terms:
            self._automaton.make_automaton()

    def _index(self, condition: Condition, compiled: _Compiled) -> None:
        for terms, nodes in (
            (condition.keywords, compiled.keyword_nodes),
            (condition.exclude, compiled.exclude_nodes),
        ):
            if terms:
                slot = self._slot_count
                self._slot_count += 1
                nodes[id(condition)] = slot
                for term in {fold(t) for t in terms}:
                    self._terms[term].append(slot)
        for child in (
            *condition.any,
            *condition.all,
            *([condition.not_] if condition.not_ else []),
        ):
            self._index(child, compiled)

    def evaluate(self, mention: Mention, assessment: Assessment | None = None) -> Verdict:
        assessment = assessment or self.triage.assess(mention.text, mention.lang or None)
        matched = self._match(mention.text)
        weights = self.config.urgency
        reasons: list[str] = []
        points = 0.0
        for signal in assessment.signals:
            signal_points = round(signal.points * weights.triage)
            if signal_points:
                points += signal_points
                reasons.append(f"{signal.label} {signal_points:+d}")
        reach = _reach_points(mention.author_followers, weights.reach)
        if reach:
            points += reach
            reasons.append(f"followers {_short(mention.author_followers)} +{reach}")
        if mention.author_verified and weights.verified:
            points += weights.verified
            reasons.append(f"verified +{weights.verified}")
        fired: list[str] = []
        alerts: dict[str, Alert] = {}
        keyword_hits: list[str] = []
        ignored_by = ""
        context = _Context(mention, assessment, matched, _clamp(points))
        for compiled in self._rules:
            if not _holds(compiled.rule.when, compiled, context):
                continue
            fired.append(compiled.rule.name)
            for slot in compiled.keyword_nodes.values():
                keyword_hits.extend(t for t in matched.get(slot, ()) if t not in keyword_hits)
            actions = compiled.rule.actions
            if any(isinstance(a, IgnoreAction) for a in actions):
                ignored_by = compiled.rule.name
                alerts.clear()
                break
            for action in actions:
                if isinstance(action, AlertAction):
                    alerts.setdefault(action.route, Alert(compiled.rule.name, action.route))
            if any(isinstance(a, StopAction) for a in actions):
                break
        triage_labels = {fold(signal.label) for signal in assessment.signals}
        for term in keyword_hits:
            if term not in triage_labels and weights.keyword:
                points += weights.keyword
                reasons.append(f"{term} +{weights.keyword}")
        return Verdict(
            sentiment=assessment.sentiment,
            urgency=_clamp(points),
            reasons=tuple(reasons),
            rules=tuple(fired),
            alerts=tuple(alerts.values()),
            needs_response=assessment.needs_response,
            ignored_by=ignored_by,
        )

    def _match(self, text: str) -> dict[int, list[str]]:
        """Term-set slot → folded terms found in `text` as whole words."""
        found: dict[int, list[str]] = defaultdict(list)
        if not self._terms:
            return found
        folded = fold(text)
        for end, (term, slots) in self._automaton.iter(folded):
            start = end - len(term) + 1
            if _is_word_start(folded, start) and _is_word_end(folded, end):
                for slot in slots:
                    if term not in found[slot]:
                        found[slot].append(term)
        return found


@dataclass(frozen=True, slots=True)
class _Context:
    mention: Mention
    assessment: Assessment
    matched: dict[int, list[str]]
    urgency: int


def _holds(condition: Condition, compiled: _Compiled, ctx: _Context) -> bool:
    mention, assessment = ctx.mention, ctx.assessment
    slot = compiled.keyword_nodes.get(id(condition))
    if slot is not None and not ctx.matched.get(slot):
        return False
    slot = compiled.exclude_nodes.get(id(condition))
    if slot is not None and ctx.matched.get(slot):
        return False
    checks = (
        not condition.platform or mention.platform in condition.platform,
        condition.sentiment_below is None or assessment.sentiment < condition.sentiment_below,
        condition.sentiment_above is None or assessment.sentiment > condition.sentiment_above,
        condition.followers_at_least is None
        or mention.author_followers >= condition.followers_at_least,
        condition.needs_response is None or assessment.needs_response == condition.needs_response,
        condition.urgency_at_least is None or ctx.urgency >= condition.urgency_at_least,
    )
    if not all(checks):
        return False
    if condition.any and not any(_holds(c, compiled, ctx) for c in condition.any):
        return False
    if not all(_holds(c, compiled, ctx) for c in condition.all):
        return False
    return not (condition.not_ and _holds(condition.not_, compiled, ctx))


def _is_word_start(text: str, start: int) -> bool:
    return start == 0 or not text[start - 1].isalnum() or not text[start].isalnum()


def _is_word_end(text: str, end: int) -> bool:
    return end + 1 >= len(text) or not text[end + 1].isalnum() or not text[end].isalnum()


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


def _clamp(points: float) -> int:
    return max(0, min(100, round(points)))
