"""Parse a verified body into JSON, refusing what would hurt later stages.

Bodies are parsed only after their signature is verified, so this guards against a buggy or
compromised sender rather than the open internet; still, a bad body must end as a 400, never a 500.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qs

from .errors import MalformedRequest, UnsupportedMediaType

#: Deeper documents are refused: JMESPath, json.dumps and logging all recurse.
MAX_DEPTH = 64

JSON_TYPES = frozenset({"application/json", "text/json"})
FORM_TYPE = "application/x-www-form-urlencoded"


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 overflows to inf, which JSON cannot carry back out
        raise ValueError("number out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_depth(document: Any, limit: int = MAX_DEPTH) -> None:
    # Iterative, over containers only: a recursive walk is what deep nesting attacks.
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise MalformedRequest(f"JSON nested deeper than {limit} levels",
                                   public=f"JSON nested deeper than {limit} levels")
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
    """Parse JSON strictly: UTF-8, no NaN/Infinity, finite numbers, bounded depth.

    Raises:
        MalformedRequest: the body is not such a JSON document.
    """
    try:
        document = json.loads(raw, parse_float=_finite_float, parse_constant=_refuse_constant)
    except RecursionError:
        raise MalformedRequest("JSON nested too deep", public=f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError; int > 4300 digits too
        raise MalformedRequest(f"invalid JSON: {exc}", public="body is not valid JSON") from None
    _check_depth(document)
    return document


def parse_form_payload(raw: bytes, field: str = "payload") -> Any:
    """Parse ``application/x-www-form-urlencoded`` with exactly one ``payload=`` JSON field
    (GitHub's form content type)."""
    try:
        text = raw.decode("ascii")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=False, errors="strict",
                          max_num_fields=1000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest(f"invalid form body: {exc}", public="body is not a valid form") from None
    values = fields.get(field, [])
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
