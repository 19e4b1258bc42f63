"""The chat budget the nodes share: checked and counted in one step, whoever asks at once."""

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.store import Store

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CHAT = "-100123"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.open(database_url)
    yield store
    store.close()


def test_the_minute_holds_at_most_the_budget_and_frees_as_it_passes(store: Store) -> None:
    spent = [store.spend_telegram(CHAT, NOW + timedelta(seconds=n), 3)[0] for n in range(5)]
    assert spent == [True, True, True, False, False]
    assert store.telegram_sends([CHAT, "-200"], NOW + timedelta(seconds=5)) == {
        CHAT: [(NOW + timedelta(seconds=n)).timestamp() for n in range(3)],
        "-200": [],
    }
    a_minute_on = NOW + timedelta(seconds=60)  # the first send is a minute old: room for one
    assert store.spend_telegram(CHAT, a_minute_on, 3)[0]
    assert not store.spend_telegram(CHAT, a_minute_on, 3)[0]
    counted, sends = store.spend_telegram(CHAT, a_minute_on, None)  # an answer to a command
    assert counted and len(sends) == 4


def test_nodes_asking_at_once_never_pass_the_budget_together(store: Store) -> None:
    """Twelve threads with their own connections, 40 sends asked for, 18 allowed."""

    def ask(n: int) -> bool:
        return store.spend_telegram(CHAT, NOW + timedelta(milliseconds=n), 18)[0]

    with ThreadPoolExecutor(max_workers=12) as pool:
        granted = sum(pool.map(ask, range(40)))
    assert granted == 18
    assert len(store.telegram_sends([CHAT], NOW + timedelta(seconds=1))[CHAT]) == 18


def _ask_from_a_process(url: str, start: int, results: "multiprocessing.Queue[int]") -> None:
    store = Store.open(url)
    try:
        moments = (NOW + timedelta(milliseconds=start + n) for n in range(10))
        results.put(sum(store.spend_telegram(CHAT, moment, 18)[0] for moment in moments))
    finally:
        store.close()


def test_processes_sharing_one_sqlite_file_share_the_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Store.open(url).close()  # the schema first, so the processes only count
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int] = context.Queue()
    processes = [
        context.Process(target=_ask_from_a_process, args=(url, 100 * n, results)) for n in range(4)
    ]
    for process in processes:
        process.start()
    granted = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert sum(granted) == 18
