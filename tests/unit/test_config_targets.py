"""Configuration of the Airflow targets: Cloud Composer URL discovery and Amazon MWAA (``url`` is
optional for both), with errors that name the key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airhook import config
from airhook.errors import ConfigError

ENV = {"GITHUB_WEBHOOK_SECRET": "s1", "MWAA_ENV": "prod-airflow"}
ENVIRONMENT = "projects/acme-data/locations/europe-west1/environments/prod"
SOURCES = {"github": {"type": "github", "secrets": ["${GITHUB_WEBHOOK_SECRET}"]}}
ROUTES = [{"name": "deploy", "source": "github", "dag_id": "deploy"}]


def document(airflow: dict[str, Any]) -> dict[str, Any]:
    return {"airflow": copy.deepcopy(airflow), "sources": SOURCES, "routes": ROUTES}


def parse(airflow: dict[str, Any]) -> config.AirflowConfig:
    return config.parse(document(airflow), ENV).airflow


def test_composer_environment_without_url() -> None:
    loaded = parse({"composer_environment": ENVIRONMENT, "auth": {"type": "google"}})
    assert loaded.url is None and loaded.composer_environment == ENVIRONMENT
    assert loaded.composer_endpoint == "https://composer.googleapis.com"
    stand_in = parse({"composer_environment": ENVIRONMENT, "composer_endpoint": "http://127.0.0.1:9/",
                      "auth": {"type": "google"}})
    assert stand_in.composer_endpoint == "http://127.0.0.1:9"


def test_a_given_url_is_used_as_is_next_to_composer_environment() -> None:
    loaded = parse({"url": "https://abc-dot-europe-west1.composer.googleusercontent.com/",
                    "composer_environment": ENVIRONMENT, "auth": {"type": "google"}})
    assert loaded.url == "https://abc-dot-europe-west1.composer.googleusercontent.com"


def test_mwaa_without_url() -> None:
    loaded = parse({"api": "v2", "auth": {"type": "mwaa", "environment": "${MWAA_ENV}", "region": "us-east-1"}})
    assert loaded.url is None
    assert (loaded.auth.type, loaded.auth.environment, loaded.auth.region, loaded.auth.endpoint_url) == (
        "mwaa", "prod-airflow", "us-east-1", None)
    local = parse({"auth": {"type": "mwaa", "environment": "e", "region": "eu-west-1",
                            "endpoint_url": "http://127.0.0.1:4566/"}})
    assert local.auth.endpoint_url == "http://127.0.0.1:4566"


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "ap-southeast-3", "us-gov-west-1", "cn-north-1"])
def test_aws_regions(region: str) -> None:
    assert parse({"auth": {"type": "mwaa", "environment": "e", "region": region}}).auth.region == region


@pytest.mark.parametrize("airflow, message", [
    ({"auth": {"type": "basic", "username": "u", "password": "p"}},
     r"airflow\.url: expected a non-empty string \(or composer_environment"),
    ({"auth": {"type": "google"}}, r"airflow\.url: expected a non-empty string"),
    ({"composer_environment": "prod", "auth": {"type": "google"}},
     r"airflow\.composer_environment: expected projects/PROJECT/locations/REGION/environments/NAME"),
    ({"composer_environment": f"{ENVIRONMENT}/extra", "auth": {"type": "google"}},
     r"airflow\.composer_environment: expected"),
    ({"composer_environment": ENVIRONMENT}, r"airflow\.composer_environment: Cloud Composer needs auth: \{type: google\}"),
    ({"composer_environment": ENVIRONMENT, "auth": {"type": "bearer", "token": "t"}},
     r"Cloud Composer needs auth: \{type: google\}"),
    ({"composer_environment": ENVIRONMENT, "composer_endpoint": "composer.googleapis.com",
      "auth": {"type": "google"}}, r"airflow\.composer_endpoint: expected an http:// or https:// URL"),
    ({"url": "https://x", "composer_endpoint": "https://composer.googleapis.com"},
     r"airflow\.composer_endpoint: only used with composer_environment"),
    ({"auth": {"type": "mwaa", "region": "us-east-1"}}, r"airflow\.auth\.environment: expected a non-empty string"),
    ({"auth": {"type": "mwaa", "environment": "1env", "region": "us-east-1"}},
     r"airflow\.auth\.environment: '1env' is not an MWAA environment name"),
    ({"auth": {"type": "mwaa", "environment": "e" * 81, "region": "us-east-1"}}, r"not an MWAA environment name"),
    ({"auth": {"type": "mwaa", "environment": "e"}}, r"airflow\.auth\.region: expected a non-empty string"),
    ({"auth": {"type": "mwaa", "environment": "e", "region": "US East"}},
     r"airflow\.auth\.region: expected an AWS region such as us-east-1"),
    ({"auth": {"type": "mwaa", "environment": "e", "region": "us-east-1", "endpoint_url": "localhost:4566"}},
     r"airflow\.auth\.endpoint_url: expected an http:// or https:// URL"),
    ({"auth": {"type": "mwaa", "environment": "e", "region": "us-east-1", "role": "Op"}},
     r"airflow\.auth: unknown key\(s\) role"),
    ({"url": "https://x", "auth": {"type": "mwaa", "environment": "e", "region": "us-east-1"}},
     r"airflow\.url: not used with auth type mwaa"),
    ({"composer_environment": ENVIRONMENT, "auth": {"type": "mwaa", "environment": "e", "region": "us-east-1"}},
     r"airflow\.composer_environment: not used with auth type mwaa"),
    ({"auth": {"type": "google", "environment": "e"}}, r"airflow\.auth: unknown key\(s\) environment"),
    ({"url": "https://x", "composer": ENVIRONMENT}, r"airflow: unknown key\(s\) composer"),
])
def test_invalid_target_configs(airflow: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(airflow)


def test_mwaa_auth_repr_names_no_secret() -> None:
    # MWAA's credentials come from the AWS chain, never from the config: nothing to hide, but the
    # repr stays the same short one as every other scheme's.
    loaded = parse({"auth": {"type": "mwaa", "environment": "e", "region": "us-east-1"}})
    assert repr(loaded.auth) == "AuthConfig(type='mwaa', username=None)"
