"""airhook.backoff.retry_until with an injected clock: which attempts run, with what timeouts,
after which pauses, and which error ends it."""

from __future__ import annotations

from typing import Any

import pytest

from airhook.backoff import Backoff, retry_until


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


class Clock:
    """Time moves only when someone sleeps or an attempt takes time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(outcomes: list[Any], *, deadline: float | None, timeout: float = 5.0, takes: float = 0.0,
        policy: Backoff = Backoff(), timeouts: list[float] | None = None) -> tuple[Any, list[float], Clock]:
    """Attempts answer ``outcomes`` in turn (an exception class is raised); each takes ``takes``
    seconds. Jitter is the full ceiling, so pauses are predictable."""
    clock = Clock()
    timeouts = [] if timeouts is None else timeouts
    script = list(outcomes)

    def attempt(t: float) -> Any:
        timeouts.append(round(t, 6))
        clock.now += takes
        outcome = script.pop(0)
        if isinstance(outcome, type):
            raise outcome("no")
        return outcome

    result = retry_until(attempt, deadline=None if deadline is None else clock.now + deadline,
                         timeout=timeout, retryable=lambda e: isinstance(e, Transient), policy=policy,
                         clock=clock, sleep=clock.sleep, jitter=lambda low, high: high)
    return result, timeouts, clock


@pytest.mark.parametrize("outcomes, deadline, timeouts, sleeps", [
    # success at once: one attempt with the full timeout
    (["ok"], 10.0, [5.0], []),
    # transient failures: pauses of 0.2, 0.4, 0.8 (the doubling ceiling, full jitter = ceiling here)
    ([Transient, Transient, Transient, "ok"], 30.0, [5.0, 5.0, 5.0, 5.0], [0.2, 0.4, 0.8]),
    # the ceiling stops at 2.0
    ([Transient] * 6 + ["ok"], 60.0, [5.0] * 7, [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]),
    # an attempt near the deadline gets only the time left
    ([Transient, "ok"], 3.0, [3.0, 2.8], [0.2]),
])
def test_retries_until_an_answer(outcomes: list[Any], deadline: float, timeouts: list[float],
                                 sleeps: list[float]) -> None:
    result, seen, clock = run(outcomes, deadline=deadline)
    assert result == "ok"
    assert seen == timeouts
    assert clock.sleeps == pytest.approx(sleeps)


@pytest.mark.parametrize("outcomes, deadline, takes, error, attempts", [
    # no deadline: one attempt, its error as it was
    ([Transient], None, 0.0, Transient, 1),
    # a permanent error is never retried
    ([Permanent, "ok"], 30.0, 0.0, Permanent, 1),
    ([Transient, Permanent, "ok"], 30.0, 0.0, Permanent, 2),
    # gives up when the next attempt could not start min_attempt before the deadline: each
    # attempt takes 1 s; at 100+1, 101.2+1, 102.6+1 (103.6 + 0.8 + 0.25 >= 104) it stops
    ([Transient] * 10, 4.0, 1.0, Transient, 3),
])
def test_gives_up_with_the_last_error(outcomes: list[Any], deadline: float | None, takes: float,
                                      error: type[Exception], attempts: int) -> None:
    timeouts: list[float] = []
    with pytest.raises(error):
        run(outcomes, deadline=deadline, takes=takes, timeouts=timeouts)
    assert len(timeouts) == attempts


def test_attempts_made_before_giving_up() -> None:
    clock = Clock()
    calls: list[float] = []

    def attempt(t: float) -> None:
        calls.append(t)
        clock.now += 1.0
        raise Transient("down")

    with pytest.raises(Transient):
        retry_until(attempt, deadline=clock.now + 4.0, timeout=5.0, retryable=lambda e: True,
                    clock=clock, sleep=clock.sleep, jitter=lambda low, high: high)
    assert calls == pytest.approx([4.0, 2.8, 1.4])
    assert clock.sleeps == pytest.approx([0.2, 0.4])


def test_no_attempt_is_given_less_than_min_attempt() -> None:
    _, seen, _ = run(["ok"], deadline=0.01)
    assert seen == [0.25]


def test_pubsub_s_policy() -> None:
    # Pub/Sub's calls: a 5 s budget as both timeout and deadline, pauses from 0.05 up to 1.0.
    policy = Backoff(first=0.05, maximum=1.0, min_attempt=0.1)
    result, seen, clock = run([Transient] * 6 + ["ok"], deadline=5.0, policy=policy)
    assert result == "ok"
    assert clock.sleeps == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0])
    assert seen[0] == 5.0 and seen[-1] == pytest.approx(5.0 - sum(clock.sleeps))
