"""Memory and CPU: peak RSS of `main.py run` per scenario, CPU while idle, CPU per alert.

    python bench/memory_cpu.py [--stored 100000] [--rules 1000] [--burst 1000] [--idle 90]

Peak RSS is read from the kernel (wait4) for a real `main.py run` process that polls the fakes,
alerts through the fake Telegram, and is then stopped with SIGTERM. Scenarios (issue 19):
the shipped config.yaml (X + Telegram, web console on) on a new database, whose schema a child
process creates (the peak read is the larger of the node's and that child's), and again on
that same database (the steady case of every later start), and once more with the console
visited (its pages are built at the first request);
all three platforms; a burst of --burst Reddit posts with Reddit + Telegram only; --stored
mentions in the database with --rules generated rules (5 keywords each). Beside them, in the
same run: the interpreter alone and the import floor, a process that only imports the libraries
BrandPulse is built on (bench/startup.py's list). Idle CPU: a node of the shipped config with
nothing arriving, its CPU time (user + system, /proc/PID/stat) read after start-up and again
--idle seconds later. CPU per alerted mention is measured in-process over the pipeline (parse,
VADER + triage, rules, database write, outbox row) for mentions that all alert.
`--import-rss` instead prints which packages cost a node of the shipped config the most
resident memory as they are imported (each import's RSS growth less that of the imports it
made; a profile, approximate, beside the interpreter and the import floor).
Targets (issue 19): ≤ 75 MB shipped, ≤ 90 MB all three, ≤ 90 MB burst, ≤ 120 MB large,
≤ 0.1 s CPU per idle minute, ≤ 5 ms CPU per alerted mention.
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import REPO, machine, sample_texts, service_env, table
from bursts import STAFF_CHAT, wait_until_accounted
from idle_cpu import idle_cpu
from startup import FLOOR_LIBRARIES

from core.mention import Mention
from core.store import Decision, Store
from listeners.base import Batch
from rules.engine import Engine
from rules.triage import Triage
from sandbox import FakeReddit
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.config import load_config
from service.pipeline import Pipeline

WORDS = ["refund", "broken", "late", "delay", "cancel", "charge", "parcel", "battery", "app"]
SHIPPED = REPO / "config.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=90.0, help="seconds of idle to measure")
    parser.add_argument("--import-rss", action="store_true", help="only the import profile")
    args = parser.parse_args()
    if args.import_rss:
        print_import_rss()
        return
    rows = [
        ("the interpreter alone (own VmHWM)", mb(own_peak("pass")), ""),
        (
            "import floor (own VmHWM): " + ", ".join(FLOOR_LIBRARIES),
            mb(own_peak("import " + ", ".join(FLOOR_LIBRARIES))),
            "",
        ),
    ]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        shipped = f"sqlite:///{work / 'shipped.db'}"
        rows += [
            (
                "shipped config (X + Telegram), new database",
                mb(peak_rss(SHIPPED, shipped)),
                "≤ 75 MB",
            ),
            (
                "shipped config, second start, same database",
                mb(peak_rss(SHIPPED, shipped)),
                "≤ 75 MB",
            ),
            (
                "shipped config, second start, console visited",
                mb(peak_rss(SHIPPED, shipped, visit=True)),
                "",
            ),
        ]
        every = f"sqlite:///{work / 'all.db'}"
        rows += [
            (
                "X + Reddit + Telegram, new database",
                mb(peak_rss(SHIPPED, every, reddit=True)),
                "≤ 90 MB",
            ),
            (
                "X + Reddit + Telegram, second start",
                mb(peak_rss(SHIPPED, every, reddit=True)),
                "≤ 90 MB",
            ),
        ]
        burst = peak_rss(
            SHIPPED, f"sqlite:///{work / 'burst.db'}", reddit=True, x=False, burst=args.burst
        )
        rows.append((f"burst of {args.burst:,} posts, Reddit + Telegram", mb(burst), "≤ 90 MB"))
        big_db = f"sqlite:///{work / 'big.db'}"
        fill(big_db, args.stored)
        big = peak_rss(many_rules(work / "config.yaml", args.rules), big_db)
        rows.append((f"{args.rules:,} rules, {args.stored:,} stored mentions", mb(big), "≤ 120 MB"))
        spent, _requests = idle_cpu(f"sqlite:///{work / 'idle.db'}", args.idle, web=True)
        idle = spent / args.idle * 60
        rows.append(("CPU of an idle node (shipped config)", f"{idle:.3f} s/min", "≤ 0.1 s/min"))
        cpu = cpu_per_alert(f"sqlite:///{work / 'cpu.db'}", 5000)
        rows.append(("CPU per alerted mention (SQLite)", f"{cpu:.2f} ms", "≤ 5 ms"))
    print(f"Memory and CPU — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    print(table(["peak RSS of main.py run (wait4), unless said", "value", "target"], rows))


def mb(kilobytes: int) -> str:
    return f"{kilobytes / 1024:.1f} MB"


# The kernel carries a parent's RSS at fork across exec into the child's wait4 peak, so a small
# process started from this (~70 MB) bench would read as large as the bench: these report the
# high-water mark of their own memory instead, as their last act.
HIGH_WATER = "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"


# `python -c IMPORT_RSS OUT main.py …` runs main.py and writes to OUT, at exit, the RSS (bytes)
# each top-level package's imports added themselves: an import's growth less its nested ones'.
IMPORT_RSS = """
import atexit, importlib._bootstrap as bootstrap, json, os, runpy, sys
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * page
own, stack, load = {}, [], bootstrap._load_unlocked
def measured(spec):
    stack.append([rss(), 0])
    try:
        return load(spec)
    finally:
        start, nested = stack.pop()
        grown = rss() - start
        package = spec.name.split(".")[0]
        own[package] = own.get(package, 0) + grown - nested
        if stack:
            stack[-1][1] += grown
