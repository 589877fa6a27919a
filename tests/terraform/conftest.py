"""Fixtures of tests/terraform; the venv bootstrap is in tfenv.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
# tfenv (next to this file) and the airhook package (repository root) import however pytest was
# started (rootdir, import mode, or from another directory).
for path in (HERE, HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tfenv import TERRAFORM, Tools, ensure_venv  # noqa: E402


@pytest.fixture(scope="session")
def tools() -> Tools:
    return Tools(hcl_python=ensure_venv("hcl", HERE / "requirements.txt"),
                 checkov_python=ensure_venv("checkov", HERE / "requirements-checkov.txt"))


@pytest.fixture(scope="session")
def parsed(tools: Tools) -> dict[str, Any]:
    """Every .tf file under terraform/, parsed: {"function.tf": {...}, "examples/x/main.tf": ...}."""
    return tools.tftool("parse", str(TERRAFORM))
