"""``airhook send`` against the real functions-framework server: GitHub end to end into a real
Airflow 3, and every other sender type against a recording stand-in for Airflow, where the run
being triggered shows that the server verified what the command signed."""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

from airhook.cli.signing import TYPES
from tests.stubs import Recorded, StubServer
from tools.function_server import FunctionServer
from tools.local_airflow import AirflowServer

from .support import ROOT, airhook

PUSH = json.loads((ROOT / "airhook" / "cli" / "examples" / "github" / "push.json").read_text())
GITHUB_SECRET = secrets.token_urlsafe(24)
SERVICE_ACCOUNT = "scheduler@airhook-test.iam.gserviceaccount.com"


def whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


# ------------------------------------------------------------------ GitHub into a real Airflow 3

GITHUB_CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  api: v2
  auth: {type: airflow-jwt, username: ${AIRFLOW_USER}, password: ${AIRFLOW_PASSWORD}}
sources:
  github: {type: github, secrets: ["${GITHUB_WEBHOOK_SECRET}"]}
routes:
  - name: deploy-main
    source: github
    events: [push]
    when: "body.ref == 'refs/heads/main'"
    dag_id: deploy
    conf: {sha: body.after, repo: body.repository.full_name, pusher: body.pusher.name}
"""


@pytest.fixture(scope="module")
def github_function(airflow3: AirflowServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FunctionServer, Path]]:
    config = tmp_path_factory.mktemp("github") / "airhook.yaml"
    config.write_text(GITHUB_CONFIG)
    env = {"AIRFLOW_URL": airflow3.url, "AIRFLOW_USER": airflow3.username,
           "AIRFLOW_PASSWORD": airflow3.password, "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
           "AIRHOOK_OPERATOR_TOKEN": OPERATOR_TOKEN}
    with FunctionServer(config, env) as server:
        yield server, config


def test_send_github_push_becomes_a_run_with_its_conf_then_a_duplicate(
        airflow3: AirflowServer, github_function: tuple[FunctionServer, Path]) -> None:
    server, config = github_function
    # The command reads only the source's own variable: Airflow's are not set here.
    env = {"GITHUB_WEBHOOK_SECRET": GITHUB_SECRET}
    first = airhook("send", "github", "--url", server.url, "--config", str(config), "--json", env=env)
    assert first.code == 0, first.stderr
    answer = first.json()
    delivery_id = answer["request"]["delivery_id"]
    run_id = f"airhook__github__deploy-main__{delivery_id}"
    assert answer["status"] == 200
    assert answer["response"]["runs"] == [{"route": "deploy-main", "dag_id": "deploy", "dag_run_id": run_id,
                                          "status": "queued"}]
    run = airflow3.get_dag_run("deploy", run_id)
    assert run is not None
    assert run["conf"] == {"sha": PUSH["after"], "repo": "octo-org/hello-world", "pusher": "octocat"}

    again = airhook("send", "github", "--url", server.url, "--config", str(config), "--redeliver", delivery_id,
                    env=env)
    assert again.code == 0, again.stderr
    assert f"duplicate  deploy-main -> deploy  run {run_id}" in again.stdout
    assert [r["dag_run_id"] for r in airflow3.list_dag_runs("deploy")].count(run_id) == 1


def test_send_github_dry_run_triggers_nothing(airflow3: AirflowServer,
                                              github_function: tuple[FunctionServer, Path]) -> None:
    server, config = github_function
    result = airhook("send", "github", "--url", server.url, "--config", str(config), "--dry-run",
                     env={"GITHUB_WEBHOOK_SECRET": GITHUB_SECRET, "AIRHOOK_OPERATOR_TOKEN": OPERATOR_TOKEN})
    assert result.code == 0, result.stderr
    assert "dry run: nothing was triggered" in result.stdout
    [line] = [l for l in result.stdout.splitlines() if "match  deploy-main -> deploy" in l]
    run_id = line.rsplit("run ", 1)[1]
    assert f'"sha": "{PUSH["after"]}"' in result.stdout
    assert airflow3.get_dag_run("deploy", run_id) is None


def test_send_github_human_output(github_function: tuple[FunctionServer, Path]) -> None:
    server, config = github_function
    result = airhook("send", "github", "--example", "pull-request-merged", "--url", f"{server.url}/github",
                     "--config", str(config), env={"GITHUB_WEBHOOK_SECRET": GITHUB_SECRET})
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"POST {server.url}/github  (github, example github/pull-request-merged)"
    assert lines[1].startswith("200  event pull_request, delivery ")
    assert lines[2] == "  no route matched: nothing triggered"
    assert "--redeliver" in lines[3]
    assert "\033[" not in result.stdout  # not a terminal: no colour


def test_send_with_a_wrong_secret_is_refused(github_function: tuple[FunctionServer, Path], tmp_path: Path) -> None:
    server, config = github_function
    (tmp_path / "secret").write_text("wrong\n")
    result = airhook("send", "github", "--url", server.url, "--config", str(config),
                     "--secret-file", str(tmp_path / "secret"))
    assert result.code == 1
    assert "401" in result.stdout and "unauthorized: signature verification failed" in result.stdout


def test_send_needs_the_sources_secret(github_function: tuple[FunctionServer, Path]) -> None:
    _, config = github_function
    result = airhook("send", "github", "--config", str(config))
    assert result.code == 2
    assert result.stderr.splitlines() == [
        f"airhook: error: {config}:7: environment variable(s) not set: GITHUB_WEBHOOK_SECRET "
        "(source 'github' needs them as the function does; set them, or pass --secret-file)"]


def test_a_secret_never_goes_on_the_command_line() -> None:
    """Issue 12.7: argv is visible to ps, shell history and CI logs; secrets come from the
    environment the config names or from --secret-file."""
    result = airhook("send", "github", "--secret", "s3cret")  # at most a file name, never the secret
    assert result.code == 2 and "--secret-file s3cret: cannot read it" in result.stderr


def test_send_to_nothing_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "airhook.yaml"
    config.write_text(GITHUB_CONFIG)
    result = airhook("send", "github", "--config", str(config), "--url", "http://127.0.0.1:9",
                     env={"GITHUB_WEBHOOK_SECRET": "s"})
    assert result.code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("airhook: error: cannot reach http://127.0.0.1:9/github")


# ------------------------------------------------------------------ every sender type, stand-in Airflow

ALL_CONFIG = """
airflow: {url: "${AIRFLOW_URL}", api: v2}
sources:
  github: {type: github, secrets: ["${S_github}"]}
  stripe: {type: stripe, secrets: ["${S_stripe}"]}
  slack: {type: slack, secrets: ["${S_slack}"]}
  standard-webhooks: {type: standard-webhooks, secrets: ["${S_standard_webhooks}"]}
  svix: {type: svix, secrets: ["${S_svix}"]}
  gitlab: {type: gitlab, tokens: ["${S_gitlab}"]}
  gitlab-signed: {type: gitlab, signing_tokens: ["${S_gitlab_signed}"]}
  bitbucket: {type: bitbucket, secrets: ["${S_bitbucket}"]}
  jira: {type: jira, secrets: ["${S_jira}"]}
  shopify: {type: shopify, secrets: ["${S_shopify}"]}
  linear: {type: linear, secrets: ["${S_linear}"]}
  pagerduty: {type: pagerduty, secrets: ["${S_pagerduty}"]}
  zendesk: {type: zendesk, secrets: ["${S_zendesk}"]}
  hubspot: {type: hubspot, secrets: ["${S_hubspot}"]}
  twilio: {type: twilio, secrets: ["${S_twilio}"], event: {body: SmsStatus}}
  hmac:
    type: hmac
    secrets: ["${S_hmac}"]
    header: X-Signature
    prefix: "sha256="
    timestamp_header: X-Timestamp
    signed_content: "{timestamp}.{method}.{path}.{body}"
    event: {body: event}
    delivery_id: {header: X-Delivery}
  token: {type: token, tokens: ["${S_token}"], event: {body: action}}
  google-oidc:
    type: google-oidc
    audience: https://airhook.test/google-oidc
    service_accounts: [scheduler@airhook-test.iam.gserviceaccount.com]
    certs_url: ${GOOGLE_CERTS_URL}
