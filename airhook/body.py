"""Parse a body into JSON or form fields, refusing what would hurt later stages; and what the
sender types read from a parsed body (its content type checked, a field by path).

Bodies are parsed after their signature is verified, so :func:`parse_json` guards against a buggy
or compromised sender rather than the open internet; still, a bad body must end as a 400, never a
500. :func:`parse_form` is the one form parser (every type's forms, GitHub's ``payload=``); it is
also used *before* verification by senders that sign form parameters rather than bytes (Twilio),
so its cost is bounded: a few copies of the body, C-speed passes only.
"""

from __future__ import annotations

import binascii
import gc
import json
import math
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .errors import MalformedRequest, UnsupportedMediaType

if TYPE_CHECKING:
    from .delivery import Inbound

#: Values routes take from a delivery (conf, extra, note, run id) may nest this deep at most:
#: json.dumps and comparisons recurse. The body as a whole is bounded by json's own recursion
#: limit (~1,000 levels, refused as 400); walking every container of a 25 MB body to enforce 64
#: there would double its parse time for nothing routes do not read.
MAX_DEPTH = 64
#: Above this size the cyclic GC is paused while parsing: a parsed JSON document has no cycles,
#: and collections triggered by its allocations cost ~40% of a 25 MB parse.
GC_PAUSE_BYTES = 1 << 20

_gc_lock = threading.Lock()
_gc_pauses = 0


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Counted, because the GC switch is process-wide and several threads may parse at once.
    global _gc_pauses
    with _gc_lock:
        _gc_pauses += 1
        if _gc_pauses == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                gc.enable()

