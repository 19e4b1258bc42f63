"""What keeps automatic replies from embarrassing the brand: every check configurable, all on.

An agent's own reply is never held back here (a person decided); a rule's auto-reply and the
SLA watcher's holding reply are. Each check says why, and that reason is recorded and shown to
staff. Quiet hours and the hourly cap make a reply wait; the other checks drop it.
"""

import fnmatch
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from core.duration import Duration, human_duration
from core.mention import Mention

if TYPE_CHECKING:
    from core.store import Store

# Replies in these states count as "the customer was answered" (attempting: maybe).
ANSWERED = ("sent", "attempting", "uncertain")


def _hour_ranges(value: object) -> object:
    """`"22:00-07:00"` or a list of such ranges; "off", "" or null: no quiet hours."""
    if value is None or str(value).strip().lower() in ("", "off", "none"):
        return []
    parts = value if isinstance(value, list) else str(value).split(",")
    out = []
    for part in parts:
        if isinstance(part, tuple | list):
            out.append(tuple(part))
            continue
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(part))
        if not match:
            raise ValueError(f"{part!r} is not a time range; write it like 22:00-07:00")
        h1, m1, h2, m2 = map(int, match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
            raise ValueError(f"{part!r}: hours run 00:00 to 23:59, start and end differ")
        out.append((time(h1, m1), time(h2, m2)))
    return out


def _handles(value: object) -> object:
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item).strip().lstrip("@").casefold() for item in value]
    return value


Handles = Annotated[list[str], BeforeValidator(_handles)]


class RepliesConfig(BaseModel):
    """`replies:` in config.yaml; see docs/replies.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True  # false: rules' replies are recorded as skipped, nothing is posted
    once_per_mention: bool = True
    skip_bots: bool = True
    # Other accounts of the brand (the configured X, Reddit and Telegram ones are always in).
    own_accounts: Handles = Field(default_factory=list)
    # Handles treated as bots, with * wildcards (Reddit and X have no bot flag).
    bot_handles: Handles = Field(default_factory=lambda: ["automoderator", "*bot", "*_bot"])
    per_author: Duration | None = timedelta(hours=24)  # null: no cooldown
    per_conversation: Duration | None = timedelta(hours=24)
    max_per_hour: int | None = Field(default=20, ge=1)  # all platforms together; null: no cap
    quiet_hours: Annotated[list[tuple[time, time]], BeforeValidator(_hour_ranges)] = Field(
        default_factory=lambda: [(time(22), time(7))]
    )
    timezone: str = "UTC"
    # A reply that waited (quiet hours, cap) this long is no longer sent: it would read oddly.
    max_age: Duration = timedelta(hours=12)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (write e.g. Europe/Istanbul)") from None
        return name


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Literal["send", "skip", "wait"]
    reason: str = ""
    until: datetime | None = None  # for "wait"


SEND = Verdict("send")


def author_key(mention: Mention) -> str:
    return f"{mention.platform}:{mention.author_id or mention.author_handle.casefold()}"


def conversation_key(mention: Mention) -> str:
    return f"{mention.platform}:{mention.conversation_id or mention.external_id}"


class Guardrails:
    def __init__(self, config: RepliesConfig, store: "Store", own_accounts: Iterable[str]):
        """`own_accounts`: the brand's handles and ids on the platforms it listens to."""
        self.config = config
        self.store = store
        self.own = {a.strip().lstrip("@").casefold() for a in own_accounts if a} | set(
            config.own_accounts
        )
        self.zone = zoneinfo.ZoneInfo(config.timezone)

    def check(
        self, mention: Mention, mention_id: int, outbox_id: int, now: datetime, dry_run: bool
    ) -> Verdict:
        """May the automatic reply of outbox action `outbox_id` to `mention` go out at `now`?

        A dry run is judged as if it were live, counting earlier dry runs as sent, so shadow
        mode shows what the live rule would really do.
        """
        config = self.config
        states = (*ANSWERED, "dry_run") if dry_run else ANSWERED
        if not config.enabled:
            return Verdict("skip", "automatic replies are switched off (replies.enabled)")
        handle = mention.author_handle.casefold()
        if handle in self.own or mention.author_id.casefold() in self.own:
            return Verdict("skip", "written by one of the brand's own accounts")
        if config.skip_bots and (
            mention.author_is_bot or any(fnmatch.fnmatchcase(handle, p) for p in config.bot_handles)
        ):
            return Verdict("skip", "the author looks like a bot")
        if now - mention.created_at > config.max_age:
            return Verdict("skip", f"older than {human_duration(config.max_age)}")

        def answered(
            since: datetime, mention: int | None = None, author: str = "", conversation: str = ""
        ) -> list[datetime]:
            return self.store.reply_times(
                since,
                states,
                mention_id=mention,
                author_key=author,
                conversation_key=conversation,
                exclude_outbox=outbox_id,
            )

        epoch = datetime.min.replace(tzinfo=now.tzinfo)
        if config.once_per_mention and answered(epoch, mention=mention_id):
            return Verdict("skip", "this mention was already answered automatically")
        if config.per_author and answered(now - config.per_author, author=author_key(mention)):
            span = human_duration(config.per_author)
            return Verdict("skip", f"this author got an automatic reply in the last {span}")
        if config.per_conversation and answered(
            now - config.per_conversation, conversation=conversation_key(mention)
        ):
            span = human_duration(config.per_conversation)
            return Verdict("skip", f"this conversation got an automatic reply in the last {span}")
        quiet_until = self._quiet_until(now)
        if quiet_until is not None:
            return Verdict("wait", "quiet hours", quiet_until)
        if config.max_per_hour:
            last_hour = answered(now - timedelta(hours=1))
            if len(last_hour) >= config.max_per_hour:
                until = last_hour[len(last_hour) - config.max_per_hour] + timedelta(hours=1)
                return Verdict("wait", f"{config.max_per_hour} automatic replies an hour", until)
        return SEND

    def _quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet hours `now` falls in, or None."""
        local = now.astimezone(self.zone)
        for start, end in self.config.quiet_hours:
            wraps = end <= start
            at = local.time()
            inside = (start <= at or at < end) if wraps else (start <= at < end)
            if inside:
                day = local.date() if at < end else local.date() + timedelta(days=1)
                return datetime.combine(day, end, tzinfo=self.zone)
        return None
