"""Startup: wall time of `main.py run --once`, beside the import floor measured in the same run.

    python bench/startup.py [--runs 5]

Each run is a fresh process, as from cron: imports, config validation, rule compilation, one
pass and an empty outbox. Two set-ups, against an empty sandbox: nothing configured (no
platform token: what the target is about) and X + Telegram (the shipped config with the fake X
and Telegram: one poll of X, one getUpdates). The import floor is a process that only imports
the libraries BrandPulse is built on (`FLOOR`); runs of the three alternate, so the machine's
load moves them alike. Targets: nothing configured ≤ 1.5 s and ≤ 0.6 × the floor.

The parsed YAML cache (core/yaml_cache.py) lives in a temporary directory: the warm-up run
fills it, as any earlier start of the node would have; `--cold` measures every run without it.
So does the bytecode of every process (PYTHONPYCACHEPREFIX, PYTHONDONTWRITEBYTECODE dropped):
an installed or built BrandPulse has its modules compiled, as the libraries have theirs
(the Dockerfile compiles them at build); `--no-bytecode` measures every run compiling
BrandPulse's modules from source, as a process that may not write bytecode does (with the
libraries' own bytecode, from their install).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchlib import REPO, machine, percentile, service_env, table

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi

FLOOR_LIBRARIES = (
    "sqlalchemy",
    "sqlmodel",
    "telegram.ext",
    "tweepy",
    "praw",
    "vaderSentiment.vaderSentiment",
    "apscheduler.schedulers.asyncio",
    "pydantic",
    "ruamel.yaml",
)
FLOOR = [sys.executable, "-c", "import " + ", ".join(FLOOR_LIBRARIES)]
RUN_ONCE = [sys.executable, str(REPO / "main.py"), "run", "--once"]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds) of one process, read from the kernel (wait4).

    CPU time (user + system) moves less than wall time on a machine shared with other work.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if process.returncode != 0:
        assert process.stderr is not None
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()[-2000:]}")
    assert process.stderr is not None
    process.stderr.close()
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def unconfigured_env(database_url: str) -> dict[str, str]:
    """The environment with no platform token at all (and nothing of the developer's)."""
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("X_", "REDDIT_", "TELEGRAM_", "BRANDPULSE_"))
    }
    return {**keep, "BRANDPULSE_DATABASE_URL": database_url}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="empty the YAML cache before each run")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="write no bytecode (PYTHONDONTWRITEBYTECODE=1)"
    )
    args = parser.parse_args()
    print(f"Startup of `main.py run --once` — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    setups: dict[str, list[tuple[float, float, float]]] = {
        "nothing": [],
        "x+telegram": [],
        "floor": [],
    }
    with FakeXApi() as x, FakeTelegram() as telegram, tempfile.TemporaryDirectory() as folder:
        cache = {"XDG_CACHE_HOME": str(Path(folder) / "cache")}
        nothing = unconfigured_env(f"sqlite:///{Path(folder) / 'nothing.db'}") | cache
        shipped = service_env(x, telegram, f"sqlite:///{Path(folder) / 'startup.db'}", **cache)
        commands = {"nothing": (RUN_ONCE, nothing), "x+telegram": (RUN_ONCE, shipped)}
        commands["floor"] = (FLOOR, nothing)
        bytecode = bytecode_env(Path(folder) / "pycache", write=not args.no_bytecode)
        commands = {name: (command, bytecode(env)) for name, (command, env) in commands.items()}
        for command, env in commands.values():
            timed(command, env)  # warm-up: creates the databases, fills page and bytecode caches
        for _ in range(args.runs):
            for name, (command, env) in commands.items():
                if args.cold:
                    shutil.rmtree(cache["XDG_CACHE_HOME"], ignore_errors=True)
                setups[name].append(timed(command, env))
        slowest = slowest_imports(*commands["nothing"])
    medians = {name: percentile([t for t, _, _ in runs], 0.5) for name, runs in setups.items()}
    cpu = {name: percentile([c for _, _, c in runs], 0.5) for name, runs in setups.items()}
    rows = [
        (
            {
                "nothing": "run --once, nothing configured",
                "x+telegram": "run --once, X + Telegram",
            }.get(name, "import floor (" + ", ".join(FLOOR_LIBRARIES) + ")"),
            f"{medians[name]:.2f}",
            f"{max(t for t, _, _ in runs):.2f}",
            f"{cpu[name]:.2f}",
            f"{max(mb for _, mb, _ in runs):.0f}",
        )
        for name, runs in setups.items()
    ]
    print(table(["process", "median s", "max s", "median CPU s", "peak RSS MB"], rows))
    for name, label in (("nothing", "nothing configured"), ("x+telegram", "X + Telegram")):
        print(
            f"\n{label} / import floor: {medians[name] / medians['floor']:.2f} × wall, "
            f"{cpu[name] / cpu['floor']:.2f} × CPU"
            + (" (target ≤ 0.6 ×, ≤ 1.5 s)" if name == "nothing" else "")
        )
    print("\nslowest imports of run --once, nothing configured (µs, cumulative):")
    print(slowest)


def bytecode_env(folder: Path, write: bool) -> Callable[[dict[str, str]], dict[str, str]]:
    """What makes an environment keep its bytecode in `folder` (or write none at all)."""

    def env(base: dict[str, str]) -> dict[str, str]:
        if not write:
            return base | {"PYTHONDONTWRITEBYTECODE": "1"}
        kept = {key: value for key, value in base.items() if key != "PYTHONDONTWRITEBYTECODE"}
        return kept | {"PYTHONPYCACHEPREFIX": str(folder)}

    return env


def slowest_imports(command: list[str], env: dict[str, str], top: int = 12) -> str:
    """The `top` slowest imports (cumulative µs) of one run of `command`, by `-X importtime`."""
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:]],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    lines = [line.split("|") for line in imports.stderr.splitlines() if line.count("|") == 2]
    timed_lines = [parts for parts in lines if parts[1].strip().isdigit()]
    ranked = sorted(timed_lines, key=lambda parts: -int(parts[1]))[:top]
    return "\n".join(f"  {int(parts[1]):>9,}  {parts[2].rstrip()}" for parts in ranked)


if __name__ == "__main__":
    main()
