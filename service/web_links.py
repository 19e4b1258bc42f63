"""One-time login links to the web console, for `/web` in Telegram and `main.py web link`."""

from datetime import datetime

from core.states import WebRole
from core.store import Store
from core.web_logins import WebLogins
from service.config import AppConfig


def login_link(
    store: Store, config: AppConfig, role: WebRole, user_id: str, name: str, now: datetime
) -> str:
    """A link that logs `name` in once within 10 minutes; only its hash is stored."""
    token = WebLogins(store.engine).issue(role, user_id, name, now)
    return f"{config.web.public_url}/login?token={token}"
