"""`platforms.telegram_groups` in config.yaml: listening in the bot's groups and channels.

Apart from listeners/telegram.py so that loading the config never imports python-telegram-bot.
"""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.config_types import comma_separated
from core.duration import Duration


class TelegramGroupsConfig(BaseModel):
    """`platforms.telegram_groups`: listening in chats; the bot itself is `platforms.telegram`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Words that make a group message a mention (any case, whole words). Empty: listening off,
    # since every message of a busy group would otherwise become a mention.
    keywords: list[str] = Field(default_factory=list)
    # Only these chat ids; empty: every group and channel the bot is in (never the staff chats).
    chats: list[int] = Field(default_factory=list)
    # Telegram keeps undelivered updates for 24 h; on first start only this much is triaged.
    backfill: Duration = timedelta(hours=1)

    _lists = field_validator("keywords", "chats", mode="before")(comma_separated)

    @property
    def listening(self) -> bool:
        return self.enabled and bool(self.keywords)
