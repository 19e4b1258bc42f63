"""Every command, run as an operator runs it (a subprocess), against a database it cannot use.

Each failure is one paragraph naming the cause, exit code 2, no traceback and no password; the
read-only commands on a database that is not there yet say so (exit 1) and create nothing.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, REPO, SHIPPED_CONFIG, postgres_unavailable
from tests.multinode.nodes import free_port

PASSWORD = "s3cret-Passw0rd"
COMMANDS = {
    "run --once": ["run", "--once"],
    "run": ["run"],
    "report": ["report"],
    "rules backtest": ["rules", "backtest"],
    "db current": ["db", "current"],
    "db upgrade": ["db", "upgrade"],
    "health": ["health"],
}
READ_ONLY = ["db current", "health", "report", "rules backtest"]


def cli(args: list[str], cwd: Path, database_url: str, config: Path = SHIPPED_CONFIG):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "BRANDPULSE_DATABASE_URL": database_url,
    }
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args, "--config", str(config)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_paragraph_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown, shown
    assert PASSWORD not in shown, shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, shown
    for part in expected:
        assert part in errors[0], shown
    assert result.returncode == 2, shown
    return errors[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_postgresql_down_is_one_paragraph_without_the_password(
    command: str, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://brandpulse:{PASSWORD}@127.0.0.1:{free_port()}/brandpulse"
    error = assert_one_paragraph_error(
        cli(COMMANDS[command], tmp_path, url), "cannot reach the database", "Connection refused"
    )
    assert "brandpulse:***@127.0.0.1" in error
    assert "check that the server runs" in error


@pytest.mark.parametrize("command", ["run --once", "health", "db upgrade"])
def test_an_unknown_host_names_the_host(command: str, tmp_path: Path) -> None:
    url = f"postgresql+psycopg://brandpulse:{PASSWORD}@no-such-host.invalid/brandpulse"
    assert_one_paragraph_error(
        cli(COMMANDS[command], tmp_path, url), "cannot reach the database", "no-such-host.invalid"
    )


@pytest.mark.parametrize("command", ["run --once", "report", "db current"])
def test_a_wrong_database_name_names_the_database(command: str, tmp_path: Path) -> None:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    from sqlalchemy import make_url

    url = (
        make_url(POSTGRES_URL)
        .set(database="brandpulse_no_such_db", password=PASSWORD)
        .render_as_string(hide_password=False)
    )
    assert_one_paragraph_error(
        cli(COMMANDS[command], tmp_path, url), 'database "brandpulse_no_such_db" does not exist'
    )


@pytest.mark.parametrize("command", ["run --once", "run", "db upgrade"])
def test_sqlite_in_a_missing_directory_names_the_directory(command: str, tmp_path: Path) -> None:
    error = assert_one_paragraph_error(
        cli(COMMANDS[command], tmp_path, "sqlite:///nodir/x.db"),
        "the directory nodir does not exist",
    )
    assert "BRANDPULSE_DATABASE_URL" in error
    assert not (tmp_path / "nodir").exists()


@pytest.mark.parametrize("command", ["run --once", "run"])
def test_a_read_only_sqlite_file_says_it_is_read_only(command: str, tmp_path: Path) -> None:
    database = tmp_path / "brandpulse.db"
    assert cli(["db", "upgrade"], tmp_path, f"sqlite:///{database}").returncode == 0
    database.chmod(0o444)
    # root writes to any file whatever its mode: open it read-only as the file's mode says.
    url = f"sqlite:///file:{database}?mode=ro&uri=true" if os.geteuid() == 0 else None
    result = cli(COMMANDS[command], tmp_path, url or f"sqlite:///{database}")
    assert_one_paragraph_error(result, f"cannot write the SQLite database {database}", "read-only")


@pytest.mark.parametrize("command", [*COMMANDS, "demo"])
def test_a_config_typo_is_named_by_file_and_line_for_every_command(
    command: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        SHIPPED_CONFIG.read_text(encoding="utf-8").replace("group_after:", "group_aftr:"),
        encoding="utf-8",
    )
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "aftr" in text)
    args = ["demo"] if command == "demo" else COMMANDS[command]
    result = cli(args, tmp_path, f"sqlite:///{tmp_path / 'b.db'}", config)
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown, shown
    assert result.returncode == 2, shown
    assert f"config.yaml:{line} alerts.group_aftr: unknown key 'group_aftr'" in shown, shown
    assert "did you mean 'group_after'?" in shown


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_only_commands_on_a_missing_database_create_nothing(
    command: str, tmp_path: Path
) -> None:
    database = tmp_path / "brandpulse.db"
    result = cli(COMMANDS[command], tmp_path, f"sqlite:///{database}")
    shown = result.stdout + result.stderr
    assert result.returncode == 1, shown
    assert f"no database at {database} yet" in result.stderr
    assert "Traceback" not in shown
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_url_with_a_bad_port_is_a_configuration_error(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://brandpulse:{PASSWORD}@db-host:fivefourthreetwo/brandpulse"
    result = cli(["run", "--once"], tmp_path, url)
    shown = result.stdout + result.stderr
    assert result.returncode == 2 and "Traceback" not in shown and PASSWORD not in shown, shown
    assert "database.url: not a database URL (a host:port whose port is not a number?)" in shown
    assert "environment variable BRANDPULSE_DATABASE_URL" in shown


def test_a_short_password_is_hidden_without_mangling_the_message() -> None:
    from sqlalchemy.exc import OperationalError

    from service.cli_errors import database_problem

    failure = OperationalError("connect", {}, Exception('server at "h", port 5432 failed: p'))
    text = database_problem(failure, "postgresql+psycopg://u:p@h:5432/db")
    assert 'server at "h", port 5432 failed: ***' in text
    assert "u:***@h:5432/db" in text
