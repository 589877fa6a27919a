"""Shared fixtures: every test sees a copy of os.environ that it may change freely."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Real local Airflow 2/3 and the Pub/Sub emulator, started lazily, once per session, for every
# test directory (integration, cli, reliability) alike.
from tests.fixtures_local import airflow, airflow2, airflow3, local_airflows, pubsub_emulator  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
#: Real GitHub deliveries (octokit/webhooks examples, MIT; see tests/payloads/README.md).
PAYLOADS = ROOT / "tests" / "payloads" / "github"


@pytest.fixture(autouse=True)
def isolated_environ() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def payload(event: str, name: str = "payload.json") -> bytes:
    """The raw bytes of a real GitHub delivery from tests/payloads/github/."""
    return (PAYLOADS / event / name).read_bytes()
