"""Every shipped example is a delivery its sender type's own verifier accepts, once signed as
``airhook send`` signs it (in process: the command itself is driven in test_send/test_explain)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airhook.cli import configfile, examples, signing
from airhook.cli.explain import read_delivery

from .test_send import SECRETS, config_for_all_types

CASES = [(kind, example) for kind, found in examples.CATALOGUE.items() for example in found]
HANDSHAKES = {("slack", "url-verification")}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> object:
    path: Path = tmp_path_factory.mktemp("examples") / "airhook.yaml"
    path.write_text(config_for_all_types())
    config, _, resolved = configfile.load(path, {**SECRETS, "GOOGLE_CERTS_URL": "http://127.0.0.1:9/certs",
                                                    "AIRFLOW_URL": "http://127.0.0.1:9"})
    assert not resolved.missing
    return config


def test_every_type_has_examples() -> None:
    assert set(examples.CATALOGUE) == set(signing.TYPES)
    assert all(len(found) >= 2 for found in examples.CATALOGUE.values())


@pytest.mark.parametrize("kind, example", CASES, ids=[f"{k}/{e.name}" for k, e in CASES])
def test_example_is_accepted_by_its_verifier(loaded: object, kind: str, example: examples.Example) -> None:
    source = loaded.sources[kind]  # type: ignore[attr-defined]
    body = example.read(kind).strip() if example.content_type == examples.FORM else example.read(kind)
    draft = signing.Draft(body=body, content_type=example.content_type, event=example.event)
    delivery = read_delivery(source, draft)
    if (kind, example.name) in HANDSHAKES:
        assert delivery.reply is not None
    else:
        assert delivery.reply is None and delivery.event
    if example.event is not None and kind != "google-oidc":
        assert delivery.event == example.event
