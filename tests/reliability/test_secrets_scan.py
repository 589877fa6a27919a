"""Suite 5: every log line of every suite, scanned for the configured secrets and tokens.

Runs last in tests/reliability (pytest collects files in name order). The in-process harness
already scanned each request's lines as it went (suite 1); this scans every log file the other
suites' servers wrote (functions-framework's stdout and stderr: airhook's JSON lines, gunicorn's
own lines), line by line, for: every configured webhook secret and token (and the decoded forms
of ``whsec_`` keys), the test RSA keys, anything shaped like a JWT, a bearer or basic
credential, and the load generator's payload canary.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import figures
from .servers import scan


def test_no_secret_or_token_in_any_log_line() -> None:
    if not figures.LOG_FILES and not figures.SCANNED:
        pytest.skip("no other reliability suite ran in this session: nothing to scan")
    problems: list[str] = []
    lines_scanned = 0
    for suite, label, path in figures.LOG_FILES:
        text = path.read_text(errors="replace") if path.exists() else ""
        for number, line in enumerate(text.splitlines(), 1):
            lines_scanned += 1
            found = scan(line, secrets_only=True)
            if found:
                problems.append(f"{suite} / {label} line {number}: {found}: {line[:200]}")
    figures.record("5 secrets scan", log_files=len(figures.LOG_FILES),
                   server_log_lines_scanned=lines_scanned,
                   in_process_lines_scanned=sum(figures.SCANNED.values()),
                   findings=len(problems))
    assert not problems, "\n".join(problems[:20])


def test_the_scan_finds_what_it_looks_for() -> None:
    """The scanner itself: a planted secret, JWT, bearer token and canary are all reported."""
    from .loadgen import LOAD_CANARY
    from .profiles import PROFILES

    secret = PROFILES["r-github"].secret
    jwt = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiIsImV4cCI6MX0.c2ln"
    for line in (f'{{"reason":"{secret}"}}', f"Authorization: Bearer {jwt}", f"body {LOAD_CANARY}",
                 "Authorization: Basic YWRtaW46YWRtaW4="):
        assert scan(line, secrets_only=True), line
    assert not scan('{"severity":"INFO","message":"r-github push d-1: 200 queued"}', secrets_only=True)


# ------------------------------------------------------------------------------ issue 12.5 (part)

PASSWORD = "Pa55word-in-url-9876"


@pytest.mark.parametrize("url", [
    pytest.param(f"http://admin:{PASSWORD}@127.0.0.1:9", id="refused"),
    pytest.param(f"http://admin:{PASSWORD}@127.0.0.1:9/airflow", id="refused-with-path"),
    pytest.param(f"http://admin:{PASSWORD}@no-such-host.invalid", id="dns-failure"),
])
def test_a_password_in_the_airflow_url_is_not_logged_during_an_outage(url: str) -> None:
    """In-process, the real Airflow client against a closed port or an unknown host: the 503's log
    line (with the outage's cause) and the answer must not hold the URL's password. A config that
    refuses userinfo in the URL is fine too, provided its error does not echo the password."""
    import io
    import json

    from airhook import config, logs
    from airhook.errors import ConfigError
    from airhook.receiver import Receiver
    from airhook.senders.github import sign

    secret = "k" * 24
    document = {"airflow": {"url": url, "api": "v2"},
                "sources": {"gh": {"type": "github", "secrets": [secret], "deadline": 1}},
                "routes": [{"name": "r", "source": "gh", "dag_id": "d"}]}
    try:
        cfg = config.parse(document, {})
    except ConfigError as exc:
        assert PASSWORD not in str(exc) and PASSWORD not in exc.detail
        return
    buffer = io.StringIO()
    receiver = Receiver(cfg, log=lambda severity, message, **f: logs.emit(severity, message, stream=buffer, **f))
    body = b'{"ref": "refs/heads/main"}'
    headers = {"content-type": "application/json", "x-github-event": "push", "x-github-delivery": "d-1",
               "x-hub-signature-256": sign(secret.encode(), body)}
    response = receiver.handle("POST", "/gh", headers, lambda limit: body)
    assert response.status == 503
    text = buffer.getvalue() + json.dumps(dict(response.body))
    assert PASSWORD not in text


SUBSTITUTED = "Sub5tituted-Secret-Value"


@pytest.mark.parametrize("fragment, value", [
    pytest.param("airflow: {url: '${X}'}", f"ftp://admin:{SUBSTITUTED}@airflow.example.com", id="airflow.url-scheme"),
    pytest.param("airflow: {url: '${X}'}", SUBSTITUTED, id="airflow.url-not-a-url"),
    pytest.param("airflow: {url: 'http://a', api: '${X}'}", SUBSTITUTED, id="airflow.api"),
    pytest.param("airflow: {url: 'http://a', auth: {type: '${X}'}}", SUBSTITUTED, id="airflow.auth.type"),
    pytest.param("airflow: {url: 'http://a'}\nsources: {s: {type: stripe, secrets: [x], tolerance: '${X}'}}",
                 SUBSTITUTED, id="tolerance"),
    pytest.param("airflow: {url: 'http://a'}\nsources: {s: {type: '${X}', secrets: [x]}}", SUBSTITUTED,
                 id="source-type"),
    pytest.param("airflow: {url: 'http://a'}\nsources: {s: {type: twilio, secrets: [x], public_url: '${X}'}}",
                 f"ftp://u:{SUBSTITUTED}@h/x", id="twilio-public_url"),
    pytest.param("airflow: {url: 'http://a'}\ndelivery: {mode: queue, topic: '${X}'}", SUBSTITUTED,
                 id="delivery.topic"),
    pytest.param("airflow: {url: 'http://a'}\nsources: {s: {type: github, secrets: [x], response: '${X}'}}",
                 SUBSTITUTED, id="response"),
])
def test_config_errors_do_not_echo_substituted_values(tmp_path: Path, fragment: str, value: str) -> None:
    """A value from the environment may be a secret (a URL with a password, a token pasted into the
    wrong variable): an error about it names the key, not the value. The instance logs the error as
    its one CRITICAL line (airhook.http.receiver_from_environment), so it must be clean."""
    from airhook import config
    from airhook.errors import ConfigError

    text = fragment + "\n"
    if "sources:" not in text:
        text += "sources: {s: {type: github, secrets: [x]}}\n"
    text += "routes: [{name: r, source: s, dag_id: d}]\n"
    path = tmp_path / "airhook.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        config.load(path, {"X": value})
    assert SUBSTITUTED not in raised.value.detail and SUBSTITUTED not in str(raised.value)
