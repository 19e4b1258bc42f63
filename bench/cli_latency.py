"""`main.py rules test "…"`: wall time of one scored text, beside the import floor.

    python bench/cli_latency.py [--runs 5]

Each run is a fresh process with the shipped config and nothing of any platform configured but
Telegram's alerts (as in production): load config and rules, build the triage, score one text,
print. The import floor (bench/startup.py's `FLOOR`) alternates with it. Target: ≤ 1 s.
As in bench/startup.py, the YAML cache is a temporary directory the warm-up run fills, emptied
before every run with `--cold`.
"""

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchlib import REPO, machine, percentile, table
from startup import FLOOR, slowest_imports, timed, unconfigured_env

TEXT = "@AcmeSupport my parcel arrived broken and nobody answers, I want a refund"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="empty the YAML cache before each run")
    args = parser.parse_args()
    print(f"`main.py rules test` — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    with tempfile.TemporaryDirectory() as folder:
        env = unconfigured_env(f"sqlite:///{Path(folder) / 'unused.db'}")
        env |= {"TELEGRAM_BOT_TOKEN": "1:unused", "TELEGRAM_ALERT_CHAT_ID": "-1001"}
        cache = Path(folder) / "cache"
        env["XDG_CACHE_HOME"] = str(cache)
        commands = {
            "rules test": [sys.executable, str(REPO / "main.py"), "rules", "test", TEXT],
            "import floor": FLOOR,
        }
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
        for command in commands.values():
            timed(command, env)  # warm-up
        for _ in range(args.runs):
            for name, command in commands.items():
                if args.cold:
                    shutil.rmtree(cache, ignore_errors=True)
                runs[name].append(timed(command, env))
        slowest = slowest_imports(commands["rules test"], env)
    rows = [
        (
            name,
            f"{percentile([t for t, _, _ in times], 0.5):.2f}",
            f"{max(t for t, _, _ in times):.2f}",
            f"{percentile([c for _, _, c in times], 0.5):.2f}",
            f"{max(mb for _, mb, _ in times):.0f}",
        )
        for name, times in runs.items()
    ]
    print(table(["process", "median s", "max s", "median CPU s", "peak RSS MB"], rows))
    print("\nslowest imports of rules test (µs, cumulative):")
    print(slowest)


if __name__ == "__main__":
    main()