bootstrap._load_unlocked = measured
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(own)))
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def print_import_rss(top: int = 15) -> None:
    """The packages whose imports cost a second start of the shipped config the most RSS."""
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{Path(folder) / 'shipped.db'}"
        peak_rss(SHIPPED, database)  # creates the schema: the profile is of a later start
        record = Path(folder) / "imports.json"
        peak = peak_rss(SHIPPED, database, command=[sys.executable, "-c", IMPORT_RSS, str(record)])
        own = json.loads(record.read_text())
    ranked = sorted(own.items(), key=lambda item: -item[1])
    rows = [(package, mb(size // 1024)) for package, size in ranked[:top]]
    rows.append((f"all {len(own)} packages imported", mb(sum(own.values()) // 1024)))
    rows.append(("peak RSS of that run (wait4, with the profiler)", mb(peak)))
    rows.append(("the interpreter alone (own VmHWM)", mb(own_peak("pass"))))
    print(f"Import RSS, shipped config, second start — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    print(table(["package (its imports' own RSS growth)", "RSS"], rows))


def own_peak(imports: str) -> int:
    """Peak RSS (kB) of a fresh interpreter that runs `imports` and ends."""
    command = [sys.executable, "-c", f"{imports}\n{HIGH_WATER}"]
    return int(subprocess.run(command, cwd=REPO, capture_output=True, check=True).stdout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss(
    config: Path,
    database_url: str,
    *,
    reddit: bool = False,
    x: bool = True,
    burst: int = 0,
    visit: bool = False,
    command: Sequence[str] = (sys.executable,),
) -> int:
    """Peak RSS (kB) of a `main.py run` that polled and alerted (every post of a `burst`
    planted in the fake Reddit once it runs), its console visited if `visit`; `command` runs
    main.py (the interpreter, or a profiler in front of it)."""
    with (
        FakeXApi() as fake_x,
        FakeTelegram(enforce_limits=burst > 0) as telegram,
        FakeReddit() as fake_reddit,
        tempfile.TemporaryFile("w+") as log,
    ):
        fake_x.post_tweet("@AcmeSupport my parcel arrived broken, refund please", "customer")
        port = free_port()
        env = service_env(
            fake_x,
            telegram,
            database_url,
            X_POLL_EVERY="1s",
            TELEGRAM_ALERT_CHAT_ID=str(STAFF_CHAT),
            BRANDPULSE_WEB_LISTEN=f"127.0.0.1:{port}",
        )
        if not x:
            env = {key: value for key, value in env.items() if not key.startswith("X_")}
        if reddit:
            env |= reddit_env(fake_reddit, poll="2s" if burst else "60s")
        process = subprocess.Popen(
            [*command, str(REPO / "main.py"), "run", "--config", str(config)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            # A burst is planted once Reddit was polled; otherwise the one tweet must alert.
            started: Callable[[], object] = (
                (lambda: fake_reddit.requests) if burst else (lambda: telegram.sent)
            )
            if not wait_for(started, process.pid):
                log.seek(0)
                raise SystemExit(f"the service did not start or alert:\n{log.read()[-3000:]}")
            if burst:
                planted = time.monotonic()
                for n in range(burst):
                    text = f"Acme order {n} arrived broken, I want a refund"
                    fake_reddit.post_submission("AcmeHelp", f"order {n}", text, author=f"c{n}")
                wait_until_accounted(database_url, burst, planted, telegram)
            if visit:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30) as page:
                    page.read()
            time.sleep(3)  # a few more polls and drains at steady state
        finally:
            process.send_signal(signal.SIGTERM)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if process.returncode != 0:
            log.seek(0)
            raise SystemExit(f"the service did not exit cleanly:\n{log.read()[-3000:]}")
    return usage.ru_maxrss


def wait_for(condition: Callable[[], object], pid: int, timeout: float = 120) -> bool:
    """Wait until `condition()` holds; False if the process ended or time ran out first."""
    deadline = time.monotonic() + timeout
    # WNOWAIT: an ended process stays unreaped, so wait4 still reads its peak RSS.
    while not os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return False


def reddit_env(fake: FakeReddit, poll: str) -> dict[str, str]:
    return {
        "REDDIT_API_BASE": fake.base_url,
        "REDDIT_CLIENT_ID": fake.client_id,
        "REDDIT_CLIENT_SECRET": fake.client_secret,
        "REDDIT_USERNAME": fake.username,
        "REDDIT_PASSWORD": fake.password,
        "REDDIT_SUBREDDITS": "AcmeHelp",
        "REDDIT_POLL_EVERY": poll,
    }


def fill(database_url: str, count: int) -> None:
    """`count` stored, already-triaged mentions, as after weeks of listening."""
    store = Store.open(database_url)
    texts = sample_texts(min(count, 20_000))
    start = datetime.now(UTC) - timedelta(days=30)
    for offset in range(0, count, 1000):
        mentions = [
            Mention(
                platform="x",
                external_id=str(10**15 + n),
                text=texts[n % len(texts)],
                created_at=start + timedelta(seconds=n * 20),
                author_handle=f"u{n % 9000}",
            )
            for n in range(offset, min(count, offset + 1000))
        ]
        store.ingest("x:mentions", mentions, None, lambda _: Decision(0.0, 0), datetime.now(UTC))
    store.close()


def many_rules(path: Path, count: int) -> Path:
    """The shipped config including a file of `count` keyword rules (5 keywords each)."""
    rng = random.Random(3)
    lines = ["rules:"]
    for n in range(count):
        keywords = ", ".join(f'"{rng.choice(WORDS)} {n}-{k}"' for k in range(5))
        lines += [
            f"  - name: generated-{n}",
            f"    when: {{keywords: [{keywords}]}}",
            "    actions: [alert]",
        ]
    path.with_name("generated.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shipped = (REPO / "config.yaml").read_text(encoding="utf-8")
    path.write_text(shipped + "\ninclude: [generated.yaml]\n", encoding="utf-8")
    return path


def cpu_per_alert(database_url: str, count: int) -> float:
    config = load_config(REPO / "config.yaml", {"BRANDPULSE_DATABASE_URL": database_url})
    store = Store.open(database_url)
    pipeline = Pipeline(store, Engine(config, Triage.default(config.brand.languages)))
    start = datetime.now(UTC) - timedelta(minutes=10)
    mentions = [
        Mention(
            platform="x",
            external_id=str(n + 1),
            author_handle=f"u{n}",
            text=f"@AcmeSupport order {n} arrived broken, I want a refund",
            created_at=start + timedelta(milliseconds=n),
        )
        for n in range(count)
    ]
    began = time.process_time()
    for offset in range(0, count, 100):
        batch = Batch(mentions=mentions[offset : offset + 100], next_cursor=str(offset))
        pipeline.ingest("x:mentions", batch, datetime.now(UTC))
    spent = time.process_time() - began
    alerted = len(store.outbox())
    store.close()
    if alerted != count:
        raise SystemExit(f"only {alerted} of {count} mentions alerted; the figure would lie")
    return spent / count * 1000


if __name__ == "__main__":
    main()
