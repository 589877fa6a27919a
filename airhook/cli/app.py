"""Argument parsing and dispatch: every command's ``--help`` carries an example, every error is
one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from ..errors import AirhookError
from . import check, explain, redeliver_github, runs, send
from .output import USAGE, CliError, Output

DESCRIPTION = """\
Send signed test deliveries, explain routing, check the config, redeliver GitHub's failed
deliveries. Every command reads the config the function reads ($AIRHOOK_CONFIG, else
airhook.yaml) and its ${VARIABLES} from this environment.

examples:
  airhook send github --url http://127.0.0.1:8080        # a signed push, as GitHub sends it
  airhook explain github --payload push.json --event push
  airhook check airhook.yaml
  airhook redeliver-github --repo octo-org/etl --hook-id 12345678 --since 2h
"""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that says where to find help."""

    def error(self, message: str) -> Any:
        raise CliError(f"{message} (see {self.prog} --help)", USAGE)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def build_parser() -> Parser:
    parser = Parser(prog="airhook", description=DESCRIPTION, formatter_class=_formatter)
    parser.add_argument("--version", action="version", version=f"airhook {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (send, explain, check, redeliver_github, runs):
        sub = commands.add_parser(module.NAME, help=module.HELP, description=module.DESCRIPTION,
                                  formatter_class=_formatter)
        module.arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    out = Output()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "run", None) is None:
            parser.print_help(sys.stderr)
            return USAGE
        run: Callable[[argparse.Namespace, Output], int] = args.run
        return run(args, out)
    except CliError as exc:
        out.error(exc.message)
        return exc.code
    except AirhookError as exc:  # e.g. a ConfigError from a path not located to a line
        out.error(exc.detail)
        return 1
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130
    except BrokenPipeError:  # `airhook ... | head`
        return 0
