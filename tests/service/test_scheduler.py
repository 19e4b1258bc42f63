"""The running node's alarms: a job sleeps until the moment it named, or until rung."""

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from core.clock import SystemClock
from service.scheduler import Alarm

HOUR = timedelta(hours=1)


async def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_a_job_sleeps_until_rung_and_a_stop_ends_it_after_the_step() -> None:
    alarm = Alarm(SystemClock(), HOUR)
    runs: list[int] = []
    stop = asyncio.Event()

    async def step() -> None:
        runs.append(len(runs))

    kept = asyncio.create_task(alarm.keep("test", step, stop, at_once=True))
    await _until(lambda: len(runs) == 1)
    alarm.ring()  # new work: the hour's sleep is cut short
    await _until(lambda: len(runs) == 2)
    stop.set()
    alarm.ring()
    await asyncio.wait_for(kept, 10)
    assert runs == [0, 1]


async def test_a_job_runs_again_by_the_moment_it_named() -> None:
    clock = SystemClock()
    alarm = Alarm(clock, HOUR)
    runs: list[int] = []
    stop = asyncio.Event()

    async def step() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            alarm.by(clock.now() + timedelta(milliseconds=20))  # e.g. the next poll

    kept = asyncio.create_task(alarm.keep("test", step, stop, at_once=True))
    await _until(lambda: len(runs) == 3)  # no ring: the moments it named
    stop.set()
    alarm.ring()
    await asyncio.wait_for(kept, 10)


async def test_a_failing_step_is_logged_and_the_job_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alarm = Alarm(SystemClock(), HOUR)
    runs: list[int] = []
    stop = asyncio.Event()

    async def step() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise ValueError("a bug in one run")

    kept = asyncio.create_task(alarm.keep("flaky", step, stop, at_once=False))
    alarm.ring()  # not at once: the first run waits for the ring (or an hour)
    await _until(lambda: len(runs) == 1)
    alarm.ring()
    await _until(lambda: len(runs) == 2)
    stop.set()
    alarm.ring()
    await asyncio.wait_for(kept, 10)
    assert "job flaky failed" in caplog.text
