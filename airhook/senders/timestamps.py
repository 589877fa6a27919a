"""Signed timestamps: parsing a Unix timestamp header strictly, and the replay window around now."""

from __future__ import annotations

import re

from ..errors import BadSignature, MissingSignature, TimestampOutOfWindow

_DIGITS = re.compile(r"[0-9]{1,16}")


def parse_unix_timestamp(value: str | None, header_name: str, *, millis: bool = False) -> float:
    """A signed Unix timestamp (seconds, or milliseconds with ``millis``) from a header.

    Raises:
        MissingSignature: no value (a timestamped scheme without its timestamp is unsigned).
        BadSignature: not plain digits (a sign, a fraction or spaces are refused).
    """
    if value is None:
        raise MissingSignature(f"missing {header_name} header")
    if not _DIGITS.fullmatch(value):
        raise BadSignature(f"{header_name} is not a Unix timestamp")
    seconds = int(value)
    return seconds / 1000 if millis else float(seconds)


def check_window(timestamp: float, now: float, tolerance: float, what: str) -> None:
    """Refuse a timestamp more than ``tolerance`` seconds from ``now`` in **either** direction:
    one from the future is as much a replay risk as an old one (a captured request could be
    replayed until that future time passes).

    Raises:
        TimestampOutOfWindow: naming the direction and the distance.
    """
    age = now - timestamp
    if age > tolerance:
        raise TimestampOutOfWindow(f"{what} is {age:.0f}s old (tolerance {tolerance:.0f}s)")
    if -age > tolerance:
        raise TimestampOutOfWindow(f"{what} is {-age:.0f}s in the future (tolerance {tolerance:.0f}s)")

