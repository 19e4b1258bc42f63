"""BrandPulse command line: `python main.py COMMAND …` (see `--help`).

The commands live in service/command_line.py: Python compiles the script it runs at every
start (only imported modules keep their bytecode), so this file stays a few lines.
"""

import gc
import sys

from service import startup_gc

if __name__ == "__main__":
    startup_gc.pause()  # before the libraries are imported

from service.command_line import main, parser

__all__ = ["main", "parser"]

if __name__ == "__main__":
    code = main()
    # At exit Python would search every object left from start-up (sqlalchemy's and pydantic's
    # classes, mostly) for cycles, only to free memory the process hands back anyway: ~5 % of a
    # `run --once`. Frozen objects are left out of that search; atexit handlers still run.
    gc.freeze()
    sys.exit(code)
