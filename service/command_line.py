"""BrandPulse command line (`python main.py …`): a thin layer over service/.

main.py only starts it: Python compiles the script it is given at every start, while an
imported module keeps its bytecode.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Pydantic looks for plugins in every installed distribution's entry points when it builds its
# first model (~15 ms of each start); BrandPulse uses none. Set PYDANTIC_DISABLE_PLUGINS to ""
# (or to the names to skip) to have them loaded again.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from sqlalchemy import make_url

from core.clock import SystemClock
from core.config_file import ConfigError
from core.migrations import create_empty_apart
from core.states import WebRole
from rules.lexicon_file import LexiconError
from service import startup_gc
from service.cli_args import add_verbosity, log_level
from service.cli_errors import (
    BAD_SETUP,
    CommandFailed,
    config_problems,
    database_errors,
    require_existing_database,
)
from service.config import DEFAULT_CONFIG, AppConfig, read_config
from service.env_files import load_env_files
from service.logs import setup_logging
from service.malloc_arenas import limit_malloc_arenas
from service.platforms import descriptors
from service.report_cli import add_report_command
from service.rules_cli import add_rules_commands
from service.triage_cli import add_triage_command

if TYPE_CHECKING:
    from service.app import BrandPulse
    from web.server import ConsoleServer

# Heavy modules are imported by the commands that need them, so that a command starts without
# the libraries it does not use: the service, the web console (uvicorn, Starlette, Jinja2),
# Alembic (`db` only), the health report and login links.
log = logging.getLogger("brandpulse")


def _secrets(config: AppConfig) -> list[str]:
    values = [secret for platform in descriptors() for secret in platform.secrets(config.platforms)]
    if config.web.session_secret is not None:
        values.append(config.web.session_secret)
    # The database password, if the URL carries one, is a secret too.
    database = make_url(config.database.url).password or ""
    return [value.get_secret_value() for value in values] + [str(database)]


def _load(path: Path) -> AppConfig:
    try:
        config, warnings = read_config(path)
    except ConfigError as exc:
        raise CommandFailed(config_problems(path, exc)) from None
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return config


def cmd_run(args: argparse.Namespace) -> int:
    limit_malloc_arenas()  # before any thread starts
    from service.app import BrandPulse

    config = _load(args.config)
    setup_logging(_secrets(config), config.service.log_format, log_level(args))
    with database_errors(config.database.url):
        if not args.once:
            # A node runs for weeks: the schema of a new database is made in a child process,
            # which takes Alembic's memory with it. One pass is short; it saves the ~0.8 s.
            create_empty_apart(config.database.url)
        try:
            # A long-running service follows edits to its rule files; one pass has no use for it.
            app = BrandPulse(config, config_path=None if args.once else args.config)
        except LexiconError as exc:
            raise CommandFailed(f"{args.config}: a lexicon file has problems:\n{exc}") from None
        # The node is built: what it made stays for good (one pass ends soon, its garbage too).
        startup_gc.resume(collect=not args.once)
        try:
            if args.once:
                summary = asyncio.run(app.run_once())
                log.info(
                    "one pass done: %d fetched, %d new, %d alerts queued, %d actions delivered",
                    summary.fetched,
                    summary.new,
                    summary.alerts_queued,
                    summary.delivered,
                )
                return 0
            faces = _web_console(app) if config.web.enabled else []
            asyncio.run(_run_until_signal(app, faces))
            return 0
        finally:
            app.close()


def _web_console(app: "BrandPulse") -> list["ConsoleServer"]:
    from web.server import ConsoleServer, WebListenError

    try:
        return [ConsoleServer(app)]
    except WebListenError as exc:
        raise CommandFailed(f"BrandPulse did not start: {exc}") from None


async def _run_until_signal(app: "BrandPulse", faces: list["ConsoleServer"]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await app.run(stop, faces)
    log.info("stopped")


def cmd_web_link(args: argparse.Namespace) -> int:
    from service.web_links import login_link

    config = _load(args.config)
    if args.agent is not None:
        agents = config.platforms.telegram.agents
        if agents and args.agent not in agents:
            raise CommandFailed(
                f"--agent {args.agent} is not in TELEGRAM_AGENT_IDS "
                f"({', '.join(map(str, agents))}); viewers use --viewer NAME"
            )
        role, user_id, name = WebRole.AGENT, str(args.agent), args.name or f"agent {args.agent}"
    else:
        role, user_id, name = WebRole.VIEWER, "", args.viewer
    with database_errors(config.database.url):
        from core.store import Store

        store = Store.open(config.database.url)
        try:
            link = login_link(store, config, role, user_id, name, SystemClock().now())
        finally:
            store.close()
    print(link)
    print(f"(one login as {name}, {role}; valid for 10 minutes)", file=sys.stderr)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from service import db_cli

    if args.db_command == "revision":
        print(f"wrote {db_cli.revision(args.message)}")
        return 0
    url = _load(args.config).database.url
    with database_errors(url):
        if args.db_command == "upgrade":
            print(db_cli.upgrade(url, args.revision))
            return 0
        require_existing_database(url)
        up_to_date, line = db_cli.current(url)
    print(line)
    return 0 if up_to_date else 1


def cmd_health(args: argparse.Namespace) -> int:
    from service import health

    config = _load(args.config)
    url = config.database.url
    require_existing_database(url)
    with database_errors(url):
        from core.store import Store

        store = Store.open(url, create_empty=False)
        try:
            report = health.collect(
                store,
                SystemClock(),
                config.service.outbox_max_age,
                source_max_age=config.service.source_max_age,
                expect_node=args.expect_node,
            )
        finally:
            store.close()
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.healthy else 1


def cmd_demo(args: argparse.Namespace) -> int:
    if args.web:
        from web.demo import run_web_demo

        return run_web_demo()
    from service.demo import run_demo

    # The demo prints what staff would see; its log is quiet unless asked: warnings only by
    # default, errors only with --quiet, the per-poll lines with --verbose.
    level = {logging.WARNING: logging.ERROR, logging.INFO: logging.WARNING}
    config = args.config or Path(__file__).resolve().parents[1] / DEFAULT_CONFIG
    return run_demo(level.get(log_level(args), logging.INFO), config)


class _VersionAction(argparse.Action):
    """`--version`, looked up in the installed metadata only when asked (not at every start)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object):
        super().__init__(
            option_strings, dest, nargs=0, help="show program's version number and exit"
        )

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("brandpulse")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="main.py",
        description="BrandPulse: social-media listening and response for support teams.",
    )
    root.add_argument("--version", action=_VersionAction)
    root.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="environment variables to load (default: .env beside the config file, if any);"
        " variables already set win",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="listen, triage and alert (until Ctrl-C, or --once)")
    run.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: config.yaml")
    run.add_argument(
        "--once",
        action="store_true",
        help="poll every enabled source once, triage, deliver the outbox, exit 0",
    )
    add_verbosity(run)
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser(
        "demo", help="run the real service against local fake X, Reddit and Telegram servers"
    )
    demo.add_argument(
        "--web",
        action="store_true",
        help="keep the service running with a live mention stream and serve the web console",
    )
    demo.add_argument(
        "--config", type=Path, help="the config to run against the fakes (default: shipped)"
    )
    add_verbosity(demo)
    demo.set_defaults(handler=cmd_demo)

    web = commands.add_parser("web", help="the web console: print one-time login links")
    web_commands = web.add_subparsers(dest="web_command", required=True, metavar="WEB_COMMAND")
    link = web_commands.add_parser("link", help="print a login link (one use, 10 minutes)")
    link.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: config.yaml")
    who = link.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", type=int, metavar="TELEGRAM_ID", help="an agent: may act")
    who.add_argument("--viewer", metavar="NAME", help="a viewer: may only look")
    link.add_argument("--name", help="the agent's name as staff know it (default: agent <id>)")
    link.set_defaults(handler=cmd_web_link)

    db = commands.add_parser("db", help="the database schema: upgrade, current, revision")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    upgrade = db_commands.add_parser("upgrade", help="migrate the configured database")
    upgrade.add_argument("--revision", default="head", help="default: the newest")
    current = db_commands.add_parser("current", help="is the schema current? (exit 1 if not)")
    for sub in (upgrade, current):
        sub.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: config.yaml")
    revision = db_commands.add_parser(
        "revision", help="(developers) write a migration for changes to core/models.py"
    )
    revision.add_argument("-m", "--message", required=True, help="what the change does")
    db.set_defaults(handler=cmd_db)

    check = commands.add_parser(
        "health", help="nodes, sources and outbox as the database sees them (exit 1: unhealthy)"
    )
    check.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: config.yaml")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--expect-node",
        action="store_true",
        help="a long-running `main.py run` node must be alive (default: only if one ran lately)",
    )
    check.set_defaults(handler=cmd_health)

    add_rules_commands(commands)
    add_report_command(commands)
    add_triage_command(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = getattr(args, "config", None) or DEFAULT_CONFIG  # the demo has no default
        load_env_files(args.env_file, config, os.environ)
        if args.handler is not cmd_run:  # which ends its start-up once the node is built
            startup_gc.resume()
        return args.handler(args)
    except BrokenPipeError:  # `main.py … | head` stopped reading: nothing left to tell
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except CommandFailed as failed:
        print(f"error: {failed.message}", file=sys.stderr)
        return failed.code
    except ConfigError as exc:  # a command that loads a configuration of its own (the demo)
        print(f"error: configuration has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return BAD_SETUP
