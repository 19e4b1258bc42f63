"""What an operator reads when a command cannot do its job: one paragraph, the cause, no secret.

Commands raise `CommandFailed`; `main.py` prints it and exits with its code (2: the
environment, the database or the configuration is wrong; 1: a read-only command found nothing
to read). Database errors are turned into a sentence naming the database (password hidden)
and what to check.
"""

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import NoSuchModuleError as UnknownDriver

from core.config_file import ConfigError
from core.migrations import SchemaError

BAD_SETUP = 2  # exit code: the database, the environment or the configuration is wrong
NOTHING_YET = 1  # exit code: a read-only command found no database to read


class CommandFailed(Exception):
    def __init__(self, message: str, code: int = BAD_SETUP):
        super().__init__(message)
        self.message = message
        self.code = code


def paragraph(text: str) -> str:
    """Library messages span lines ("…failed\\n\\tIs the server running…"): one line of prose."""
    return " ".join(text.split())


def shown_url(url: str) -> str:
    """The database URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable database URL)"


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL; None for other databases and in-memory SQLite."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    name = parsed.database.removeprefix("file:")  # sqlite:///file:x.db?mode=ro&uri=true
    return None if name == ":memory:" else Path(name)


def require_existing_database(url: str) -> None:
    """Read-only commands never create a database: an SQLite file that is not there yet ends
    the command here (exit 1) instead of being created empty by connecting to it."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise CommandFailed(
            f"no database at {path} yet: `main.py run` (or `main.py db upgrade`) creates it",
            NOTHING_YET,
        )


def database_problem(exc: BaseException, url: str) -> str:
    """One paragraph saying why the database at `url` cannot be used."""
    where = shown_url(url)
    if isinstance(exc, SchemaError):
        return f"database {where}: {paragraph(str(exc))}"
    if isinstance(exc, UnknownDriver | ArgumentError):
        return (
            f"database.url {where} is not a database URL BrandPulse can use "
            f"({paragraph(str(exc))}); write sqlite:///path.db or postgresql+psycopg://user@host/db"
        )
    cause = paragraph(str(exc.orig if isinstance(exc, DBAPIError) else exc))
    path = sqlite_path(url)
    if path is not None:
        if not path.parent.is_dir():
            return (
                f"cannot open the SQLite database {path}: the directory {path.parent} does not "
                "exist; create it, or point database.url (BRANDPULSE_DATABASE_URL) elsewhere"
            )
        if "readonly" in cause or "read-only" in cause:
            return (
                f"cannot write the SQLite database {path}: it is read-only for this user "
                f"({cause}); give the user running BrandPulse write access to the file and "
                "its directory"
            )
        return f"cannot use the SQLite database {path}: {cause}"
    password = _password(url)
    if password:  # as a whole word only: a password "p" must not turn "port" into "***ort"
        cause = re.sub(rf"(?<!\w){re.escape(password)}(?!\w)", "***", cause)
    return (
        f"cannot reach the database {where}: {cause.rstrip('.')} — check that the server runs "
        "and that database.url (BRANDPULSE_DATABASE_URL) names the right host, port, user "
        "and database"
    )


def _password(url: str) -> str:
    try:
        return str(make_url(url).password or "")
    except ArgumentError:
        return ""


@contextlib.contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Database failures inside become `CommandFailed` with a sentence, not a traceback."""
    try:
        yield
    except (DBAPIError, SchemaError, UnknownDriver, ArgumentError) as exc:
        raise CommandFailed(database_problem(exc, url)) from exc


def config_problems(path: Path, exc: ConfigError) -> str:
    """Every problem of a configuration, one per line under a header naming the file."""
    lines = [f"{path}: configuration has {len(exc.problems)} problem(s):"]
    lines += [f"  {problem}" for problem in exc.problems]
    return "\n".join(lines)