routes:
"""
SOURCES = sorted(TYPES) + ["gitlab-signed"]
WHSEC = {"standard-webhooks", "svix", "gitlab-signed"}
#: The function's operator token, which --dry-run sends (docs/security.md).
OPERATOR_TOKEN = secrets.token_urlsafe(24)
SECRETS = {f"S_{name.replace('-', '_')}": whsec() if name in WHSEC else secrets.token_urlsafe(24)
           for name in SOURCES}


def config_for_all_types() -> str:
    routes = "".join(f"  - {{name: r-{name}, source: {name}, dag_id: d_{name.replace('-', '_')}, "
                     f"conf: {{event: event, delivery: delivery_id}}}}\n" for name in SOURCES)
    return ALL_CONFIG + routes


class GoogleStandIn:
    """Google's token endpoint (exchanges a service account's signed assertion for an ID token,
    as oauth2.googleapis.com/token does for IDTokenCredentials) and its certificates endpoint."""

    def __init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        self.public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.signer = crypt.RSASigner.from_string(private, key_id="google-key-1")
        self.assertions: list[dict[str, Any]] = []
        self.server = StubServer(self.handle).start()

    def handle(self, request: Recorded) -> tuple[int, Any]:
        if request.path == "/certs":
            return 200, {"google-key-1": self.public}
        form = parse_qs(request.body.decode())
        assertion = jwt.decode(form["assertion"][0], verify=False)
        self.assertions.append(assertion)
        now = int(time.time())
        token = jwt.encode(self.signer, {
            "iss": "https://accounts.google.com", "aud": assertion["target_audience"], "sub": "1",
            "email": assertion["iss"], "email_verified": True, "iat": now, "exp": now + 3600}).decode()
        return 200, {"id_token": token}


class RecordingAirflow:
    """Airflow's trigger endpoint: a run id seen before is a 409, as Airflow answers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.run_ids: list[str] = []
        self.server = StubServer(self.handle).start()

    def handle(self, request: Recorded) -> tuple[int, Any]:
        body = request.json()
        with self.lock:
            seen = body["dag_run_id"] in self.run_ids
            self.run_ids.append(body["dag_run_id"])
        return (409, {"detail": "exists"}) if seen else (200, {"dag_run_id": body["dag_run_id"], "state": "queued"})


