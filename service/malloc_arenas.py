"""Fewer glibc malloc arenas for a long-running node.

glibc gives a thread that mallocs under contention an arena of its own (up to 8 per core), and
memory freed in one arena is not reused by another: a node's worker threads (database calls
through `asyncio.to_thread`, praw and tweepy, uvicorn) left ~10 MB of such slack in a burst of
1,000 mentions (bench/memory_cpu.py: 171 -> 161 MB peak RSS). Under the GIL two arenas see
little contention. MALLOC_ARENA_MAX, when the operator set it, stands.
"""

import os
import sys

M_ARENA_MAX = -8  # glibc's <malloc.h>
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas; call before any thread starts. False when nothing was set."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    import ctypes  # here: the other commands need none of it

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False  # a libc without mallopt has no per-thread arenas to cap either
    return bool(mallopt(M_ARENA_MAX, arenas))  # musl's stub answers 0: nothing set
