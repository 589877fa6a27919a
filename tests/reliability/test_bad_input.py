"""Suite 1, in process: bad input for every registered sender type through the whole pipeline.

Hypothesis and a hand-written corpus (:mod:`tests.reliability.corpus`) drive ``Receiver.handle``
with a recording fake Airflow; :class:`~tests.reliability.harness.Harness` checks every request:
never a 5xx, never an exception, never a trigger without a valid credential, always the uniform
401 for forged, tampered and replayed requests, never a secret or payload canary in the logs.

Cases per profile: fast ~10,000 in total (``make test``), long >= 100,000 (``make test-long``).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airhook import senders

from . import figures
from .corpus import (
    CONTENT_TYPES,
    NASTY_BODIES,
    NASTY_HEADER_VALUES,
    NASTY_STRINGS,
    bodies,
    content_types,
    header_values,
    json_path_mutations,
    timestamp_ok,
    timestamp_shapes,
)
from .harness import NOW, Case, Harness, canary
from .profiles import PROFILES, Profile, Request

NAMES = sorted(PROFILES)
EXAMPLES = figures.pick(25, 1000)
MUTATIONS = figures.pick(150, 1500)  # seeded byte-level mutations per profile
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not figures.LONG,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])

HARNESS = Harness()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    stats = HARNESS.stats
    figures.record("1 bad input (in process)", cases=stats.total, by_kind=dict(stats.cases),
                   statuses=dict(stats.statuses), triggers=stats.triggers,
                   log_lines_scanned=stats.log_lines, known_issue_cases=dict(stats.known),
                   profiles=len(NAMES), sender_types=len(senders.types()))
    figures.SCANNED["1 bad input (in process)"] = stats.log_lines


def ident() -> str:
    return "d-" + uuid.uuid4().hex[:16]


def forged(profile: Profile, request: Request, note: str = "", mark: str = "") -> Case:
    return Case(profile, "forged", request, may_trigger=False, canary=mark, note=note)


def authentic(profile: Profile, request: Request, note: str = "", mark: str = "") -> Case:
    return Case(profile, "authentic", request, may_trigger=True, canary=mark, note=note)


def tampered(profile: Profile, request: Request, note: str = "", mark: str = "") -> Case:
    allowed = profile.oracle(request) if profile.oracle is not None else False
    return Case(profile, "authentic" if allowed else "tampered", request, may_trigger=allowed,
                canary=mark, note=note)


def without_credential(profile: Profile, request: Request) -> Request:
    return request.with_headers(**{h.replace("-", "_"): None for h in profile.credential_headers})


# ---------------------------------------------------------------------------------------- coverage


def test_every_registered_sender_type_has_a_profile() -> None:
    """New sender types are covered by adding a profile in profiles.py; this names the missing."""
    covered = {p.type for p in PROFILES.values()}
    missing = sorted(set(senders.types()) - covered)
    assert not missing, f"sender types without a reliability profile: {missing} (add one in tests/reliability/profiles.py)"


@pytest.mark.parametrize("name", NAMES)
def test_pristine_request_triggers_once_and_its_redelivery_is_a_duplicate(name: str) -> None:
    profile = PROFILES[name]
    mark, delivery = canary(), ident()
    for _ in range(2):
        request = profile.build(delivery, NOW, mark)
        response = HARNESS.check(Case(profile, "pristine", request, may_trigger=True, must_trigger=True,
                                      canary=mark))
    assert response is not None and response.status == 200
    if response.content is not None:  # answered in the sender's own form (Twilio's TwiML, issue 11.5)
        first, again = HARNESS.client.triggers[-2:]
        assert first.dag_run_id == again.dag_run_id  # the same run: Airflow's answer was "duplicate"
        return
    assert response.body["runs"][0]["status"] == "duplicate"


# ---------------------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("name", NAMES)
def test_corpus(name: str) -> None:
    """Every corpus body, header value, content type and timestamp shape, forged and authentic."""
    profile = PROFILES[name]
    for body in NASTY_BODIES:
        mark = canary()
        body = body + mark.encode() if len(body) < 64 and not body.startswith(b"{") else body
        signed = profile.build(ident(), NOW, mark, body=body)
        HARNESS.check(authentic(profile, signed, "corpus body", mark))
        HARNESS.check(forged(profile, without_credential(profile, signed), "corpus body, unsigned", mark))
        HARNESS.check(forged(profile, profile.build(ident(), NOW, mark, body=body,
                                                    secret=profile.wrong_secret), "wrong secret", mark))
    for content_type in CONTENT_TYPES:
        mark = canary()
        HARNESS.check(authentic(profile, profile.build(ident(), NOW, mark, content_type=content_type),
                                f"content type {content_type!r}", mark))
    base = profile.build(ident(), NOW, mark := canary())
    for header in profile.credential_headers:
        for value in NASTY_HEADER_VALUES:
            HARNESS.check(forged(profile, base.with_headers(**{header.replace("-", "_"): value}),
                                 f"{header}={value[:40]!r}", mark))
    for header in sorted(set(base.headers) - set(profile.credential_headers) - {"content-type"}):
        for value in NASTY_HEADER_VALUES + NASTY_STRINGS:
            request = base.with_headers(**{header.replace("-", "_"): value})
            if header in profile.signed_headers and value != base.headers[header]:
                HARNESS.check(tampered(profile, request, f"signed header {header}={value[:40]!r}", mark))
            else:
                HARNESS.check(authentic(profile, request, f"header {header}={value[:40]!r}", mark))
    for shape in timestamp_shapes(profile.timestamp):
        mark = canary()
        request = profile.build(ident(), NOW, mark, timestamp=shape)
        ok = timestamp_ok(profile.timestamp, shape, NOW, profile.tolerance)
        HARNESS.check(Case(profile, "authentic" if ok else "replayed", request, may_trigger=ok,
                           canary=mark, note=f"timestamp {shape[:60]!r}"))
    for length in ("\u00b2", "9" * 5000, "-1", "1e3", " 12", str(10**30)):
        HARNESS.check(authentic(profile, base.with_headers(content_length=length),
                                f"content-length {length[:20]!r}", mark))


@pytest.mark.parametrize("name", NAMES)
def test_seeded_byte_mutations(name: str) -> None:
    """Byte-level mutations of a signed request's body (flip, truncate, extend, splice), sent with
    the original credential: a body-binding scheme must refuse every one that changed a byte."""
    profile = PROFILES[name]
    rng = random.Random(f"{name}-{figures.PROFILE}")
    for _ in range(MUTATIONS):
        mark = canary()
        original = profile.build(ident(), NOW, mark)
        body = mutate(rng, original.body)
        request = Request(original.method, original.path, original.headers, body, original.query,
                          original.url)
        if body == original.body:
            continue
        if profile.binds_body:
            HARNESS.check(tampered(profile, request, "byte mutation", mark))
        else:
            HARNESS.check(authentic(profile, request, "byte mutation (body not signed)", mark))


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        if op == 0 and out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif op == 1 and out:
            del out[rng.randrange(len(out)):]
        elif op == 2:
            out[rng.randint(0, len(out)):rng.randint(0, len(out))] = rng.choice(
                [b"\x00", b"\xff", b"[" * 100, b'"\\ud800"', b"NaN", b"1e999", b",", b"}", b"%"])
        elif op == 3 and out:
            i = rng.randrange(len(out))
            out[i:i] = out[i:i + rng.randint(1, 32)]
        elif op == 4:
            out += rng.choice([b" ", b"\n", b"{}", b"&payload=%7B%7D", b"\xef\xbb\xbf"])
        else:
            out = bytearray(b"\xef\xbb\xbf") + out
    return bytes(out)


# ---------------------------------------------------------------------------------------- hypothesis


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_forged_requests_never_trigger(name: str, data: st.DataObject) -> None:
    profile = PROFILES[name]
    mark = canary()
    body = data.draw(bodies, "body") + mark.encode()
    how = data.draw(st.sampled_from(["none", "wrong-secret", "random", "other-body"]), "how")
    if how == "wrong-secret":
        request = profile.build(ident(), NOW, mark, body=body, secret=profile.wrong_secret)
    elif how == "other-body":  # a genuine credential, for another body
        genuine = profile.build(ident(), NOW, mark)
        request = Request("POST", genuine.path, genuine.headers, body, genuine.query, genuine.url)
        if profile.binds_body and body != genuine.body:
            HARNESS.check(tampered(profile, request, "genuine credential, other body", mark))
            return
        if not profile.binds_body:
            HARNESS.check(authentic(profile, request, "token for any body", mark))
            return
    else:
        request = without_credential(profile, profile.build(ident(), NOW, mark, body=body))
        if how == "random":
            request = request.with_headers(**{h.replace("-", "_"): data.draw(header_values, h)
                                              for h in profile.credential_headers})
    extra = data.draw(st.dictionaries(st.sampled_from(["content-type", "x-forwarded-host", "host",
                                                       "x-forwarded-proto", "content-length"]),
                                      header_values, max_size=2), "extra")
    HARNESS.check(forged(profile, request.with_headers(**{k.replace("-", "_"): v for k, v in extra.items()}),
                         how, mark))


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_authentic_requests_with_nasty_bodies_never_fail(name: str, data: st.DataObject) -> None:
    """Signed with the real secret: the parser, the sender's field lookups and routing see
    anything a buggy or compromised sender could send."""
    profile = PROFILES[name]
    mark = canary()
    default = profile.build("seed", NOW, mark).body
    try:
        document = json.loads(default)
    except ValueError:
        document = None
    choices = [bodies]
    if document is not None:
        choices.append(json_path_mutations(document).map(lambda d: json.dumps(d).encode()))
    body = data.draw(st.one_of(*choices), "body")
    content_type = data.draw(st.one_of(st.just(None), content_types), "content_type")
    request = profile.build(data.draw(st.sampled_from(["d-" + uuid.uuid4().hex, *NASTY_STRINGS[:14]]), "ident"),
                            NOW, mark, body=body, content_type=content_type)
    HARNESS.check(authentic(profile, request, "nasty signed body", mark))


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_signed_requests_with_nasty_headers(name: str, data: st.DataObject) -> None:
    """A genuine request with one header (event, delivery id, signed or unsigned, or the
    credential itself) replaced."""
    profile = PROFILES[name]
    mark = canary()
    base = profile.build(ident(), NOW, mark)
    header = data.draw(st.sampled_from(sorted(set(base.headers) | {"content-length", "host"})), "header")
    value = data.draw(header_values, "value")
    request = base.with_headers(**{header.replace("-", "_"): value})
    if value == base.headers.get(header):
        return
    if header in profile.credential_headers:
        HARNESS.check(tampered(profile, request, f"credential {header}", mark) if profile.oracle
                      else forged(profile, request, f"credential {header}", mark))
    elif header in profile.signed_headers:
        HARNESS.check(tampered(profile, request, f"signed header {header}", mark))
    else:
        HARNESS.check(authentic(profile, request, f"header {header}", mark))


TIMESTAMPED = [n for n in NAMES if PROFILES[n].timestamp is not None]


@pytest.mark.parametrize("name", TIMESTAMPED)
@SETTINGS
@given(data=st.data())
def test_replays_outside_the_window_never_trigger(name: str, data: st.DataObject) -> None:
    """Genuinely signed, at any distance from now, in any shape the field can take."""
    profile = PROFILES[name]
    kind = profile.timestamp
    offset = data.draw(st.one_of(st.integers(-10**10, 10**10),
                                 st.integers(-profile.tolerance - 5, profile.tolerance + 5)), "offset")
    if kind in ("seconds", "stripe"):
        shape = str(NOW + offset)
    elif kind == "millis":
        shape = str((NOW + offset) * 1000 + data.draw(st.integers(-999, 999)))
    elif kind == "iso":
        from .profiles import iso
        shape = iso(NOW + offset) if abs(offset) < 10**9 else iso(NOW)
    elif kind == "body-millis":
        shape = str((NOW + offset) * 1000)
    else:  # jwt: iat/exp around now
        shape = json.dumps({"iat": NOW + offset, "exp": NOW + offset + data.draw(st.integers(-100, 4000))})
    if data.draw(st.booleans(), "odd shape"):
        shape = data.draw(st.sampled_from(timestamp_shapes(kind)), "shape")
    mark = canary()
    request = profile.build(ident(), NOW, mark, timestamp=shape)
    ok = timestamp_ok(kind, shape, NOW, profile.tolerance)
    HARNESS.check(Case(profile, "authentic" if ok else "replayed", request, may_trigger=ok,
                       must_trigger=False, canary=mark, note=f"timestamp {shape[:60]!r}"))


# ---------------------------------------------------------------------------------------- routing

ROUTING_DOCUMENT: dict[str, Any] = {
    "airflow": {"url": "http://127.0.0.1:9", "api": "v2"},
    "sources": {"r-token": {"type": "token", "tokens": [PROFILES["r-token"].secret],
                            "event": {"body": "action"}, "delivery_id": {"header": "X-Request-Id"}}},
    "routes": [
        {"name": "when-eq", "source": "r-token", "when": "body.x == `1`", "dag_id": "a",
         "conf": {"x": "body.x", "tags": "body.tags"}},
        {"name": "typed", "source": "r-token", "events": ["typed"], "dag_id": "b",
         "conf": {"abs": "abs(body.x)", "len": "length(body.tags)", "joined": "join(',', body.tags)"}},
        {"name": "starts", "source": "r-token", "when": "starts_with(body.ref, 'refs/')", "dag_id": "c",
         "note": "join(' ', [body.ref, 'by', body.user])"},
        {"name": "run-id", "source": "r-token", "events": ["custom"], "dag_id": "d",
         "run_id": "body.rid"},
        {"name": "functions", "source": "r-token", "events": ["functions"], "dag_id": "e",
         "when": "contains(keys(body), 'x') && max_by(body.items, &n) != null",
         "conf": {"sorted": "sort_by(body.items, &n)", "merged": "merge(body, {a: `1`})",
                  "num": "to_number(body.x)", "n": "body.items[].n"}},
    ],
}
ROUTING = Harness(ROUTING_DOCUMENT)

routing_values = st.one_of(st.sampled_from(NASTY_STRINGS), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["n", "a", "x"]), c, max_size=3),
    max_leaves=8))


@settings(SETTINGS, max_examples=EXAMPLES * 8)
@given(data=st.data())
def test_routing_engine_on_nasty_documents(data: st.DataObject) -> None:
    """Routes whose expressions meet values of every type: a type error is a 422 for that route,
    never a 500, and (property) no payload value in the log."""
    profile = PROFILES["r-token"]
    mark = canary()
    document = {key: data.draw(routing_values, key) for key in ("x", "tags", "ref", "user", "items")}
    document["action"] = data.draw(st.sampled_from(["custom", "other", "typed", "functions"]), "action")
    document["rid"] = data.draw(st.sampled_from(["ok-1", "bad id", "", "x" * 300, None, 5, "with" + mark]), "rid")
    # The canary rides in the values routes read, to catch any that reach the log.
    for key in ("tags", "ref", "user"):
        if isinstance(document[key], str):
            document[key] = document[key] + mark
    body = json.dumps(document).encode()
    request = profile.build(ident(), NOW, mark, body=body)
    ROUTING.check(Case(profile, "routing", request, may_trigger=True, canary=mark, note="routing"))


@pytest.fixture(scope="module", autouse=True)
def routing_report() -> Iterator[None]:
    yield
    stats = ROUTING.stats
    figures.record("1 bad input: routing engine", cases=stats.total, statuses=dict(stats.statuses),
                   triggers=stats.triggers, known_issue_cases=dict(stats.known))
