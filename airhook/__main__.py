"""``python -m airhook ...``: the command line (see ``airhook --help``)."""

from __future__ import annotations

import sys

from airhook.cli import main

if __name__ == "__main__":
    sys.exit(main())
