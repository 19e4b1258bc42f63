"""Logging set-up: one line per change of state, secrets never printed."""

import json
import logging
import sys
from collections.abc import Iterable


class RedactSecrets(logging.Filter):
    """Replaces every configured secret in a record's final text by `***`.

    Third-party libraries log URLs and headers (httpx logs Telegram URLs, which carry the bot
    token); filtering the rendered message catches what a library-by-library audit would miss.
    """

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            text = text.replace(secret, "***")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "***")
        record.msg, record.args = text, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(secrets: Iterable[str], fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactSecrets(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request-level chatter: httpx logs every Telegram URL (with the token), tweepy at DEBUG logs
    # the Authorization header. Neither is a change of state worth a line.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # prawcore warns at each of its own retries ("Retrying due to ConnectionError…"), two lines
    # a poll for as long as Reddit is down; the poller already logs the outage once
    # (service/polling.py).
    logging.getLogger("prawcore").setLevel(logging.ERROR)
    logging.getLogger("tweepy").setLevel(logging.INFO)
