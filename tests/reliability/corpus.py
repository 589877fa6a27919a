"""The hand-written corpus of known-nasty inputs, and the hypothesis strategies built on it.

Every entry is here because it has broken some receiver somewhere: parsers that recurse, numbers
that overflow, decoders that raise on the unexpected type, header values that are not ASCII.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from .harness import NOW

# ------------------------------------------------------------------------------------------ bodies

DEEP = 10_000

NASTY_BODIES: tuple[bytes, ...] = (
    b"",
    b" ",
    b"{",
    b"}",
    b"[]",
    b"{}",
    b"null",
    b"true",
    b"0",
    b'"just a string"',
    b"[" * DEEP + b"]" * DEEP,                       # JSON nested 10,000 deep
    b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    b"[" * DEEP,                                     # ... and never closed
    b'{"a":[' * 40 + b"1" + b"]}" * 40,              # 80 levels: over the 64 limit, under recursion
    b'{"a":' * 64 + b"1" + b"}" * 64,                # exactly at the limit
    b'{"x": NaN}',
    b'{"x": Infinity}',
    b'{"x": -Infinity}',
    b"NaN",
    b'{"x": 1e999}',
    b'{"x": -1e999}',
    b'{"x": 1' + b"0" * 5000 + b"}",                 # over int's 4300-digit limit
    b'{"x": 0.' + b"0" * 5000 + b"1}",
    b'{"x": 1e-999}',
    b'{"a": 1, "a": 2}',                             # duplicate keys
    b'{"type": "a", "type": "invoice.paid", "id": "x", "id": "y"}',
    b'{"a": "\\ud800"}',                             # lone surrogate escape
    b'{"id": "\\udfff", "type": "\\ud800"}',
    b'{"a": "\\u0000"}',
    b'{"a": "\xff"}',                                # invalid UTF-8 inside a string
    b"\xff\xfe{\x00}\x00",                           # UTF-16 LE with BOM
    b"\xef\xbb\xbf{}",                               # UTF-8 BOM
    b"\x00" * 64,
    b"\x80\x81\x82",
    "{\"a\": \"\u00e9\u4e2d\U0001F600\"}".encode("utf-8"),
    b'{"a": 1} trailing',
    b'{"a": 1}{"b": 2}',
    b"payload=%7B%7D",
    b"payload=%7B%7D&payload=%7B%7D",                 # several payload= fields
    b"payload=%7B%22a%22%3A1%7D&payload=%5B%5D&payload=",
    b"payload=",
    b"payload",
    b"payload=%ZZ",
    b"payload=%FF%FE",
    b"payload=" + b"%5B" * 200 + b"%5D" * 200,
    b"&&&===&&&",
    b"a=1&" * 2000,                                  # over parse_qs's 1000 fields
    b"command=%2Fdeploy&text=x&payload=%7B%7D",
    b"token=secret&challenge=c&type=url_verification",
    b'{"type": "url_verification", "challenge": {"nested": true}}',
    b'{"type": "url_verification"}',
    b'{"type": "event_callback", "event": {"type": ["list"]}, "event_id": 7}',
    b'{"ssl_check": "1"}',
    b'{"webhookTimestamp": 1e400}',
    b'{"webhookTimestamp": 10000000000000000000000000000000000000000000000}',
    b'{"webhookTimestamp": true, "type": "Issue"}',
    b'[{"subscriptionType": "a"}, {"subscriptionType": "b"}]',
    b"[{}]",
    b"[[[]]]",
    b'{"event": {"id": "' + b"x" * 300 + b'", "event_type": "e"}}',
    b'{"message": {"messageId": "m1", "data": "!!!notbase64"}}',
    b'{"message": {"messageId": "m1", "data": "' + b"A" * 4000 + b'"}}',
    b'{"message": {"messageId": 5, "data": null, "attributes": "x"}}',
    b'{"message": {"message_id": "m", "data": "eyJhIjogTmFOfQ=="}}',   # base64 of {"a": NaN}
    b"x" * 70_000,
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=4),
    max_leaves=12,
)

#: Strings a payload field may hold: lone surrogates, NULs, run-id-hostile characters, lengths at
#: and around the 200-character delivery-id limit.
NASTY_STRINGS: tuple[str, ...] = (
    "", " ", "\ud800", "a\udfffb", "\x00", "../../etc/passwd", "a b", "a/b", "a%2Fb", "\u00e9",
    "\u4e2d\u6587", "\U0001F600", "x" * 199, "x" * 200, "x" * 201, "x" * 250, "y" * 10_000,
    "run:id.ok~+-_", "null", "0", "-1", "1e999", "NaN", "$(id)", "{{7*7}}", "\r\nX-Injected: 1",
)

# ------------------------------------------------------------------------------------------ headers

CONTENT_TYPES: tuple[str, ...] = (
    "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/json",
    "application/vnd.api+json", "application/json; charset=utf-16", "application/json;;;",
    " application/json ", "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8", "text/plain", "application/octet-stream",
    "multipart/form-data; boundary=x", "", "application/json\x00", "*/*", "json", "application/",
    "application/xml", "\u00e9/\u00e9",
)

#: Header values as WSGI can deliver them (latin-1-decoded text), and worse.
NASTY_HEADER_VALUES: tuple[str, ...] = (
    "", " ", "\t", "0", "sha256=", "sha256=" + "0" * 64, "sha256=" + "g" * 64, "SHA256=" + "a" * 64,
    "sha256=" + "a" * 63, "sha256=" + "a" * 65, "sha256=" + "\u00e9" * 64, "sha256= " + "a" * 64,
    "v0=" + "0" * 64, "v1=" + "0" * 64, "v1," + "A" * 44, "v1,====", "v1," + "\u00e9" * 44,
    "t=,v1=", "t=1,t=2,v1=,v1=" + "0" * 64, ",,,,", "=" * 50, "t=" + "9" * 400,
    "Bearer", "Bearer ", "bearer  x", "Basic YWRtaW46YWRtaW4=", "Bearer " + "a." * 2000,
    "Bearer eyJhbGciOiJub25lIn0.eyJhIjoxfQ.", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZZZ",
    "Bearer a.b.c", "Bearer ....", "\u00ff" * 20, "\u00e9\u00e8", "caf\u00c3\u00a9",
    "x" * 8_000, "a\x00b", "a\r\nb", "1" * 17, "\u00b2", "\u0661\u0662", "-1", "+1", "1.5", "1e9",
    "AAAA", "A" * 43 + "=", "A" * 44, "====", "////", "null", "true", "[]", "{}",
)

TIMESTAMP_SHAPES_SECONDS: tuple[str, ...] = (
    "", " ", "0", "-0", "1", "-1", f"{NOW}.0", f"+{NOW}", f"-{NOW}", f" {NOW}", f"{NOW} ",
    f"{NOW}\t", "1.7e9", "1700000000e0", "0x6553f100", f"{NOW:_}", f"{NOW:,}",
    "".join(chr(0x0660 + int(d)) for d in str(NOW)),    # Arabic-Indic digits
    "".join(chr(0xFF10 + int(d)) for d in str(NOW)),    # fullwidth digits
    str(NOW) * 2, "9" * 16, "9" * 17, "9" * 400, "NaN", "Infinity", "null", "true",
    "2023-11-14T22:13:20Z", "Tue, 14 Nov 2023 22:13:20 GMT", str(NOW * 1000), str(NOW // 1000),
    str(NOW - 301), str(NOW + 301), str(NOW - 10**9), "0" + str(NOW), "\u00b2", f"{NOW}\x00",
)

TIMESTAMP_SHAPES_ISO: tuple[str, ...] = (
    "2023-11-14T22:13:20Z", "2023-11-14T22:13:20+00:00", "2023-11-14T22:13:20", "2023-11-14",
    "2023-11-14T22:13:20.123456+00:00", "2023-11-14T22:13:20-23:59", "2023-11-14T22:13:20+23:59",
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00Z",
    "2023-W46-2T22:13:20Z", "20231114T221320Z", "2023-11-14 22:13:20Z", "2023-11-14T22:13:20z",
    "2023-11-14T22:13:20+0000", "2023-11-14T24:00:00Z", "2023-02-30T00:00:00Z", str(NOW),
    "", " ", "x" * 41, "2023-11-14T22:13:20Z" + " " * 30, "2023-11-14T22:08:19Z", "2023-11-14T22:18:21Z",
    "\u0662\u0660\u0662\u0663-11-14T22:13:20Z",
)

#: Linear's webhookTimestamp, as the JSON text in the signed body.
BODY_TIMESTAMP_SHAPES: tuple[str, ...] = (
    str(NOW * 1000), str(NOW * 1000 - 61_000), str(NOW * 1000 + 61_000), str(NOW), "0", "-1",
    f"{NOW * 1000}.5", f'"{NOW * 1000}"', "true", "null", "1e400", "1" + "0" * 4000, "[]", "{}",
    str(NOW * 1000 * 1000),
)

#: google-oidc: claim overrides (JSON) signed with the real key.
JWT_CLAIM_SHAPES: tuple[str, ...] = tuple(json.dumps(c) for c in (
    {"exp": NOW - 11}, {"exp": NOW - 10**6}, {"iat": NOW + 11}, {"iat": NOW + 10**6},
    {"exp": str(NOW + 100)}, {"exp": None}, {"iat": None}, {"exp": 10**20},
    {"exp": True}, {"iat": [NOW]}, {"aud": "https://elsewhere.example.com"}, {"aud": None},
    {"aud": ["https://hooks.example.com/r-google-oidc", "x"]}, {"iss": "https://evil.example.com"},
    {"email_verified": False}, {"email_verified": "true"}, {"email": "other@evil.iam.gserviceaccount.com"},
    {"email": None}, {"email": "SCHEDULER@reliability.iam.gserviceaccount.com"},
    {"exp": NOW + 10}, {"iat": NOW + 10},
))


def timestamp_shapes(kind: str | None) -> tuple[str, ...]:
    return {"seconds": TIMESTAMP_SHAPES_SECONDS, "stripe": TIMESTAMP_SHAPES_SECONDS,
            "millis": TIMESTAMP_SHAPES_SECONDS + (str(NOW * 1000), str(NOW * 1000 + 301_000)),
            "iso": TIMESTAMP_SHAPES_ISO, "body-millis": BODY_TIMESTAMP_SHAPES,
            "jwt": JWT_CLAIM_SHAPES}.get(kind or "", ())


# ------------------------------------------------------------------------------------------ strategies

header_values = st.one_of(
    st.sampled_from(NASTY_HEADER_VALUES),
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=80),   # latin-1, as WSGI gives
    st.text(max_size=40),                                             # anything, in-process only
)

json_bodies = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["id", "type", "event", "event_id", "action", "kind", "webhookEvent",
                                     "webhookTimestamp", "object_kind", "challenge", "message", "data",
                                     "command", "payload", "ssl_check", "token"]),
                    JSON_VALUES | st.sampled_from(NASTY_STRINGS), max_size=6).map(
        lambda d: json.dumps(d).encode()),
)

bodies = st.one_of(
    st.sampled_from(NASTY_BODIES),
    st.binary(max_size=512),
    json_bodies,
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)

content_types = st.sampled_from(CONTENT_TYPES)


def json_path_mutations(document: Any) -> st.SearchStrategy[Any]:
    """``document`` (a parsed default body) with one value replaced by something nasty."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, path + (index,))

    walk(document, ())

    def apply(choice: tuple[tuple[Any, ...], Any]) -> Any:
        path, value = choice
        if not path:
            return value
        copy = json.loads(json.dumps(document))
        node = copy
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return copy

    return st.tuples(st.sampled_from(paths), st.sampled_from(NASTY_STRINGS) | JSON_VALUES).map(apply)


