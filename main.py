"""BrandPulse command line: `python main.py COMMAND …` (see `--help`).

The commands live in service/command_line.py: Python compiles the script it runs at every
start (only imported modules keep their bytecode), so this file stays a few lines.
"""

import sys

from service import startup_gc

if __name__ == "__main__":
    startup_gc.pause()  # before the libraries are imported

from service.command_line import main, parser

__all__ = ["main", "parser"]

if __name__ == "__main__":
    code = main()
    startup_gc.before_exit()
    sys.exit(code)
