"""How the command line speaks: one-line errors with an exit code, colour only on a terminal,
JSON for scripts."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, TextIO

#: Exit codes: 0 done, 1 the thing checked or sent failed, 2 the command could not run as asked.
OK, FAILED, USAGE = 0, 1, 2


class CliError(Exception):
    """A problem the user can act on: printed as one line on stderr, then ``exit(code)``."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


_CODES = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "dim": "2", "bold": "1"}


@dataclass(frozen=True)
class Style:
    """ANSI colour when ``enabled`` (a terminal, no ``NO_COLOR``, not ``TERM=dumb``), else plain."""

    enabled: bool

    @classmethod
    def for_stream(cls, stream: TextIO) -> Style:
        isatty = getattr(stream, "isatty", None)
        terminal = bool(isatty and isatty())
        return cls(terminal and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb")

    def paint(self, text: str, colour: str) -> str:
        return f"\033[{_CODES[colour]}m{text}\033[0m" if self.enabled else text

    def red(self, text: str) -> str:
        return self.paint(text, "red")

    def green(self, text: str) -> str:
        return self.paint(text, "green")

    def yellow(self, text: str) -> str:
        return self.paint(text, "yellow")

    def dim(self, text: str) -> str:
        return self.paint(text, "dim")

    def bold(self, text: str) -> str:
        return self.paint(text, "bold")


class Output:
    """Where a command writes: ``line`` for people, ``data`` for ``--json`` (one document)."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.style = Style.for_stream(self.stdout)

    def line(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def data(self, document: Any) -> None:
        print(json.dumps(document, indent=2, ensure_ascii=False), file=self.stdout)

    def error(self, message: str) -> None:
        style = Style.for_stream(self.stderr)
        print(f"{style.red('airhook: error:')} {message}", file=self.stderr)


def compact(value: Any, limit: int = 0) -> str:
    """JSON on one line (cut to ``limit`` characters when given)."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if not limit or len(text) <= limit else text[:limit - 1] + "…"