# ------------------------------------------------------------------------------------------ oracle

_ASCII_DIGITS = re.compile(r"[0-9]+")


def timestamp_ok(kind: str | None, shape: str, now: int, tolerance: int) -> bool:
    """Whether a request signed (with the real secret) over timestamp ``shape`` may be accepted:
    a well-formed value within ``tolerance`` of ``now``, either way. Deliberately permissive
    (leading zeros pass): the property checked is "never accepted when this says no"."""
    if kind in ("seconds", "stripe", "millis"):
        if not _ASCII_DIGITS.fullmatch(shape):
            return False
        scale = 1000 if kind == "millis" else 1
        return abs(int(shape) - now * scale) <= tolerance * scale
    if kind == "iso":
        try:
            moment = datetime.fromisoformat(shape)
            return moment.tzinfo is not None and abs(moment.timestamp() - now) <= tolerance
        except (ValueError, OverflowError):
            return False
    if kind == "body-millis":
        try:
            value = json.loads(shape)
        except ValueError:
            return False
        return (isinstance(value, int) and not isinstance(value, bool)
                and abs(value - now * 1000) <= tolerance * 1000)
    if kind == "jwt":
        from .profiles import OIDC_AUDIENCE, OIDC_EMAIL, oidc_claims
        claims = oidc_claims(now, **json.loads(shape))
        iat, exp = claims.get("iat"), claims.get("exp")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (iat, exp))
        return (numbers and now <= exp + tolerance and now >= iat - tolerance
                and claims.get("aud") == OIDC_AUDIENCE
                and claims.get("iss") in ("accounts.google.com", "https://accounts.google.com")
                and claims.get("email_verified") is True
                and str(claims.get("email", "")).lower() == OIDC_EMAIL)
    return True
