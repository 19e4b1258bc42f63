"""Three nodes alerting into one staff chat share its 20 messages a minute (issue 14, point 9).

Every node drains the shared outbox, so a burst posted to all the sources at once reaches the
chat from three processes together. The fake Telegram enforces the group limit and answers 429
past it; the nodes must never meet it, and every mention must still be alerted (on its own or
counted in a group message).
"""

from pathlib import Path

from sqlalchemy import Engine, text

from core.store import Store, connect
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from tests.conftest import STAFF_CHAT
from tests.multinode.nodes import START_TIMEOUT, Node, node_config, node_env, until

SOURCES = ["x:mentions", "x:search:s0", "x:search:s1", "x:search:s2"]
PER_SOURCE = 3
WAVES = 8
TELEGRAM_GROUP_LIMIT = 20


def test_three_nodes_never_pass_the_chat_limit_together(
    tmp_path: Path, scratch_postgres_url: str, fake_x: FakeXApi, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.enforce_limits = True
    Store.open(scratch_postgres_url).close()  # the schema first: the test reads it from the start
    engine = connect(scratch_postgres_url)
    env = node_env(fake_x, fake_telegram, scratch_postgres_url)
    nodes = []
    for index in range(3):
        directory = tmp_path / f"node{index}"
        directory.mkdir()
        # The shipped budget: 18 of the 20, two spare for a send counted a moment before it
        # reaches Telegram (a starved node's request can arrive seconds after it was counted).
        config = node_config(directory, "10s", searches=3, max_per_minute=18)
        nodes.append(Node(config, env, directory / "node.log"))
    try:
        until(lambda: _polled(engine) == len(SOURCES), START_TIMEOUT, "a first poll of each source")
        wave_size = len(SOURCES) * PER_SOURCE
        for wave in range(WAVES):
            # Each wave once the last is stored: the first is alerted one by one, the rest
            # fold into group messages that every node keeps editing as their counts go up.
            stored = wave * wave_size
            until(lambda n=stored: _stored(engine) == n, 60, f"{stored} mentions stored")
            post_wave(fake_x, wave)
        expected = WAVES * len(SOURCES) * PER_SOURCE
        until(
            lambda: _alerted(engine) == expected and _unsent(engine) == 0,
            150,
            f"{expected} mentions alerted and an empty outbox",
        )
    finally:
        codes = [node.terminate() for node in nodes]
        failed = _failed(engine)
        engine.dispose()
    context = "\n".join(f"--- node {n.pid}\n{n.output()[-2000:]}" for n in nodes)
    assert codes == [0, 0, 0], context
    assert fake_telegram.flood_refusals == [], context
    moments = sorted(m.sent_at for m in fake_telegram.sent if m.chat_id == STAFF_CHAT)
    busiest = max(sum(1 for t in moments[i:] if t < start + 60) for i, start in enumerate(moments))
    assert busiest <= TELEGRAM_GROUP_LIMIT, (busiest, context)
    assert failed == [], context


def post_wave(fake_x: FakeXApi, wave: int) -> None:
    for n, source in enumerate(SOURCES):
        where = "@AcmeSupport" if source == "x:mentions" else f"broken{n - 1}"
        for m in range(PER_SOURCE):
            author = f"c{wave}_{n}_{m}"
            fake_x.post_tweet(f"{where} order {wave}{n}{m} never came, refund", author)


def _polled(engine: Engine) -> int:
    query = "SELECT count(*) FROM source_status WHERE last_success_at IS NOT NULL"
    with engine.connect() as connection:
        return connection.execute(text(query)).scalar() or 0


def _alerted(engine: Engine) -> int:
    """Mentions whose alert was delivered: its own message, or counted in a group's."""
    query = "SELECT count(DISTINCT mention_id) FROM alert WHERE mention_id IS NOT NULL"
    with engine.connect() as connection:
        return connection.execute(text(query)).scalar() or 0


def _stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM mention")).scalar() or 0


def _unsent(engine: Engine) -> int:
    with engine.connect() as connection:
        query = "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')"
        return connection.execute(text(query)).scalar() or 0


def _failed(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT last_error FROM outbox WHERE state = 'failed'"))
        return [str(error) for error in rows.scalars()]
