"""CPU of a running node with nothing arriving (issue 19: ≤ 0.1 s CPU per idle minute).

    python bench/idle_cpu.py [--seconds 60] [--no-web] [--database URL]

Starts `main.py run` with the shipped config.yaml against an empty sandbox (fake X and fake
Telegram in this process, so their work is not counted), waits for its first poll and a few
seconds of start-up, then reads the child's CPU time (user + system, every thread, from
/proc/PID/stat) before and after `--seconds` of idling, and prints CPU seconds per minute.
The web console is on, as in the shipped config (on a free port); `--no-web` turns it off.
The database is a fresh SQLite file unless `--database`.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchlib import REPO, machine, service_env, table

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi

SETTLE = 5.0  # seconds after the first poll: start-up's stragglers (the first getUpdates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of idle to measure")
    parser.add_argument("--no-web", action="store_true", help="web console off (web.listen)")
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'idle.db'}"
        spent, calls = idle_cpu(url, args.seconds, not args.no_web)
    per_minute = spent / args.seconds * 60
    print(f"Idle CPU — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    web = "off" if args.no_web else "on"
    rows = [
        (f"CPU of an idle node, web console {web}", f"{per_minute:.3f} s/min", "≤ 0.1 s/min"),
        ("requests to the fake X and Telegram", f"{calls / args.seconds * 60:.1f} /min", ""),
    ]
    print(table(["measure", "value", "target"], rows))
    print(f"\n({spent:.3f} s CPU in {args.seconds:.0f} s idle)")


def idle_cpu(database_url: str, seconds: float, web: bool) -> tuple[float, int]:
    """CPU seconds the node spent in `seconds` of idle, and the requests it made meanwhile."""
    with FakeXApi() as x, FakeTelegram() as telegram, tempfile.TemporaryFile("w+") as log:
        listen = "127.0.0.1:0" if web else "off"
        env = service_env(x, telegram, database_url, BRANDPULSE_WEB_LISTEN=listen)
        process = subprocess.Popen(
            [sys.executable, str(REPO / "main.py"), "run"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 120
            while not x.requests and time.monotonic() < deadline:  # started: first poll made
                if process.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"the node stopped:\n{log.read()[-3000:]}")
                time.sleep(0.1)
            time.sleep(SETTLE)
            before, requests = cpu_seconds(process.pid), _requests(x, telegram)
            time.sleep(seconds)
            spent = cpu_seconds(process.pid) - before
            calls = _requests(x, telegram) - requests
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    if process.returncode != 0:
        raise SystemExit(f"the node exited with {process.returncode}")
    return spent, calls


def _requests(x: FakeXApi, telegram: FakeTelegram) -> int:
    return len(x.requests) + len(telegram.requests)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