JSON_TYPES = frozenset({"application/json", "text/json"})
FORM_TYPE = "application/x-www-form-urlencoded"


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 overflows to inf, which JSON cannot carry back out
        raise ValueError("number out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_depth(document: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse ``document`` if containers nest deeper than ``limit``.

    Raises:
        MalformedRequest
    """
    # Iterative, over containers only: a recursive walk is what deep nesting attacks.
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise MalformedRequest(f"JSON nested deeper than {limit} levels",
                                   public=f"JSON nested deeper than {limit} levels")
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))


def parse_json(raw: bytes | str) -> Any:
    """Parse JSON strictly: UTF-8, no NaN/Infinity, finite numbers, json's own depth bound.

    Raises:
        MalformedRequest: the body is not such a JSON document.
    """
    try:
        if len(raw) > GC_PAUSE_BYTES:
            with _gc_paused():
                document = json.loads(raw, parse_float=_finite_float, parse_constant=_refuse_constant)
        else:
            document = json.loads(raw, parse_float=_finite_float, parse_constant=_refuse_constant)
    except RecursionError:
        raise MalformedRequest("JSON nested too deep", public="JSON nested too deep") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError; int > 4300 digits too
        raise MalformedRequest(f"invalid JSON: {exc}", public="body is not valid JSON") from None
    return document


def parse_form_payload(raw: bytes, field: str = "payload") -> Any:
    """Parse ``application/x-www-form-urlencoded`` with exactly one ``payload=`` JSON field
    (GitHub's form content type)."""
    values = parse_form(raw).get(field, [])
    if len(values) != 1:
        raise MalformedRequest(f"form body has {len(values)} '{field}' fields",
                               public=f"form body must carry exactly one '{field}' field")
    return parse_json(values[0])


def parse_body(raw: bytes, content_type: str, *, allow_form: bool = True) -> Any:
    """Parse by media type: JSON, or a form whose ``payload`` field holds JSON.

    Raises:
        UnsupportedMediaType: neither JSON nor (when allowed) a form.
        MalformedRequest: the body does not parse.
    """
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return parse_json(raw)
    if allow_form and content_type == FORM_TYPE:
        return parse_form_payload(raw)
    raise UnsupportedMediaType(f"content type {content_type!r}")


#: Fields a form may carry: Twilio's richest callbacks carry about 40; the stdlib's parse_qs takes
#: the same bound (``max_num_fields``).
MAX_FORM_FIELDS = 1000
_PERCENT_TO_EQUALS = bytes.maketrans(b"%", b"=")


def _form_unquote(raw: bytes) -> str:
    """One form name or value, decoded as ``urllib.parse.unquote_plus`` does (UTF-8, strict).

    unquote_plus splits the text at every '%': a 4 MiB value of ``%41%41...`` becomes 1.4 million
    small objects (~80x the body). Here every pass is a C loop over bytes: literal '=' is escaped,
    then '%' becomes quoted-printable's '=' and ``binascii.a2b_qp`` decodes the escapes. That equals
    unquote_plus when every '%' starts an escape (what form encoders write: a literal '%' is sent
    as %25); a lone '%' is refused instead. Each escape shortens the text by exactly two bytes and
    a2b_qp shortens it by less for any '=' it does not decode as an escape, except a soft line
    break ("=" CR/LF), refused first: so the length tells whether there was a lone '%', without a
    regular expression pass (which took longer than the decoding itself).

    Raises:
        ValueError: a lone '%' or text that is not UTF-8.
    """
    text = raw.replace(b"+", b" ")
    if b"%" in text:
        if b"=" in text:
            text = text.replace(b"=", b"%3D")
        quoted = text.translate(_PERCENT_TO_EQUALS)
        escapes = quoted.count(b"=")
        decoded = binascii.a2b_qp(quoted)
        # memchr for CR/LF first: searching "=\r" directly is slow when '=' is most of the text.
        line_break = (b"\r" in quoted and b"=\r" in quoted) or (b"\n" in quoted and b"=\n" in quoted)
        if line_break or len(decoded) != len(quoted) - 2 * escapes:
            raise ValueError("a '%' that starts no escape")
        text = decoded
    return text.decode("utf-8")


def parse_form(raw: bytes, max_fields: int = MAX_FORM_FIELDS) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body as ``{name: [values]}``, as
    ``parse_qs(keep_blank_values=True, errors="strict")`` reads it, at bounded cost: at most
    ``max_fields`` fields, memory a small multiple of ``len(raw)``, time linear in it.

    Raises:
        MalformedRequest: not ASCII, too many fields, a lone '%' or percent-escapes that are not
            UTF-8.
    """
    if not raw.isascii():
        raise MalformedRequest("form body is not ASCII", public="body is not a valid form")
    if raw.count(b"&") >= max_fields:
        raise MalformedRequest(f"form body has more than {max_fields} fields",
                               public="body is not a valid form")
    fields: dict[str, list[str]] = {}
    try:
        for item in raw.split(b"&"):
            if not item:
                continue
            name, _, value = item.partition(b"=")
            fields.setdefault(_form_unquote(name), []).append(_form_unquote(value))
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedRequest(f"invalid form body: {exc}", public="body is not a valid form") from None
    return fields


# ------------------------------------------------------------------------------- what senders read


def flat_form(fields: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """A form as routes want it: a field sent once is a string, one sent several times a list."""
    return {name: values[0] if len(values) == 1 else list(values) for name, values in fields.items()}


def parse_json_body(inbound: Inbound) -> Any:
    """The body as JSON; the content type must say JSON.

    Raises:
        UnsupportedMediaType: another content type.
        MalformedRequest: the body does not parse.
    """
    content_type = inbound.content_type
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return parse_json(inbound.body)
    raise UnsupportedMediaType(f"content type {content_type!r}")


def parse_generic_body(inbound: Inbound) -> Any:
    """The body of a generic sender (token, hmac, google-oidc): empty is ``{}``, JSON is parsed, a
    form becomes its fields; anything else (Cloud Scheduler sends ``application/octet-stream`` by
    default) is parsed as JSON when it is JSON and kept as text when it is not.

    Raises:
        MalformedRequest: declared JSON or a form that does not parse, or text that is not UTF-8.
    """
    if not inbound.body.strip():
        return {}
    content_type = inbound.content_type
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return parse_json(inbound.body)
    if content_type == FORM_TYPE:
        return flat_form(parse_form(inbound.body))
    try:
        return parse_json(inbound.body)
    except MalformedRequest:
        pass
    try:
        return inbound.body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("body is neither JSON nor UTF-8 text",
                               public="body is neither JSON nor UTF-8 text") from None


def field_text(document: Any, *path: str) -> str | None:
    """The string (or integer, as text) at ``path`` in nested objects, or None if absent."""
    node = document
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    if isinstance(node, bool):
        return None
    if isinstance(node, int):
        return str(node)
    return node if isinstance(node, str) and node else None


def required_field(document: Any, path: str) -> str:
    """``field_text`` for a dotted ``path`` that the sender always sends.

    Raises:
        MalformedRequest: naming the field.
    """
    value = field_text(document, *path.split("."))
    if value is None:
        raise MalformedRequest(f"body has no string field {path!r}",
                               public=f"body has no string field {path!r}")
    return value

