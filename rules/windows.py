"""Window rules (`spike`, `frequency`, `flatline`) judged on counts the caller supplies: pure.

The service counts stored mentions (service/windows.py) and calls `evaluate_windows` every
minute or so. Each firing is one `WindowAlert` whose `key` stays the same while the same episode
lasts (the same spike period, the same author in the same period, the same quiet spell), so the
caller sends one alert per episode by remembering the keys it sent, never one per mention.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.duration import human_duration
from rules.window_schema import FlatlineWindow, FrequencyWindow, SpikeWindow, Window


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """What a window rule needs to know about the stored mentions matching its filter."""

    recent: int = 0  # spike: in the last `last`; frequency with per=all: in `within`
    baseline: int = 0  # spike: in the `baseline` span just before `last`
    by_key: Mapping[str, int] = field(default_factory=dict)  # frequency: per author/conversation
    # flatline: the newest matching mention, or when the service started watching if none yet
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class WindowAlert:
    rule: str
    kind: str  # spike | frequency | flatline
    route: str
    key: str  # the same for every check of one episode: send once per key
    message: str  # plain English for the staff chat
    count: int = 0
    owner: str = ""


def evaluate_windows(
    windows: Sequence[Window], counts: Mapping[str, WindowCounts], now: datetime
) -> list[WindowAlert]:
    """The window rules that fire at `now`; a rule without counts is treated as all zero."""
    alerts: list[WindowAlert] = []
    for window in windows:
        if not window.enabled:
            continue
        seen = counts.get(window.name, WindowCounts())
        if isinstance(window, SpikeWindow):
            alerts.extend(_spike(window, seen, now))
        elif isinstance(window, FrequencyWindow):
            alerts.extend(_frequency(window, seen, now))
        else:
            alerts.extend(_flatline(window, seen, now))
    return alerts


def _spike(window: SpikeWindow, seen: WindowCounts, now: datetime) -> list[WindowAlert]:
    expected = seen.baseline * (window.last / window.baseline)  # baseline rate over `last`
    if seen.recent < window.at_least or seen.recent < window.factor * expected:
        return []
    last, baseline = human_duration(window.last), human_duration(window.baseline)
    compared = (
        f"{seen.recent / expected:.1f}× the usual {expected:.1f} (from the {baseline} before)"
        if expected
        else f"none in the {baseline} before"
    )
    return [
        WindowAlert(
            rule=window.name,
            kind="spike",
            route=window.route,
            key=f"{window.name}@{_period(now, window.last)}",
            message=f"Spike: {seen.recent} mentions in the last {last}, {compared}",
            count=seen.recent,
            owner=window.owner,
        )
    ]


def _frequency(window: FrequencyWindow, seen: WindowCounts, now: datetime) -> list[WindowAlert]:
    within = human_duration(window.within)
    by_key = {"all mentions": seen.recent} if window.per == "all" else seen.by_key
    return [
        WindowAlert(
            rule=window.name,
            kind="frequency",
            route=window.route,
            key=f"{window.name}:{who}@{_period(now, window.within)}",
            message=f"Frequency: {count} mentions in {within} from {window.per} {who}"
            if window.per != "all"
            else f"Frequency: {count} mentions in {within}",
            count=count,
            owner=window.owner,
        )
        for who, count in sorted(by_key.items())
        if count >= window.count
    ]


def _flatline(window: FlatlineWindow, seen: WindowCounts, now: datetime) -> list[WindowAlert]:
    if seen.last_seen is not None and now - seen.last_seen < window.quiet_for:
        return []
    since = (
        f"since {seen.last_seen:%Y-%m-%d %H:%M} UTC" if seen.last_seen else "since watching started"
    )
    where = ", ".join([*window.when.platform, *window.when.source]) or "any source"
    return [
        WindowAlert(
            rule=window.name,
            kind="flatline",
            route=window.route,
            key=f"{window.name}@{seen.last_seen.isoformat() if seen.last_seen else 'never'}",
            message=f"Flatline: no mention from {where} {since} "
            f"(quiet for over {human_duration(window.quiet_for)}); is a listener broken?",
            owner=window.owner,
        )
    ]


def _period(now: datetime, span: timedelta) -> int:
    """The number of the `span`-long period `now` falls in, counted from the epoch."""
    return int(now.timestamp() // span.total_seconds())
