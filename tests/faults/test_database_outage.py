"""A running node loses its PostgreSQL for a while: it logs once, waits, retries, and goes on.

The node reaches a real PostgreSQL through a TCP proxy the test cuts (every connection dropped,
new ones refused) and restores. A mention posted during the outage is alerted after it, the
node never exits, and the outage is logged once when it starts and once when it ends.
"""

from pathlib import Path

from sqlalchemy import make_url

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from tests.conftest import STAFF_CHAT
from tests.faults.tcp_proxy import TcpProxy
from tests.multinode.nodes import START_TIMEOUT, Node, node_config, node_env, until


def _alerted(fake_telegram: FakeTelegram, handle: str) -> bool:
    return any(f"@{handle} " in m.text for m in fake_telegram.sent if m.chat_id == STAFF_CHAT)


def test_a_node_rides_out_a_database_outage(
    tmp_path: Path, scratch_postgres_url: str, fake_x: FakeXApi, fake_telegram: FakeTelegram
) -> None:
    real = make_url(scratch_postgres_url)
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        node = Node(node_config(tmp_path), node_env(fake_x, fake_telegram, url), tmp_path / "n.log")
        try:
            fake_x.post_tweet("@AcmeSupport my order arrived broken, refund please", "before")
            until(lambda: _alerted(fake_telegram, "before"), START_TIMEOUT, "the alert before")

            proxy.cut()
            until(lambda: "database unavailable" in node.output(), 30, "the outage logged")
            fake_x.post_tweet("@AcmeSupport still broken and nobody answers, refund!", "during")
            assert node.process.poll() is None, node.output()

            proxy.restore()
            until(lambda: _alerted(fake_telegram, "during"), 60, "the alert after the outage")
            until(lambda: "database reachable again" in node.output(), 30, "the recovery logged")
            assert node.process.poll() is None, node.output()
        finally:
            code = node.terminate() if node.process.poll() is None else node.process.returncode
    log = node.output()
    assert code == 0, log
    assert "Traceback" not in log, log
    assert log.count("database unavailable") == 1, log
    assert log.count("database reachable again") == 1, log
    texts = [m.text for m in fake_telegram.sent if m.chat_id == STAFF_CHAT]
    assert sum("@during " in t for t in texts) == 1, texts
