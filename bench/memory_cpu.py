"""Memory and CPU: peak RSS of `main.py run`, CPU while idle, CPU time per alerted mention.

    python bench/memory_cpu.py [--stored 100000] [--rules 1000] [--idle 90]

Peak RSS is read from the kernel (wait4) for a real `main.py run` process that polls the fake X,
alerts through the fake Telegram, and is then stopped with SIGTERM: once with the shipped
config.yaml and an empty database (X + Telegram), once with Reddit too (all three
platforms), once with --stored mentions in the database and --rules generated rules (5
keywords each). Idle CPU: a node of the shipped config (X + Telegram, web console on) with
nothing arriving, its CPU time (user + system, /proc/PID/stat) read after start-up and again
--idle seconds later. CPU per alerted mention is measured in-process over the pipeline (parse,
VADER + triage, rules, database write, outbox row) for mentions that all alert.
Targets (issue 19): ≤ 75 MB shipped, ≤ 90 MB all three, ≤ 120 MB large, ≤ 0.1 s CPU per idle
minute, ≤ 5 ms CPU per alerted mention.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import REPO, machine, sample_texts, service_env, table
from idle_cpu import idle_cpu

from core.models import Mention
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=90.0, help="seconds of idle to measure")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        small = peak_rss(REPO / "config.yaml", f"sqlite:///{work / 'small.db'}")
        rows.append(("main.py run, shipped config (X + Telegram)", f"{small:.0f} MB", "≤ 75 MB"))
        every = peak_rss(REPO / "config.yaml", f"sqlite:///{work / 'all.db'}", reddit=True)
        rows.append(("main.py run, X + Reddit + Telegram", f"{every:.0f} MB", "≤ 90 MB"))
        spent, _requests = idle_cpu(f"sqlite:///{work / 'idle.db'}", args.idle, web=True)
        idle = spent / args.idle * 60
        rows.append(("CPU of an idle node (shipped config)", f"{idle:.3f} s/min", "≤ 0.1 s/min"))
        big_db = f"sqlite:///{work / 'big.db'}"
        fill(big_db, args.stored)
        big_config = many_rules(work / "config.yaml", args.rules)
        big = peak_rss(big_config, big_db)
        rows.append(
            (
                f"main.py run, {args.rules:,} rules, {args.stored:,} stored",
                f"{big:.0f} MB",
                "≤ 120 MB",
            )
        )
        cpu = cpu_per_alert(f"sqlite:///{work / 'cpu.db'}", 5000)
        rows.append(("CPU per alerted mention (SQLite)", f"{cpu:.2f} ms", "≤ 5 ms"))
    print(f"Memory and CPU — {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    print(table(["measure", "value", "target"], rows))


def peak_rss(config: Path, database_url: str, reddit: bool = False) -> float:
    """Peak RSS (MB) of a `main.py run` that polled once and delivered one alert."""
    with (
        FakeXApi() as x,
        FakeTelegram() as telegram,
        FakeReddit() as fake_reddit,
        tempfile.TemporaryFile("w+") as log,
    ):
        x.post_tweet("@AcmeSupport my parcel arrived broken, refund please", "customer")
        env = service_env(x, telegram, database_url, X_POLL_EVERY="1s")
        if reddit:
            env |= reddit_env(fake_reddit)
        process = subprocess.Popen(
            [sys.executable, str(REPO / "main.py"), "run", "--config", str(config)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        deadline = time.monotonic() + 120
        pid, status, usage = 0, 0, None
        while not telegram.sent and time.monotonic() < deadline and not pid:
            time.sleep(0.05)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)  # exited early?
        if not pid:
            time.sleep(3)  # a few more polls and drains at steady state
            process.send_signal(signal.SIGTERM)
            pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if not telegram.sent or process.returncode != 0:
            log.seek(0)
            raise SystemExit(f"the service did not alert or exit cleanly:\n{log.read()[-3000:]}")
    return usage.ru_maxrss / 1024


def reddit_env(fake: FakeReddit) -> dict[str, str]:
    return {
        "REDDIT_API_BASE": fake.base_url,
        "REDDIT_CLIENT_ID": fake.client_id,
        "REDDIT_CLIENT_SECRET": fake.client_secret,
        "REDDIT_USERNAME": fake.username,
        "REDDIT_PASSWORD": fake.password,
        "REDDIT_SUBREDDITS": "AcmeHelp",
        "REDDIT_POLL_EVERY": "60s",
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
