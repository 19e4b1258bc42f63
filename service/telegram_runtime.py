"""The one python-telegram-bot Application of the process: built, started, followed, stopped.

It carries the alerts and the staff's buttons and the group messages the bot sees. We own the
event loop: the Application is started by hand (`initialize`, `start`, `updater.start_polling`),
never with `run_polling()`, and with several nodes only the holder of `UPDATES_LEASE` reads
updates, since Telegram hands each update to one getUpdates caller.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, Application
from telegram.request import HTTPXRequest

from core.leases import Leases
from core.retry import backoff
from listeners.base import ListenerError
from listeners.telegram import read_waiting_updates
from listeners.tls import tls_context
from responders.telegram_config import TelegramConfig

# The logger the service has always reported Telegram's state under.
log = logging.getLogger("service.app")

TelegramApp = Application[Any, Any, Any, Any, Any, Any]
# Telegram hands each update to one getUpdates caller: with several nodes, one reads them.
UPDATES_LEASE = "telegram:updates"
# How long a getUpdates waits for a tap or a reply before it returns empty. An update ends the
# wait at once, so a longer wait costs no latency; python-telegram-bot's 10 s had an idle node
# ask six times a minute (idle_cpu.py: 7 → 3 requests a minute to X and Telegram together).
# Stopping cancels the wait (the lease moved to another node, the node exits).
UPDATES_LONG_POLL = timedelta(seconds=30)


def build_application(telegram: TelegramConfig) -> TelegramApp:
    """The bot's Application on the configured API host (Telegram is set up: a token)."""
    return (
        Application.builder()
        .token(telegram.bot_token.get_secret_value())
        .base_url(f"{telegram.api_base}/bot")
        .base_file_url(f"{telegram.api_base}/file/bot")
        .rate_limiter(AIORateLimiter(max_retries=3))
        # The builder's own two requests (pool sizes 256 and 1), verifying with the context
        # the process's other httpx clients share instead of one parsed CA bundle each.
        .request(HTTPXRequest(httpx_kwargs={"verify": tls_context()}))
        .get_updates_request(
            HTTPXRequest(connection_pool_size=1, httpx_kwargs={"verify": tls_context()})
        )
        .build()
    )


class TelegramRuntime:
    """Starts and stops `application` and decides, by lease, whether this node reads updates."""

    def __init__(self, application: TelegramApp, leases: Leases):
        self.application = application
        self.leases = leases

    async def start(self, stop: asyncio.Event) -> None:
        """Start the bot, retrying in the background while Telegram is unreachable."""
        telegram = self.application
        assert telegram.updater is not None
        attempt = 0
        while not stop.is_set():
            try:
                await telegram.initialize()
                await telegram.start()
                await self.follow_updates()
                if attempt:
                    log.info("Telegram reachable again")
                return
            except InvalidToken:
                log.error("Telegram refused TELEGRAM_BOT_TOKEN: alerts wait in the outbox")
                return
            except TelegramError as exc:
                if attempt == 0:
                    log.warning("Telegram unreachable (%s): retrying in the background", exc)
                attempt += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff(attempt).total_seconds())

    async def stop(self) -> None:
        telegram = self.application
        assert telegram.updater is not None
        if telegram.updater.running:
            await telegram.updater.stop()
        if telegram.running:
            await telegram.stop()
        await telegram.shutdown()

    async def open_once(self) -> bool:
        """One-shot: initialize the bot; False (logged) when Telegram is unreachable."""
        try:
            await self.application.initialize()
        except TelegramError as exc:
            log.warning("Telegram unreachable (%s): alerts stay in the outbox", exc)
            return False
        return True

    async def keep_following_updates(self) -> None:
        """`follow_updates` from the lease job: a failure is logged and retried next beat."""
        try:
            await self.follow_updates()
        except TelegramError as exc:
            log.warning("Telegram updates not followed (%s); retrying", exc)

    async def follow_updates(self) -> None:
        """Read Telegram updates (button presses, replies) on the node holding their lease only."""
        telegram = self.application
        if telegram.updater is None or not telegram.running:
            return
        reader = await asyncio.to_thread(self.leases.hold, UPDATES_LEASE)
        if reader and not telegram.updater.running:
            await telegram.updater.start_polling(
                allowed_updates=Update.ALL_TYPES, timeout=UPDATES_LONG_POLL
            )
        elif not reader and telegram.updater.running:
            await telegram.updater.stop()

    async def read_waiting(
        self, after_page: Callable[[], Awaitable[object]], clock: Callable[[], datetime]
    ) -> None:
        """One-shot: the updates waiting now, if this node holds their lease.

        Each page is processed, `after_page` saves what the push sources hold, and only then
        is the page confirmed.
        """
        if not await asyncio.to_thread(self.leases.hold, UPDATES_LEASE):
            return
        try:
            await read_waiting_updates(self.application, after_page, clock)
        except ListenerError as exc:
            log.warning("could not read Telegram updates (%s); they wait for the next run", exc)
