"""`python -m sandbox`: the three fakes on fixed ports until Ctrl-C, for experiments by hand.

python -m sandbox [--seed]                      serve; print the environment to point at it
python -m sandbox post x "text" [--author NAME] add a mention to the running sandbox
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import urllib.error
import urllib.request

from sandbox import FakeReddit, FakeTelegram, FakeXApi
from sandbox.control import PLATFORMS, ControlServer
from sandbox.seed import BRAND, plant, service_env

CONTROL_PORT = 8700


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["post"]:
        return _post(argv[1:])
    return _serve(argv)


def _serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--x-port", type=int, default=8701)
    parser.add_argument("--telegram-port", type=int, default=8702)
    parser.add_argument("--reddit-port", type=int, default=8703)
    parser.add_argument("--control-port", type=int, default=CONTROL_PORT)
    parser.add_argument("--seed", action="store_true", help="start with a day's realistic mentions")
    args = parser.parse_args(argv)
    x_api = FakeXApi(brand_username=BRAND, port=args.x_port)
    telegram = FakeTelegram(port=args.telegram_port)
    reddit = FakeReddit(username=BRAND, port=args.reddit_port)
    with x_api, telegram, reddit, ControlServer(x_api, reddit, telegram, args.control_port) as ctl:
        if args.seed:
            print(f"planted {plant(x_api, reddit, telegram)} mentions (X, Reddit, Telegram)")
        print("Point BrandPulse at the fakes (e.g. in a .env file, or `export` each line):")
        for name, value in service_env(x_api, reddit, telegram).items():
            print(f"{name}={value}")
        print(f'Add a mention: python -m sandbox post x "text" --control-port {ctl.port}')
        print("Serving; Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopped.")
    return 0


def _post(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox post", description="add a mention to the running sandbox"
    )
    parser.add_argument("platform", choices=PLATFORMS)
    parser.add_argument("text", help="the mention; on Reddit its first line is the title")
    parser.add_argument("--author", default="sandbox_customer")
    parser.add_argument("--control-port", type=int, default=CONTROL_PORT)
    args = parser.parse_args(argv)
    body = json.dumps({"platform": args.platform, "text": args.text, "author": args.author})
    request = urllib.request.Request(
        f"http://127.0.0.1:{args.control_port}/post",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(f"posted on {args.platform}: {json.load(response)['id']}")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"error: the sandbox refused it: {exc.read().decode()}", file=sys.stderr)
    except OSError as exc:
        print(
            f"error: no sandbox on 127.0.0.1:{args.control_port} ({exc}); "
            "start one with `python -m sandbox`",
            file=sys.stderr,
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