@pytest.fixture(scope="module")
def every_type(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("every-type")
    config = folder / "airhook.yaml"
    config.write_text(config_for_all_types())
    google, airflow = GoogleStandIn(), RecordingAirflow()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = folder / "service-account.json"
    key_file.write_text(json.dumps({
        "type": "service_account", "project_id": "airhook-test", "private_key_id": "sa-key-1",
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": SERVICE_ACCOUNT, "client_id": "1", "token_uri": f"{google.server.url}/token"}))
    env = {**SECRETS, "AIRFLOW_URL": airflow.server.url, "GOOGLE_CERTS_URL": f"{google.server.url}/certs",
           "AIRHOOK_OPERATOR_TOKEN": OPERATOR_TOKEN}
    try:
        with FunctionServer(config, env) as function:
            yield {"config": config, "function": function, "airflow": airflow, "google": google,
                   "env": {**env, "GOOGLE_APPLICATION_CREDENTIALS": str(key_file)}}
    finally:
        google.server.stop()
        airflow.server.stop()


@pytest.mark.parametrize("source", SOURCES)
def test_every_sender_type_is_verified_by_the_server(every_type: dict[str, Any], source: str) -> None:
    function, config, env = every_type["function"], every_type["config"], every_type["env"]
    first = airhook("send", source, "--url", function.url, "--config", str(config), "--json", env=env)
    assert first.code == 0, first.stdout + first.stderr
    answer = first.json()
    assert answer["status"] == 200, answer
    if source == "twilio":  # a form webhook is answered TwiML, which Twilio parses (issue 11.5)
        assert answer["response"] == TWIML
        run_id = f"airhook__twilio__r-twilio__{answer['request']['delivery_id']}"
        assert run_id in every_type["airflow"].run_ids
        again = airhook("send", source, "--url", function.url, "--config", str(config), "--json",
                        "--redeliver", answer["request"]["redeliver"], env=env)
        assert again.code == 0 and again.json()["response"] == TWIML, again.stdout + again.stderr
        assert every_type["airflow"].run_ids.count(run_id) == 2  # the second one Airflow's 409
        return
    [run] = answer["response"]["runs"]
    assert run["status"] == "queued" and run["route"] == f"r-{source}"
    assert run["dag_run_id"] in every_type["airflow"].run_ids
    assert answer["response"]["delivery_id"] == answer["request"]["delivery_id"]

    # The same delivery again: by its id (--redeliver), or, for a sender without one, the same body.
    redeliver = answer["request"]["redeliver"]
    again_args = ["--redeliver", redeliver] if redeliver else []
    again = airhook("send", source, "--url", function.url, "--config", str(config), "--json", *again_args, env=env)
    assert again.code == 0, again.stdout + again.stderr
    assert again.json()["response"]["runs"][0] == {**run, "status": "duplicate"}


def test_google_oidc_token_is_minted_from_the_service_account(every_type: dict[str, Any]) -> None:
    assertions = every_type["google"].assertions
    if not assertions:
        test_every_sender_type_is_verified_by_the_server(every_type, "google-oidc")
    assert assertions[-1]["iss"] == SERVICE_ACCOUNT
    assert assertions[-1]["target_audience"] == "https://airhook.test/google-oidc"


def test_google_oidc_without_credentials_says_what_to_run(every_type: dict[str, Any]) -> None:
    env = {k: v for k, v in every_type["env"].items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    result = airhook("send", "google-oidc", "--config", str(every_type["config"]), env=env)
    assert result.code == 1
    [line] = result.stderr.splitlines()
    assert line.endswith('run: airhook send google-oidc --id-token "$(gcloud auth print-identity-token '
                         f'--impersonate-service-account={SERVICE_ACCOUNT} '
                         '--audiences=https://airhook.test/google-oidc)")')


def test_dry_run_of_another_type_triggers_nothing(every_type: dict[str, Any]) -> None:
    before = list(every_type["airflow"].run_ids)
    result = airhook("send", "stripe", "--example", "payment-failed", "--dry-run", "--json",
                     "--url", every_type["function"].url, "--config", str(every_type["config"]),
                     env=every_type["env"])
    assert result.code == 0, result.stderr
    response = result.json()["response"]
    assert response["dry_run"] is True and response["event"] == "payment_intent.payment_failed"
    assert response["routes"][0]["matched"] is True
    assert response["routes"][0]["conf"]["event"] == "payment_intent.payment_failed"
    assert every_type["airflow"].run_ids == before


def test_a_slash_command_is_answered_with_a_slack_message(every_type: dict[str, Any]) -> None:
    """Slack shows the answer to the person who typed the command (issue 11.5)."""
    result = airhook("send", "slack", "--example", "slash-command", "--json", "--url", every_type["function"].url,
                     "--config", str(every_type["config"]), env=every_type["env"])
    assert result.code == 0, result.stdout + result.stderr
    assert result.json()["response"] == {"response_type": "ephemeral", "text": "Started: d_slack."}


TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def test_a_twilio_status_callback_is_answered_twiml(every_type: dict[str, Any]) -> None:
    result = airhook("send", "twilio", "--example", "message-status", "--json", "--url", every_type["function"].url,
                     "--config", str(every_type["config"]), env=every_type["env"])
    assert result.code == 0, result.stdout + result.stderr
    assert result.json()["response"] == TWIML


@pytest.mark.parametrize("source, example, event", [
    ("linear", "comment-created", "Comment.create"),
    ("hubspot", "deal-stage-changed", "deal.propertyChange"),
    ("google-oidc", "pubsub-push", "pubsub"),
    ("zendesk", "trigger", "webhook"),
])
def test_other_examples_are_accepted(every_type: dict[str, Any], source: str, example: str, event: str) -> None:
    result = airhook("send", source, "--example", example, "--json", "--url", every_type["function"].url,
                     "--config", str(every_type["config"]), env=every_type["env"])
    assert result.code == 0, result.stdout + result.stderr
    response = result.json()["response"]
    assert response["event"] == event and response["runs"][0]["status"] == "queued"


def test_dry_run_needs_the_operator_token(every_type: dict[str, Any]) -> None:
    env = {k: v for k, v in every_type["env"].items() if k != "AIRHOOK_OPERATOR_TOKEN"}
    result = airhook("send", "stripe", "--dry-run", "--url", every_type["function"].url,
                     "--config", str(every_type["config"]), env=env)
    assert result.code == 2 and "set AIRHOOK_OPERATOR_TOKEN" in result.stderr  # a usage error
    before = list(every_type["airflow"].run_ids)
    wrong = {**every_type["env"], "AIRHOOK_OPERATOR_TOKEN": "not-the-token-0123456789"}
    result = airhook("send", "stripe", "--dry-run", "--json", "--url", every_type["function"].url,
                     "--config", str(every_type["config"]), env=wrong)
    assert result.json()["status"] == 403 and result.json()["response"]["error"] == "dry_run_forbidden"
    assert "not-the-token" not in result.stdout  # shown as ***
    assert every_type["airflow"].run_ids == before
