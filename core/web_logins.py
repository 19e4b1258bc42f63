"""One-time login links to the web console: the one door to the `web_login` table.

A link carries a random token; only its sha256 is stored, so the database alone logs nobody in.
A link works once, for ten minutes: redeeming marks it used in the same statement that checks it,
so two clicks racing on two nodes let one of them in.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from core.models import WebLoginRow

LINK_TTL = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Login:
    """Who a redeemed link logs in."""

    role: str  # agent | viewer
    user_id: str  # an agent's Telegram user id; "" for viewers
    name: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebLogins:
    def __init__(self, engine: Engine):
        self.engine = engine

    def issue(self, role: str, user_id: str, name: str, now: datetime) -> str:
        """A new link's token (shown once, never stored)."""
        token = secrets.token_urlsafe(32)
        row = WebLoginRow(
            token_hash=token_hash(token),
            role=role,
            user_id=user_id,
            name=name,
            created_at=now,
            expires_at=now + LINK_TTL,
        )
        with Session(self.engine) as session, session.begin():
            session.add(row)
        return token

    def redeem(self, token: str, now: datetime) -> Login | str:
        """Who `token` logs in, marking it used; or why it logs nobody in."""
        digest = token_hash(token)
        with Session(self.engine) as session, session.begin():
            taken = session.execute(
                update(WebLoginRow)
                .where(
                    WebLoginRow.token_hash == digest,
                    WebLoginRow.used_at.is_(None),
                    WebLoginRow.expires_at > now,
                )
                .values(used_at=now)
            )
            row = session.scalars(
                select(WebLoginRow).where(WebLoginRow.token_hash == digest)
            ).first()
            if row is None:
                return "This login link is not known here."
            if taken.rowcount != 1:
                if row.used_at is not None:
                    return "This login link was already used: each link works once."
                return "This login link has expired: links work for 10 minutes."
            return Login(row.role, row.user_id, row.name)
