"""`main.py report [--since 7d] [--format text|json|csv]`: the report of service/report.py."""

import argparse
import sys
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from core.clock import SystemClock
from core.config_file import ConfigError
from service.cli_args import duration
from service.cli_errors import (
    CommandFailed,
    config_problems,
    database_errors,
    require_existing_database,
)
from service.config import DEFAULT_CONFIG, load_config


def add_report_command(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="volume, answers within target, response times, sentiment, the three V's"
    )
    report.add_argument(
        "--since", type=duration, default=timedelta(days=7), help="how far back (7d)"
    )
    report.add_argument("--format", choices=("text", "json", "csv"), default="text")
    report.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: config.yaml")
    report.set_defaults(handler=cmd_report)


def cmd_report(
    args: argparse.Namespace, out: TextIO | None = None, now: datetime | None = None
) -> int:
    # Here, not at the top: main.py registers this command for every command it runs.
    from core.store import Store
    from service.report import as_csv, as_json, as_text, build_report

    out = out or sys.stdout
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CommandFailed(config_problems(args.config, exc)) from None
    # Opening a missing file would create an empty database just to report that it is empty.
    require_existing_database(config.database.url)
    zone = zoneinfo.ZoneInfo(config.timezone)
    until = now or SystemClock().now()
    with database_errors(config.database.url):
        store = Store.open(config.database.url, create_empty=False)
        try:
            report = build_report(store, until - args.since, until, zone)
        finally:
            store.close()
    if args.format == "json":
        out.write(as_json(report) + "\n")
    elif args.format == "csv":
        out.write(as_csv(report))
    else:
        out.write(as_text(report, zone))
    return 0
