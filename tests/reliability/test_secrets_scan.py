"""Suite 5: every log line of every suite, scanned for the configured secrets and tokens.

Runs last in tests/reliability (pytest collects files in name order). The in-process harness
already scanned each request's lines as it went (suite 1); this scans every log file the other
suites' servers wrote (functions-framework's stdout and stderr: airhook's JSON lines, gunicorn's
own lines), line by line, for: every configured webhook secret and token (and the decoded forms
of ``whsec_`` keys), the test RSA keys, anything shaped like a JWT, a bearer or basic
credential, and the load generator's payload canary.
"""

from __future__ import annotations

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
