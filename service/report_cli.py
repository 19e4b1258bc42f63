"""`main.py report [--since 7d] [--format text|json|csv]`: the report of service/report.py."""

import argparse
import sys
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from core.clock import SystemClock
from core.config_file import ConfigError
from core.duration import parse_duration
from core.migrations import SchemaError
from core.store import Store
from service.config import DEFAULT_CONFIG, load_config
from service.report import as_csv, as_json, as_text, build_report


def add_report_command(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="volume, answers within target, response times, sentiment, the three V's"
    )
    report.add_argument(
        "--since", type=parse_duration, default=timedelta(days=7), help="how far back (7d)"
    )
    report.add_argument("--format", choices=("text", "json", "csv"), default="text")
    report.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: config.yaml")
    report.set_defaults(handler=cmd_report)


def cmd_report(
    args: argparse.Namespace, out: TextIO | None = None, now: datetime | None = None
) -> int:
    out = out or sys.stdout
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"{args.config}: configuration has {len(exc.problems)} problem(s):", file=out)
        for problem in exc.problems:
            print(f"  {problem}", file=out)
        return 1
    database = make_url(config.database.url)
    if database.get_backend_name() == "sqlite" and not Path(database.database or "").is_file():
        # Opening would create an empty database just to report that it is empty.
        print(f"no database at {database.database}: nothing to report", file=out)
        return 1
    try:
        store = Store.open(config.database.url, create_empty=False)
    except (SchemaError, OperationalError) as exc:
        problem = str(exc.orig).strip() if isinstance(exc, OperationalError) else str(exc)
        print(f"error: database: {problem}", file=out)
        return 2
    zone = zoneinfo.ZoneInfo(config.timezone)
    until = now or SystemClock().now()
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
