"""Argument types and options the commands share, with errors that say what to write.

argparse prints `invalid <type's __name__> value` for a plain ValueError; these raise
`ArgumentTypeError` instead, so the user reads the expected format, never a function name.
"""

import argparse
import logging
from datetime import UTC, datetime, timedelta

from core.duration import parse_duration


def duration(text: str) -> timedelta:
    """`--since 7d`: a number with its unit."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def moment(text: str) -> datetime:
    """`--at 2026-11-20T14:30` (ISO 8601; without a zone: UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time; write it in ISO 8601, e.g. 2026-11-20T14:30 or "
            "2026-11-20T14:30+03:00 (without a zone: UTC)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """`--quiet` (warnings and errors only) and `--verbose` (debug lines too)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")
    group.add_argument(
        "-v", "--verbose", action="store_true", help="log debug lines too (no secrets)"
    )


def log_level(args: argparse.Namespace) -> int:
    if getattr(args, "quiet", False):
        return logging.WARNING
    if getattr(args, "verbose", False):
        return logging.DEBUG
    return logging.INFO
