"""A `requests` session for SDKs that hard-code their host (tweepy: https://api.twitter.com).

It rewrites that host to the configured base URL, so tests, the demo and self-hosted proxies
work, and it puts a timeout on every call: tweepy passes none, and one hung socket would
otherwise stall a poll forever.
"""

from typing import Any

import requests


class BaseUrlSession(requests.Session):
    def __init__(self, fixed_host: str, base_url: str, timeout: float):
        super().__init__()
        self.fixed_host = fixed_host.rstrip("/")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(self.fixed_host):
            url = self.base_url + url[len(self.fixed_host) :]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)
