"""`python -m sandbox`: run all three fakes on fixed ports until Ctrl-C, for manual runs."""

from __future__ import annotations

import argparse
import threading

from sandbox import FakeReddit, FakeTelegram, FakeXApi


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--x-port", type=int, default=8701)
    parser.add_argument("--telegram-port", type=int, default=8702)
    parser.add_argument("--reddit-port", type=int, default=8703)
    args = parser.parse_args(argv)
    x_api = FakeXApi(port=args.x_port)
    telegram = FakeTelegram(port=args.telegram_port)
    reddit = FakeReddit(port=args.reddit_port)
    with x_api, telegram, reddit:
        print(f"X API v2      {x_api.base_url}  bearer={x_api.bearer_token}")
        print(f"Telegram      {telegram.base_url}/bot  token={telegram.token}")
        print(
            f"Reddit        {reddit.base_url}  client_id={reddit.client_id} "
            f"client_secret={reddit.client_secret} user={reddit.username} "
            f"password={reddit.password}"
        )
        print("Serving; Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopped.")


if __name__ == "__main__":
    main()
