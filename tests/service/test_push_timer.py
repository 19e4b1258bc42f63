"""A push source's retry timer saves again only what a failed push left (issue 19: an idle
node does no work on it)."""

import dataclasses
from collections.abc import Callable

from sandbox.telegram_api import FakeTelegram
from service.app import BrandPulse
from service.config import AppConfig
from service.polling import PollResult


async def test_the_push_timer_retries_only_a_push_not_saved(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = BrandPulse(sandbox_config())
    try:
        [(poller, push)] = [(p, h) for p, h in app.pushed if p.source == "telegram:groups"]
        push = dataclasses.replace(push, live=lambda: True)  # as while the bot runs
        outcomes: list[PollResult | None] = [None, PollResult(0, [], 1, False)]
        reads: list[int] = []

        async def read_the_source() -> PollResult | None:
            reads.append(1)
            return outcomes.pop(0) if outcomes else PollResult(0, [], 1, False)

        poller.push = read_the_source  # type: ignore[method-assign]
        await app._push_retry_job(poller, push)  # at start: what came before the node ran
        assert len(reads) == 1  # … and the listener failed
        await app._push_retry_job(poller, push)  # so the timer tries again, and saves
        await app._push_retry_job(poller, push)
        await app._push_retry_job(poller, push)
        assert len(reads) == 2  # saved: the timer reads nothing more
        await app._push_job(poller, push)  # something pushed, and saved at once
        await app._push_retry_job(poller, push)
        assert len(reads) == 3
    finally:
        app.close()
