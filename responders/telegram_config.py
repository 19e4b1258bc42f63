"""`platforms.telegram` in config.yaml: the bot, its staff chats and routes, the agents.

Apart from responders/telegram_alerts.py so that loading the config never imports
python-telegram-bot.
"""

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from core.config_types import blank_is_none, comma_separated, http_url


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chat_id: int
    topic: int | None = None  # a forum topic (message_thread_id) inside the chat


class SavedReply(BaseModel):
    """A ready answer agents pick from the Reply button; `{author}` and `{platform}` filled in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=2000)


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base: str = "https://api.telegram.org"
    bot_token: SecretStr = SecretStr("")
    alert_chat_id: int | None = None  # the "staff" route
    escalation_chat_id: int | None = None  # the "escalation" route: leads, on-call
    routes: dict[str, Route] = Field(default_factory=dict)
    # Telegram user ids allowed to act on alerts; empty: anyone in the staff chat.
    agents: list[int] = Field(default_factory=list)

    _chats = field_validator("alert_chat_id", "escalation_chat_id", mode="before")(blank_is_none)
    _lists = field_validator("agents", mode="before")(comma_separated)
    _urls = field_validator("api_base")(http_url)

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token.get_secret_value())

    def route(self, name: str) -> Route | None:
        if name in self.routes:
            return self.routes[name]
        if name == "staff" and self.alert_chat_id is not None:
            return Route(chat_id=self.alert_chat_id)
        if name == "escalation" and self.escalation_chat_id is not None:
            return Route(chat_id=self.escalation_chat_id)
        return None

    def is_agent(self, user_id: int) -> bool:
        return not self.agents or user_id in self.agents

    def chat_ids(self) -> set[int]:
        """Every chat a route points at: the staff chats whose minute budget is watched."""
        names = ("staff", "escalation", *self.routes)
        return {route.chat_id for route in map(self.route, names) if route is not None}
