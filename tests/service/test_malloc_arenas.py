"""The node caps glibc's malloc arenas, unless the operator chose with MALLOC_ARENA_MAX."""

import os
import platform
import subprocess
import sys

import pytest

from tests.conftest import REPO

PROBE = "from service.malloc_arenas import limit_malloc_arenas; print(limit_malloc_arenas())"


def _probe(env: dict[str, str]) -> str:
    # A process of its own: the cap is for the life of a process, not for this test run's.
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_glibc_takes_the_cap() -> None:
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    assert _probe(env) == "True"


def test_the_operators_malloc_arena_max_stands() -> None:
    assert _probe({**os.environ, "MALLOC_ARENA_MAX": "4"}) == "False"
