"""The whole of config.yaml, composed from the models each part owns, validated before start."""

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model, field_validator
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from core.config_file import ConfigError, load_yaml
from core.config_types import blank_is_none, comma_separated
from core.duration import Duration
from core.own_accounts import parse_own_accounts
from core.platforms import platform, platforms
from responders.guardrails import RepliesConfig
from rules.loader import load_rules
from rules.schema import RulesConfig
from rules.triage import shipped_languages
from service.alerts_config import AlertsConfig
from service.platforms import config_models as platform_config_models
from service.reports_config import ReportsConfig
from service.sla_policy import SlaConfig

DEFAULT_CONFIG = Path("config.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandConfig(_Strict):
    name: str = "Our brand"
    # Languages customers write in; each needs a lexicon in rules/lexicons/ (en, tr ship).
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    # Your own lexicon files, layered over the shipped ones (paths relative to this file).
    lexicons: list[Path] = Field(default_factory=list)
    # The brand's accounts per platform (support, main handle, staff): their posts are stored
    # as ours, never alerted or answered. Env BRAND_OWN_ACCOUNTS: `x:acme,reddit:acme_help`.
    own_accounts: dict[str, list[str]] = Field(default_factory=dict)

    _lists = field_validator("languages", mode="before")(comma_separated)
    _own = field_validator("own_accounts", mode="before")(parse_own_accounts)

    def names(self) -> list[str]:
        """The brand's name and its own accounts' handles, which triage reads as neutral."""
        return [
            self.name,
            *(account for accounts in self.own_accounts.values() for account in accounts),
        ]

    @field_validator("own_accounts")
    @classmethod
    def _known_platforms(cls, accounts: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = [key for key in accounts if platform(key) is None]
        if unknown:
            raise ValueError(
                f"unknown platform {', '.join(map(repr, unknown))}; known: "
                + ", ".join(info.key for info in platforms())
            )
        return accounts

    @field_validator("languages")
    @classmethod
    def _shipped_lexicon(cls, languages: list[str]) -> list[str]:
        languages = [language.lower() for language in languages]
        missing = [lang for lang in languages if lang not in shipped_languages()]
        if missing:
            raise ValueError(
                f"no triage lexicon for {', '.join(missing)}; shipped: "
                + ", ".join(shipped_languages())
                + " (see docs/triage.md, 'Adding a language')"
            )
        return languages


class DatabaseConfig(_Strict):
    url: str = "sqlite:///brandpulse.db"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError(
                f"unsupported database URL {value.split(':', 1)[0]!r}: use sqlite:///path.db "
                "or postgresql+psycopg://user@host/db"
            )
        try:
            make_url(value).port  # noqa: B018 (parsing the port is the check)
        except (ArgumentError, ValueError):
            raise ValueError(
                "not a database URL (a host:port whose port is not a number?): use "
                "sqlite:///path.db or postgresql+psycopg://user:password@host:5432/db"
            ) from None
        return value


# `platforms:`, one section (or more) per platform descriptor, each with its own model.
PlatformsConfig = create_model(
    "PlatformsConfig",
    __base__=_Strict,
    **{
        key: (model, Field(default_factory=model))
        for key, model in platform_config_models().items()
    },
)


class ServiceConfig(_Strict):
    outbox_every: Duration = timedelta(seconds=1)
    log_format: str = Field(default="text", pattern="^(text|json)$")
    # Several nodes: a source whose node stopped renewing is taken over after this long.
    lease_ttl: Duration = timedelta(seconds=30)
    # `main.py health` and `/health` call the outbox unhealthy when an action waits longer.
    outbox_max_age: Duration = timedelta(minutes=10)
    # … and call a source unhealthy when its last successful poll is older than this (cron runs
    # of `run --once` must come more often).
    source_max_age: Duration = timedelta(hours=1)

    @field_validator("lease_ttl")
    @classmethod
    def _lease_long_enough(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return value


class WebConfig(_Strict):
    """The web console, with `/livez`, `/health` and `/metrics` (docs/web.md)."""

    # host:port to serve on, or `off`. Port 0 picks a free port (tests).
    listen: str = "127.0.0.1:8080"
    # How people reach it: the base of login links; https turns on Secure cookies.
    public_url: str = "http://127.0.0.1:8080"
    # Signs session cookies; every node of a deployment needs the same one. Empty: a random key
    # per run (sessions end at a restart and work on one node only).
    session_secret: SecretStr | None = None

    _secret = field_validator("session_secret", mode="before")(blank_is_none)

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == "off":
            return "off"
        host, colon, port = value.rpartition(":")
        if not colon or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"{value!r}: write host:port (127.0.0.1:8080) or off")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r}: must start with http:// or https://")
        return value

    @property
    def enabled(self) -> bool:
        return self.listen != "off"

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class AppConfig(RulesConfig):
    brand: BrandConfig = Field(default_factory=BrandConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    platforms: PlatformsConfig = Field(default_factory=PlatformsConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    replies: RepliesConfig = Field(default_factory=RepliesConfig)  # auto-reply guardrails
    web: WebConfig = Field(default_factory=WebConfig)


def load_config(path: Path = DEFAULT_CONFIG, env: Mapping[str, str] | None = None) -> AppConfig:
    """Read and validate `path` and the files it includes.

    Raises ConfigError (RulesError) listing every problem with file:line.
    """
    return read_config(path, env)[0]


def read_config(
    path: Path = DEFAULT_CONFIG, env: Mapping[str, str] | None = None
) -> tuple[AppConfig, list[str]]:
    """`load_config(path)` and `config_warnings(path)` from one reading of the files."""
    loaded = load_rules(path, AppConfig, env)
    config = loaded.config
    lexicons = [path.parent / lexicon for lexicon in config.brand.lexicons]
    config = config.model_copy(
        update={"brand": config.brand.model_copy(update={"lexicons": lexicons})}
    )
    main = loaded.tree.root  # the file itself, read once it validated
    return config, _warnings(path, main.data if main is not None else None)


def config_warnings(path: Path) -> list[str]:
    """What is valid in `path` but surely not meant: today, a file with nothing in it."""
    try:
        data = load_yaml(path).data
    except ConfigError:
        return []  # load_config reports it
    return _warnings(path, data)


def _warnings(path: Path, data: object) -> list[str]:
    if not data:
        return [
            f"{path} is empty: every setting is its default and there are no rules, so nothing"
            " would ever alert (see the shipped config.yaml)"
        ]
    return []
