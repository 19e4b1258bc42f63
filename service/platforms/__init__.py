"""Every platform BrandPulse speaks to, one descriptor module each, found here by discovery.

A descriptor holds all that differs per platform: its `PlatformInfo` (registered into
core/platforms for the lower layers when the package is discovered), its config model and key
under `platforms:`, how to build its sources and its poster from config, the secrets to keep out
of logs and the brand's own accounts. Config loading, the app's wiring and log redaction iterate
over `descriptors()`, so a new platform is a new module in this package (beside its listener,
poster and sandbox fake).
"""

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, SecretStr

from core.clock import Clock
from core.own_accounts import OwnAccounts
from core.platforms import PlatformInfo, register
from listeners.base import Listener

if TYPE_CHECKING:  # the store and python-telegram-bot only where a node runs
    from responders.replies import Poster
    from service.telegram_runtime import TelegramApp

HoldLease = Callable[[], Awaitable[bool]]
ReportFigures = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the app hands every descriptor to build its sources and poster from."""

    clock: Clock
    # The one python-telegram-bot Application of the process (alerts, buttons, group
    # messages); None when Telegram is not set up.
    telegram: "TelegramApp | None"
    # The config file, so a platform can name the line of a value the platform refused.
    config_path: Path | None = None


@dataclass(frozen=True, slots=True)
class PushHook:
    """How a push source's platform hands over what arrived (Telegram updates, a stream)."""

    # Call the given coroutine function whenever the source holds something new.
    connect: Callable[[Callable[[], Awaitable[None]]], None]
    # True while the platform pushes to the source; a one-shot run saves as it reads instead.
    live: Callable[[], bool]
    # A connection the source holds open itself (X's filtered stream), run as a task by a
    # long-running node with `hold` (does this node hold the source's lease?) and `report`
    # (store its figures for health); None when the platform's own runtime feeds it.
    run: Callable[[HoldLease, ReportFigures], Awaitable[None]] | None = None
    # Config was hot-reloaded: take the new `platforms` section (X's stream rules).
    reconfigure: Callable[[Any], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class SourceSpec:
    listener: Listener
    # How often it is polled; for a push source, how often a failed save is retried.
    every: timedelta
    # On first start, only mentions younger than this are triaged.
    backfill: timedelta
    push: PushHook | None = None  # None: a polled source


class PlatformDescriptor(Protocol):
    info: ClassVar[PlatformInfo]
    # Its sections under `platforms:` in config.yaml and their models, in file order.
    config_models: ClassVar[dict[str, type[BaseModel]]]
    # Where it comes in listings (sources, config): lower first.
    position: ClassVar[int]

    def sources(self, platforms: Any, wiring: Wiring) -> list[SourceSpec]:
        """The configured sources, [] when the platform is off (saying why in the log)."""
        ...

    def poster(self, platforms: Any, wiring: Wiring) -> "Poster | None":
        """Who posts replies on the platform, or None when no account is set up."""
        ...

    def secrets(self, platforms: Any) -> list[SecretStr]:
        """Every credential in its config, to be redacted from the logs."""
        ...

    def listening(self, platforms: Any) -> bool:
        """True when a source of it is configured on (its mentions would be read)."""
        ...

    def own_accounts(self, platforms: Any) -> list[str]:
        """The handles or ids its credentials belong to: the brand's own, never mentions."""
        ...


@cache
def descriptors() -> tuple[PlatformDescriptor, ...]:
    """Every module of this package's `DESCRIPTOR`, by position, its info registered."""
    found = [
        importlib.import_module(f"{__name__}.{module.name}").DESCRIPTOR
        for module in pkgutil.iter_modules(__path__)
    ]
    found.sort(key=lambda descriptor: descriptor.position)
    for descriptor in found:
        register(descriptor.info)
    return tuple(found)


def own_accounts(platforms: Any, configured: Mapping[str, list[str]]) -> OwnAccounts:
    """The brand's accounts: `brand.own_accounts` and every platform's credentials' account."""
    pairs = [(key, account) for key, accounts in configured.items() for account in accounts]
    pairs += [
        (descriptor.info.key, account)
        for descriptor in descriptors()
        for account in descriptor.own_accounts(platforms)
    ]
    return OwnAccounts.of(pairs)


def without_own_account(platforms: Any, configured: Mapping[str, list[str]]) -> list[str]:
    """Display names of the platforms that listen but know none of the brand's accounts."""
    known = own_accounts(platforms, configured)
    return [
        descriptor.info.display_name
        for descriptor in descriptors()
        if descriptor.listening(platforms) and not known.known_on(descriptor.info.key)
    ]


def config_models() -> dict[str, type[BaseModel]]:
    """Every section under `platforms:` and its model, platform by platform."""
    return {
        key: model
        for descriptor in descriptors()
        for key, model in descriptor.config_models.items()
    }
