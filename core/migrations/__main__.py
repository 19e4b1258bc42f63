"""`python -m core.migrations`: give a brand-new empty database the schema; the URL comes on stdin.

`main.py run` starts this (see `create_empty_apart`) so that the node, which runs for weeks, never
holds Alembic and the migration scripts in its own memory.
"""

import sys

from core.migrations import SchemaError, ensure_current
from core.store import connect  # and with it every table: one with tables is never "empty"


def main() -> int:
    engine = connect(sys.stdin.readline().strip())
    try:
        ensure_current(engine)
    except SchemaError:
        pass  # not an empty database: the node reads the schema again and says what is wrong
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
