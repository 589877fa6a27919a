"""Reliability suites (issue 8): bad input, fuzzing, load, faults, secrets.

``AIRHOOK_RELIABILITY=long`` selects the long profile (``make test-long``); the default ``fast``
profile runs in ``make test``. Tests marked ``long`` run only in the long profile. Each suite's
figures are printed at the end of the run and written to ``.airhook/reliability/``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from . import figures

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if figures.LONG:
        return
    skip = pytest.mark.skip(reason="long profile only (AIRHOOK_RELIABILITY=long, make test-long)")
    for item in items:
        if "long" in item.keywords and "tests/reliability" in str(item.fspath):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not figures.FIGURES:
        return
    path = figures.write()
    terminalreporter.section(f"reliability figures ({figures.PROFILE} profile)")
    machine = figures.machine()
    terminalreporter.write_line(f"  machine: {machine['cores']} cores, load average "
                                f"{machine['loadavg_1_5_15']} at the end of the run")
    for suite in sorted(figures.FIGURES):
        terminalreporter.write_line(figures.format_section(suite, figures.FIGURES[suite]))
    if path is not None:
        terminalreporter.write_line(f"  written to {path}")
