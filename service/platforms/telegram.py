"""Telegram: the bot's groups and channels (listeners/telegram.py, pushed), replies as the bot.

The bot itself (`platforms.telegram`: token, staff chats, routes) also carries the alerts; its
Application is built by service/telegram_runtime.py and handed to this descriptor in `Wiring`.
"""

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, SecretStr

from core.platforms import PlatformInfo
from listeners.telegram_config import TelegramGroupsConfig
from responders.telegram_config import TelegramConfig
from service.platforms import PushHook, SourceSpec, Wiring

if TYPE_CHECKING:
    from responders.replies import Poster

# Group messages are pushed and saved as they arrive; the poll job only retries a failed save.
RETRY_SAVE_EVERY = timedelta(seconds=30)


class TelegramPlatform:
    info: ClassVar[PlatformInfo] = PlatformInfo("telegram", "Telegram", reply_limit=4096)
    # Listening in the groups and channels the bot is a member of is a section of its own.
    config_models: ClassVar[dict[str, type[BaseModel]]] = {
        "telegram": TelegramConfig,
        "telegram_groups": TelegramGroupsConfig,
    }
    position: ClassVar[int] = 30

    def sources(self, platforms: Any, wiring: Wiring) -> list[SourceSpec]:
        """Group mentions, fed by the one Application that also serves the staff buttons."""
        groups: TelegramGroupsConfig = platforms.telegram_groups
        bot: TelegramConfig = platforms.telegram
        application = wiring.telegram
        if application is None or not groups.listening:
            return []
        # python-telegram-bot is loaded already (the Application exists); imported here so
        # that loading the config does not load it.
        from listeners.telegram import TelegramListener

        staff = {route.chat_id for route in bot.routes.values()}
        if bot.alert_chat_id is not None:
            staff.add(bot.alert_chat_id)
        listener = TelegramListener(groups, bot_id(bot.bot_token.get_secret_value()), staff)
        push = PushHook(
            connect=lambda pushed: application.add_handler(listener.handler(pushed)),
            live=lambda: application.running,
        )
        return [SourceSpec(listener, RETRY_SAVE_EVERY, groups.backfill, push)]

    def poster(self, platforms: Any, wiring: Wiring) -> "Poster | None":
        if wiring.telegram is None:
            return None
        from responders.telegram_poster import TelegramPoster

        return TelegramPoster(wiring.telegram.bot, "the bot", wiring.clock)

    def secrets(self, platforms: Any) -> list[SecretStr]:
        return [platforms.telegram.bot_token]

    def listening(self, platforms: Any) -> bool:
        return bool(platforms.telegram.enabled and platforms.telegram_groups.listening)

    def own_accounts(self, platforms: Any) -> list[str]:
        """The bot (its own messages never come back, but a staff account's do)."""
        number = bot_id(platforms.telegram.bot_token.get_secret_value())
        return [str(number)] if number else []


def bot_id(token: str) -> int:
    """A bot's user id is the number before the colon of its token."""
    number = token.partition(":")[0]
    return int(number) if number.isdigit() else 0


DESCRIPTOR = TelegramPlatform()
