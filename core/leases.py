"""Several nodes, one database: which node polls which source, and which nodes are alive.

A lease is a row `(name, owner, expires_at)`. A node takes a free or expired lease with one
atomic upsert, renews what it holds long before expiry, and releases everything when it stops
gracefully. A node that dies stops renewing: within one lease period another node takes its
sources, and its in-flight outbox actions are retried (`Store.recover_in_flight` reads the
`node:` heartbeat leases).

Correctness never rests on a lease: mentions are unique per (platform, id) and actions per
idempotency key, so two nodes polling one source at once (a lease that expired mid-poll) costs
API calls, not duplicates. Expiry is judged by each node's clock: keep nodes NTP-synced, to
well within the lease period.
"""

import logging
import os
import secrets
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, delete, or_, select, update

from core.clock import Clock
from core.models import LeaseRow
from core.store._db import dialect_insert

log = logging.getLogger(__name__)
# The table, not the ORM class: a statement on the class is compiled through the ORM (its
# mappers configured first), which a lease, plain rows and no objects, has no use for.
_LEASES = LeaseRow.__table__


def source_lease(source: str) -> str:
    return f"source:{source}"


def live_holders(engine: Engine, now: datetime) -> dict[str, str]:
    """Every lease unexpired at `now`, with the node holding it."""
    query = select(_LEASES.c.name, _LEASES.c.owner).where(_LEASES.c.expires_at > now)
    with engine.connect() as connection:
        return {name: owner for name, owner in connection.execute(query)}


def stopped_nodes(engine: Engine, now: datetime, since: datetime) -> list[tuple[str, datetime]]:
    """Nodes whose heartbeat lease ran out between `since` and `now`: (node, when it expired)."""
    query = select(_LEASES.c.owner, _LEASES.c.expires_at).where(
        _LEASES.c.name.startswith("node:"),
        _LEASES.c.expires_at <= now,
        _LEASES.c.expires_at > since,
    )
    with engine.connect() as connection:
        return [(owner, expires_at) for owner, expires_at in connection.execute(query)]


def new_owner() -> str:
    """A name for this process that no other node, nor a restart of this one, will have."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(3)}"


class Leases:
    """The leases one node (`owner`) holds; every method is one short transaction."""

    def __init__(self, engine: Engine, owner: str, ttl: timedelta, clock: Clock):
        self.engine = engine
        self.owner = owner
        self.ttl = ttl
        self.clock = clock
        self._insert = dialect_insert(engine)
        self._held: dict[str, datetime] = {}  # lease → the expiry this node last wrote
        self._theirs: dict[str, datetime] = {}  # lease → another node's expiry, as last read
        # The node calls these from worker threads (asyncio.to_thread). Unserialised, a source
        # taken between a beat's UPDATE and its reckoning counted as "lost to another node",
        # was forgotten and taken again (seen under load in tests/multinode).
        self._lock = threading.Lock()

    @property
    def heartbeat(self) -> str:
        return f"node:{self.owner}"

    def held(self) -> set[str]:
        return set(self._held)

    def hold(self, name: str) -> bool:
        """True when this node holds `name` now, taking it if it is free or expired.

        Cheap to call every tick: the database is asked only when the answer may have changed
        (our lease past half its life, or the other holder's expiry reached).
        """
        with self._lock:
            return self._hold(name)

    def _hold(self, name: str) -> bool:
        now = self.clock.now()
        mine = self._held.get(name)
        if mine is not None and mine - now > self.ttl / 2:
            return True
        theirs = self._theirs.get(name)
        if mine is None and theirs is not None and theirs > now:
            return False
        return self._take(name, now)

    def beat(self) -> set[str]:
        """Renew the heartbeat and every lease still ours; returns the names held."""
        with self._lock:
            return self._beat()

    def _beat(self) -> set[str]:
        now = self.clock.now()
        expires = now + self.ttl
        with self.engine.begin() as connection:
            renewed = set(
                connection.scalars(
                    update(_LEASES)
                    .where(_LEASES.c.owner == self.owner)
                    .values(expires_at=expires)
                    .returning(_LEASES.c.name)
                )
            )
        for lost in set(self._held) - renewed:
            self._forget(lost, now)
        self._held = dict.fromkeys(renewed, expires)
        if self.heartbeat not in renewed:
            self._take(self.heartbeat, now)
        return self.held()

    def release(self) -> None:
        """Give every lease back, so other nodes take over at once rather than at expiry."""
        with self._lock:
            with self.engine.begin() as connection:
                connection.execute(delete(_LEASES).where(_LEASES.c.owner == self.owner))
            self._held.clear()

    def _take(self, name: str, now: datetime) -> bool:
        expires = now + self.ttl
        statement = self._insert(_LEASES).values(
            name=name, owner=self.owner, expires_at=expires, acquired_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "owner": self.owner,
                "expires_at": expires,
                "acquired_at": case(
                    (_LEASES.c.owner == self.owner, _LEASES.c.acquired_at), else_=now
                ),
            },
            # The row is ours already, or its holder let it expire: nobody else may take it.
            where=or_(_LEASES.c.owner == self.owner, _LEASES.c.expires_at <= now),
        ).returning(_LEASES.c.owner)
        with self.engine.begin() as connection:
            taken = connection.execute(statement).scalar() is not None
            holder = None
            if not taken:
                holder = connection.execute(
                    select(_LEASES.c.owner, _LEASES.c.expires_at).where(_LEASES.c.name == name)
                ).first()
        if taken:
            if name not in self._held and name != self.heartbeat:
                log.info("%s: this node (%s) works on it now", name, self.owner)
            self._held[name] = expires
            self._theirs.pop(name, None)
            return True
        self._forget(name, now)
        self._theirs[name] = holder.expires_at if holder else now
        return False

    def _forget(self, name: str, now: datetime) -> None:
        if self._held.pop(name, None) is not None:
            log.warning("%s: lease lost to another node at %s", name, f"{now:%H:%M:%S}")
