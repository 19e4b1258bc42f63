"""`main.py demo --web`: a live inbox against the sandbox, a login link, stopped by Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import REPO


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def test_demo_web_serves_a_live_inbox_until_ctrl_c() -> None:
    port = free_port()
    env = {**os.environ, "BRANDPULSE_WEB_LISTEN": f"127.0.0.1:{port}", "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "demo", "--web"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:  # blocks until the demo prints; ends if it dies
            lines.append(line)
            if "/login?token=" in line:
                break
        link = lines[-1].strip()
        assert link.startswith(f"http://127.0.0.1:{port}/login?token="), "".join(lines)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            token = link.split("token=")[1]
            assert client.post("/login", data={"token": token}).status_code == 303
            # The demo node follows config.yaml: each rule in force names its file:line.
            places = [rule["place"] for rule in client.get("/rules.json").json()["rules"]]
            assert places and all(p.startswith("config.yaml:") for p in places), places
            first = _total(client)
            deadline = time.monotonic() + 30
            while _total(client) <= first:  # a planted mention arrives every few seconds
                assert time.monotonic() < deadline, "no new mention planted"
                time.sleep(0.5)
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


def _total(client: httpx.Client) -> int:
    response = client.get("/queue.json")
    return int(response.json()["total"]) if response.status_code == 200 else -1
