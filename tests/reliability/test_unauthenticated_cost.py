"""Issue 12.1: before a request is verified, airhook spends at most a small multiple of its size in
memory, for every sender type.

One row per profile (every registered sender type has at least one) and per body shape: a request of
the source's default ``max_body_bytes``, signed with the wrong secret (so every check that a real
signature would reach is reached), whose body is either the form a parser expands most
(``a=%41%41...``: each ``%41`` becomes a str character, list entry and dict slot) or a JSON array of
12 million zeros. Memory is measured with tracemalloc around ``Receiver.handle`` (the body itself is
allocated before, as the HTTP layer would); the figures go to the reliability report.

An address-space limit is set while each row runs, so a parser that expands the body by orders of
magnitude fails with MemoryError (a 500, hence a failed row) instead of taking the test machine's
memory: 25 MiB of ``%41`` used to cost about 2 GiB.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from airhook.senders import DEFAULT_MAX_BODY_BYTES, types
from tools import procfs

from . import figures
from .harness import NOW, Harness
from .profiles import PROFILES, Profile

SUITE = "unauthenticated_cost"
#: The bound: the body once more (a verifier may hold one signed copy: ``prefix + body``) plus one
#: more for senders that sign a URL and the body (HubSpot v3), and 1 MiB for everything else.
MULTIPLE = 2
#: Types that must parse the body to verify it (Twilio signs the sorted form parameters, not bytes):
#: airhook.body.parse_form is bounded to about 3.3x the body, and their default max_body_bytes is small.
PARSE_TO_VERIFY_MULTIPLE = {"twilio": 4}
SLACK_BYTES = 1 << 20
#: Address space allowed above the process's current size while a row runs.
GUARD_BYTES = 1 << 30



def body(shape: str, size: int) -> tuple[bytes, str]:
    """A body of ``size`` bytes in the shape a parser expands most."""
    if shape == "form":
        return b"a=" + b"%41" * ((size - 2) // 3), "application/x-www-form-urlencoded"
    return b"[" + b"0," * ((size - 2) // 2 - 1) + b"0]", "application/json"


SHAPES = ("form", "json")


def rows() -> Iterator[object]:
    for profile in PROFILES.values():
        for shape in SHAPES:
            yield pytest.param(profile, shape, id=f"{profile.name}-{shape}")


def test_every_sender_type_has_a_row() -> None:
    assert {p.type for p in PROFILES.values()} == set(types())


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


@pytest.mark.parametrize("profile, shape", rows())
def test_unsigned_request_memory_is_bounded(harness: Harness, profile: Profile, shape: str) -> None:
    source = harness.config.sources[profile.name]
    # each type's default: GitHub's 25 MiB, less for types that must parse to verify (Twilio's 1 MiB)
    assert source.max_body_bytes <= DEFAULT_MAX_BODY_BYTES
    data, content_type = body(shape, source.max_body_bytes)
    request = profile.build("cost", NOW, secret=profile.wrong_secret, body=data, content_type=content_type)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (procfs.address_space_bytes() + GUARD_BYTES, hard))
    tracemalloc.start()
    cpu = time.process_time()
    try:
        response = harness.handle(request)
    finally:
        cpu = time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        figures.record(SUITE, **{f"{profile.name}-{shape}": {
            "body_mib": round(len(data) / 2**20, 1), "peak_mib": round(peak / 2**20, 1),
            "peak_x_body": round(peak / len(data), 2), "cpu_ms": round(cpu * 1000, 1)}})
    assert response.status in (401, *profile.also_refused_with), response.body
    multiple = PARSE_TO_VERIFY_MULTIPLE.get(profile.type, MULTIPLE)
    assert peak <= multiple * len(data) + SLACK_BYTES, (
        f"{profile.name}: {peak / 2**20:.0f} MiB for an unsigned {len(data) / 2**20:.0f} MiB body")
