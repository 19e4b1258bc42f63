"""What the console's pages need from the running node, in one place."""

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.clock import Clock
from core.config_file import Location
from core.store import Store
from core.web_logins import WebLogins
from responders.telegram_config import SavedReply
from rules.engine import Engine
from rules.loader import ReloadRecord
from rules.schema import RulesConfig
from service.config import AppConfig
from service.health import HealthReport
from service.metrics import Metrics
from service.platforms import descriptors
from service.polling import SourcePoller
from service.workflow import AgentWorkflow

HERE = Path(__file__).resolve().parent
_HTTP_URL = re.compile(r"^https?://[^\s\"'<>]+$")


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    config: AppConfig
    store: Store
    clock: Clock
    zone: tzinfo
    workflow: AgentWorkflow | None  # None when Telegram is not set up: nothing to act on
    saved_replies: Sequence[SavedReply]
    pollers: Sequence[SourcePoller]  # this node's sources (rate budgets are known per node)
    health: Callable[[], Awaitable[HealthReport]]
    metrics: Metrics
    rules: Callable[[], RulesConfig]  # the rules in force (they reload while running)
    engine: Callable[[], Engine]  # … compiled, with the node's triage
    rule_places: Callable[[], Mapping[str, Location]]  # their file:line; empty without a file
    last_reload: Callable[[], ReloadRecord | None]  # None: no rule file changed since start
    rules_dir: Path  # the config's rules/ folder: candidate files for a backtest

    @property
    def logins(self) -> WebLogins:
        return WebLogins(self.store.engine)

    def choices(self) -> dict[str, list[str]]:
        """The filter menus: the configured platforms, rules and languages (no query)."""
        return {
            "platform": [platform.info.key for platform in descriptors()],
            "rule": sorted({rule.name for rule in self.rules().rules}),
            "lang": list(self.config.brand.languages),
        }

    def is_agent(self, user_id: str) -> bool:
        """May this agent session act? (An empty TELEGRAM_AGENT_IDS lets every agent act, as
        in the staff chat; /web then gives no links, only `main.py web link` does.)"""
        return user_id.isdigit() and self.config.platforms.telegram.is_agent(int(user_id))


def templates(zone: tzinfo, now: Callable[[], datetime]) -> Environment:
    """Jinja with autoescape on for every template: mention texts are hostile until shown."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = lambda moment: _local(moment, zone)
    env.filters["iso"] = lambda moment: moment.isoformat() if moment else ""
    env.filters["left"] = lambda moment: time_left(moment, now())
    env.filters["safe_url"] = http_url
    env.globals["now"] = now
    return env


def http_url(url: str) -> str:
    """A link target only when it is http(s): never `javascript:` (autoescape does the rest)."""
    return url if _HTTP_URL.match(url or "") else ""


def _local(moment: datetime | None, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "—"


def time_left(due: datetime | None, now: datetime) -> str:
    """What the countdown shows before the page's script takes over ("12m left")."""
    if due is None:
        return "no deadline"
    seconds = int((due - now).total_seconds())
    span = abs(seconds)
    text = f"{span // 3600}h {span % 3600 // 60:02d}m" if span >= 3600 else f"{span // 60}m"
    return f"{text} left" if seconds > 0 else f"breached {text} ago"


def as_json(value: Any) -> Any:
    """Datetimes as ISO text for the .json twins."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value
