"""`python -m sandbox` by hand: seeded, it prints the environment to use, and `post` adds a
mention that the fake then serves as the platform would."""

import json
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sandbox() -> Iterator[tuple[dict[str, str], int]]:
    """A running `python -m sandbox --seed`: the environment it printed and its control port."""
    control = free_port()
    ports = [
        "--x-port", str(free_port()),
        "--telegram-port", str(free_port()),
        "--reddit-port", str(free_port()),
        "--control-port", str(control),
    ]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--seed", *ports],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        env: dict[str, str] = {}
        lines = []
        for line in process.stdout:  # waits for each line; the last one says it serves
            lines.append(line)
            name, equals, value = line.strip().partition("=")
            if equals and name.isupper():
                env[name] = value
            if line.startswith("Serving"):
                break
        assert lines[0].startswith("planted 12 mentions"), lines
        yield env, control
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_post(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "post", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def search(env: dict[str, str], query: str) -> list[str]:
    url = f"{env['X_API_BASE']}/2/tweets/search/recent?" + urllib.parse.urlencode({"query": query})
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {env['X_BEARER_TOKEN']}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return [tweet["text"] for tweet in json.load(response).get("data", [])]


def test_seeded_sandbox_prints_working_settings_and_takes_posts(
    sandbox: tuple[dict[str, str], int],
) -> None:
    env, control = sandbox
    # The base URLs are what BrandPulse takes: no `/bot` on Telegram's (the token is added).
    assert env["TELEGRAM_API_BASE"].startswith("http://127.0.0.1:")
    assert "/bot" not in env["TELEGRAM_API_BASE"]
    assert {"X_BEARER_TOKEN", "REDDIT_CLIENT_ID", "TELEGRAM_BOT_TOKEN"} <= set(env)
    seeded = search(env, "refund")
    assert any("I want a refund" in text for text in seeded)

    done = run_post("x", "@AcmeSupport my blender 77 smokes, help!", "--author", "by_hand",
                    "--control-port", str(control))  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("posted on x: "), done.stderr
    assert "@AcmeSupport my blender 77 smokes, help!" in search(env, "blender")


def test_post_without_a_sandbox_says_how_to_start_one() -> None:
    done = run_post("x", "hello", "--control-port", str(free_port()))
    assert done.returncode == 2
    assert "no sandbox on 127.0.0.1:" in done.stderr and "python -m sandbox" in done.stderr
    assert "Traceback" not in done.stderr


def test_post_to_an_unknown_platform_is_refused_by_argparse() -> None:
    done = run_post("mastodon", "hello")
    assert done.returncode == 2 and "invalid choice: 'mastodon'" in done.stderr
