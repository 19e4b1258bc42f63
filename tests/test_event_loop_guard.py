"""The suite's guard against database calls on the event loop catches them, and only them."""

import asyncio
from pathlib import Path

from core.store import Store
from tests.conftest import REPO, queries_on_the_event_loop

# Product code is recognised by its file: compile the coroutines as if they were in service/.
_PRODUCT_SOURCE = """
import asyncio

async def blocking(store):
    return store.count_mentions()

async def off_the_loop(store):
    return await asyncio.to_thread(store.count_mentions)
"""


def _product_coroutines() -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(_PRODUCT_SOURCE, str(REPO / "service" / "_guard_probe.py"), "exec"), namespace)
    return namespace


async def test_a_product_coroutine_querying_on_the_loop_is_caught(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'guard.db'}")
    probes = _product_coroutines()
    try:
        with queries_on_the_event_loop() as offenders:
            await probes["blocking"](store)  # type: ignore[operator]
        assert offenders == ["/service/_guard_probe.py:5 blocking"]
        with queries_on_the_event_loop() as offenders:
            await probes["off_the_loop"](store)  # type: ignore[operator]
            store.count_mentions()  # the test's own call
        assert offenders == []
    finally:
        await asyncio.to_thread(store.close)
