"""The sender registry and the one interface every type implements (airhook.senders.base.SenderType):
config, verify, sign (tests and the CLI), signing key, deadline, examples and CREDENTIAL_HEADERS, each
in the type's own module, found through the one list in airhook/senders/__init__.py."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

import pytest

from airhook.cli import signing
from airhook.delivery import Delivery, Inbound
from airhook.errors import ConfigError
from airhook.senders import _TYPES, DEFAULT_DEADLINE, SenderType, build_source, default_deadline, sender, types
from airhook.senders.base import EXAMPLES_DIR

from .support import NOW
from .test_common import MINIMAL

#: Each type's default deadline (seconds), as config.DEFAULT_DEADLINES had them before they moved
#: into the sender modules; a type not listed there had the fallback, 9 s.
DEADLINES = {"github": 9.0, "slack": 2.5, "shopify": 4.5, "stripe": 15.0, "standard-webhooks": 12.0,
             "svix": 12.0, "twilio": 13.0, "hubspot": 4.5, "gitlab": 9.0, "google-oidc": 9.0,
             "bitbucket": 9.0, "jira": 9.0, "linear": 9.0, "pagerduty": 9.0, "zendesk": 9.0, "hmac": 9.0,
             "token": 9.0}


def test_the_registry_is_one_immutable_list() -> None:
    assert isinstance(_TYPES, MappingProxyType)
    assert set(types()) == set(_TYPES) == set(MINIMAL) == set(DEADLINES) == set(signing.TYPES)


@pytest.mark.parametrize("kind", types())
def test_every_type_provides_the_whole_interface(kind: str) -> None:
    module = importlib.import_module(_TYPES[kind])
    found = sender(kind)
    assert isinstance(found, SenderType) and found is module.SENDER and found.type == kind
    # config -> a source that verifies
    source = build_source("src", {"type": kind, **MINIMAL[kind]}, "sources.src")
    assert (source.name, source.type) == ("src", kind) and source.max_body_bytes > 0
    assert callable(source.verify)
    # credential headers: the module's own list, lower-case
    assert found.credential_headers == module.CREDENTIAL_HEADERS
    assert all(h == h.lower() for h in found.credential_headers)
    # deadline
    assert found.deadline == DEADLINES[kind] == default_deadline(kind)
    # examples: at least two, every file shipped
    assert len(found.examples) >= 2
    assert all((Path(EXAMPLES_DIR) / kind / e.file).is_file() for e in found.examples)
    assert len({e.name for e in found.examples}) == len(found.examples)
    # sign: what the sender would send, which the type's own verifier accepts
    key = found.signing_key(source, None)
    example = found.examples[0]
    draft = signing.Draft(body=example.read(kind), content_type=example.content_type, event=example.event)
    out = signing.prepare(source, draft, url="https://hooks.example.com/src", now=NOW, key=key,
                          id_token="stand-in" if kind == "google-oidc" else None)
    if kind == "google-oidc":  # an ID token is minted by Google, not signed here
        assert key is None and out.headers["Authorization"] == "Bearer stand-in"
        return
    assert isinstance(key, bytes) and key
    request = Inbound(method="POST", path="/src", headers={k.lower(): v for k, v in out.headers.items()},
                      body=out.body, query=urlsplit(out.url).query, url=out.url)
    delivery = source.verify(request, NOW)
    assert isinstance(delivery, Delivery) and delivery.delivery_id == out.delivery_id


@pytest.mark.parametrize("kind", ["nope", "", None, ["github"], {"a": 1}, 3])
def test_an_unknown_type_is_a_config_error_with_the_fallback_deadline(kind: object) -> None:
    assert default_deadline(kind) == DEFAULT_DEADLINE
    with pytest.raises(KeyError):
        sender(kind)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown sender type"):
        build_source("src", {"type": kind, "secrets": ["s"]}, "sources.src")


def test_a_source_loads_its_own_module_only() -> None:
    # Cold start: a GitHub-only deployment imports no other sender type.
    code = ("import sys; from airhook.senders import _TYPES, build_source\n"
            "build_source('gh', {'type': 'github', 'secrets': ['s']}, 'sources.gh')\n"
            "print(sorted(k for k, m in _TYPES.items() if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['github']"
