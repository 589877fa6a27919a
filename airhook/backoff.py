"""Retry an attempt with jittered exponential backoff until a deadline: the one loop for Airflow
triggers (``AirflowClient.retrying``) and Pub/Sub calls (``PubSub._call``).

"Full jitter" from AWS's Architecture Blog, "Exponential Backoff And Jitter" (2015): each pause is
uniform in [0, ceiling], the ceiling doubling from ``first`` up to ``maximum``, so that senders
retrying after the same outage spread out instead of arriving together.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """A retry policy. The defaults are the Airflow client's; Pub/Sub's calls use
    ``Backoff(first=0.05, maximum=1.0, min_attempt=0.1)``.

    Attributes:
        first: ceiling of the first pause (seconds).
        maximum: the ceiling stops doubling here.
        min_attempt: an attempt with less time than this left before the deadline is not started,
            and no attempt gets a shorter timeout.
    """

    first: float = 0.2
    maximum: float = 2.0
    min_attempt: float = 0.25


def retry_until(attempt: Callable[[float], T], *, deadline: float | None, timeout: float,
                retryable: Callable[[Exception], bool], policy: Backoff = Backoff(),
                clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep,
                jitter: Callable[[float, float], float] = random.uniform) -> T:
    """``attempt(t)`` until it returns, raises an error that is not ``retryable``, or the next
    attempt could not start ``policy.min_attempt`` before ``deadline``; then its last error is
    raised as it was.

    Args:
        attempt: one try; ``t`` is its timeout: ``timeout``, or less when the deadline is nearer
            (never less than ``policy.min_attempt``).
        deadline: a ``clock()`` instant; None: one attempt, no retry.
        retryable: whether an error is worth another attempt (no answer, 5xx, 429). Retrying must
            be harmless: airhook's run ids are deterministic, so a repeated trigger is a 409.
        clock, sleep, jitter: injected for tests.
    """
    ceiling = policy.first
    while True:
        budget = timeout if deadline is None else min(timeout, deadline - clock())
        try:
            return attempt(max(budget, policy.min_attempt))
        except Exception as exc:
            if deadline is None or not retryable(exc):
                raise
            pause = jitter(0, ceiling)
            ceiling = min(ceiling * 2, policy.maximum)
            if clock() + pause + policy.min_attempt >= deadline:
                raise
            sleep(pause)


__all__ = ["Backoff", "retry_until"]
