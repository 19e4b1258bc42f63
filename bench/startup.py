"""Startup: wall time of `main.py run --once` against an empty sandbox (fake X and Telegram).

    python bench/startup.py [--runs 5]

Each run is a fresh process, as from cron: imports, config validation, rule compilation, one
poll of X, one getUpdates and an empty outbox. Target: ≤ 2 s.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchlib import REPO, machine, percentile, service_env, table

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"Startup of `main.py run --once` — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    with FakeXApi() as x, FakeTelegram() as telegram, tempfile.TemporaryDirectory() as folder:
        env = service_env(x, telegram, f"sqlite:///{Path(folder) / 'startup.db'}")
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, str(REPO / "main.py"), "run", "--once"],
                env=env,
                check=True,
                capture_output=True,
                cwd=REPO,
            )
            times.append(time.perf_counter() - started)
        imports = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import main"],
            env=env,
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
    rows = [(f"run {n + 1}", t) for n, t in enumerate(times)]
    rows += [("median", percentile(times, 0.5)), ("max", max(times))]
    print(table(["run", "seconds"], rows))
    print("\nslowest imports (µs, cumulative):")
    lines = [line.split("|") for line in imports.stderr.splitlines()[1:] if "|" in line]
    top = sorted(lines, key=lambda parts: -int(parts[1]))[:8]
    for parts in top:
        print(f"  {int(parts[1]):>9,}  {parts[2].strip()}")


if __name__ == "__main__":
    main()
