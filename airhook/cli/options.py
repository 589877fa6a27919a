"""Options every subcommand shares, and the config path they resolve to.

Their own module so that ``app`` (which lists the subcommands) and each subcommand (which takes
these options) need not import each other.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..config import default_path


def common(parser: argparse.ArgumentParser, *, config: bool = True) -> None:
    """Options every command takes."""
    if config:
        parser.add_argument("--config", metavar="FILE", default=None,
                            help="the routes file (default: $AIRHOOK_CONFIG, else ./airhook.yaml)")
    parser.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")


def config_path(args: argparse.Namespace, environ: Any = None) -> str:
    """``--config``, else ``$AIRHOOK_CONFIG``, else ``./airhook.yaml``."""
    return str(getattr(args, "config", None) or default_path(os.environ if environ is None else environ))
