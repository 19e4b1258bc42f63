"""BrandPulse command line: `python main.py COMMAND …` (see `--help`).

The commands live in service/command_line.py: Python compiles the script it runs at every
start (only imported modules keep their bytecode), so this file stays a few lines.
"""

import sys

from service.command_line import main, parser

__all__ = ["main", "parser"]

if __name__ == "__main__":
    sys.exit(main())
