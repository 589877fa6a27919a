"""What a request carries besides its body: the sender's id headers, the delivery id, the headers
routes may read (never a credential), and the URL a URL-signing sender signed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from ..delivery import Inbound
from ..errors import MalformedRequest

#: A delivery id longer than this is refused rather than stored or turned into a run id.
MAX_DELIVERY_ID = 200


def first_header(inbound: Inbound, names: Iterable[str]) -> str | None:
    """The first of ``names`` the request carries (a sender's id header under its current and its
    former or alternative names, in order of preference)."""
    for name in names:
        value = inbound.header(name)
        if value is not None:
            return value
    return None


def delivery_id(value: str | None, body: bytes) -> str:
    """The sender's delivery id, or a hash of the body when it sent none: a retried identical body
    then maps to the same run, which is what a sender without ids expects. The hash is the last
    resort: two distinct deliveries with the same bytes become one run, so every type passes the
    sender's own id for the delivery wherever the sender sends one (docs/senders.md says per type
    what the hash means when it is used).

    Raises:
        MalformedRequest: the id is longer than MAX_DELIVERY_ID, or not valid Unicode text (a
            lone surrogate from a JSON ``\\ud800`` escape in a body-borne id).
    """
    if value:
        if len(value) > MAX_DELIVERY_ID:
            raise MalformedRequest("delivery id too long", public="delivery id header is too long")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedRequest("delivery id is not valid text", public="delivery id is not valid text") from None
        return value
    return "sha256-" + hashlib.sha256(body).hexdigest()[:32]


def without_headers(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """``headers`` less those carrying a credential (a shared token, a bearer ID token), so that
    routes cannot copy them into a DAG run's conf."""
    drop = {name.lower() for name in names}
    return {key: value for key, value in headers.items() if key not in drop}


#: Headers that carry a credential whatever the sender type: never visible to routes.
GENERIC_CREDENTIAL_HEADERS: frozenset[str] = frozenset({
    "authorization", "proxy-authorization", "cookie",
})


def routable_headers(headers: Mapping[str, str], credential_headers: Iterable[str] = ()) -> dict[str, str]:
    """The headers routes may read: ``headers`` less :data:`GENERIC_CREDENTIAL_HEADERS` and the
    sender type's own ``credential_headers`` (its signature and token headers). Every sender builds
    its Delivery's headers through this one function, so a new type cannot forget a credential."""
    return without_headers(headers, GENERIC_CREDENTIAL_HEADERS.union(h.lower() for h in credential_headers))


def signed_url(inbound: Inbound, public_url: str | None) -> str:
    """The URL a URL-signing sender (Twilio, HubSpot) signed.

    With ``public_url`` (what was pasted into the sender's UI, without query) that URL plus the
    request's query string. Otherwise the URL is rebuilt from the request: behind Cloud Run's or a
    load balancer's front end the function sees ``http://`` and possibly another host, so the
    scheme and host come from ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` when present. A
    configured ``public_url`` is safer: forwarded headers are whatever the client sent.
    """
    query = inbound.query
    if public_url is not None:
        return public_url + ("?" + query if query else "")
    parts = urlsplit(inbound.url) if inbound.url else None
    scheme = _first(inbound.header("x-forwarded-proto")) or (parts.scheme if parts else "") or "https"
    host = (_first(inbound.header("x-forwarded-host")) or inbound.header("host")
            or (parts.netloc if parts else ""))
    path = parts.path if parts and parts.path else inbound.path
    if parts is not None and not query:
        query = parts.query
    return f"{scheme}://{host}{path}" + ("?" + query if query else "")


def _first(value: str | None) -> str | None:
    """The first entry of a comma-separated forwarded header (the client-most proxy)."""
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None

