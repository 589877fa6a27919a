"""``airhook redeliver-github`` against a loopback stand-in of GitHub's two endpoints (GitHub's
API cannot be reached here): the hook's deliveries, paginated through the Link header, and the
redelivery of one attempt."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .support import airhook

TOKEN = "ghp_loopbacktoken"
HOOK = "/repos/octo-org/etl/hooks/42"


def delivery(ident: int, guid: str, code: int, minutes_ago: float, *, redelivery: bool = False) -> dict[str, Any]:
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    status = {200: "OK", 0: "Timed out"}.get(code, f"Invalid HTTP Response: {code}")
    return {"id": ident, "guid": guid, "delivered_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "redelivery": redelivery, "duration": 0.5, "status": status, "status_code": code,
            "event": "push", "action": None, "installation_id": None, "repository_id": 1296269}


class GitHubStandIn:
    """``GET {HOOK}/deliveries`` (newest first, ``cursor`` pages with a ``Link: rel="next"``) and
    ``POST {HOOK}/deliveries/{id}/attempts`` (202), for one token."""

    def __init__(self, pages: list[list[dict[str, Any]]], refuse: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.pages = pages
        self.refuse = refuse
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        #: where the ``Link: rel="next"`` points (None: this stand-in itself)
        self.next_base: str | None = None
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _serve(self) -> None:
                stand_in.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"message": "Bad credentials"})
                parts = urlsplit(self.path)
                if self.command == "GET" and parts.path == f"{HOOK}/deliveries":
                    query = parse_qs(parts.query)
                    page = int(query.get("cursor", ["0"])[0])
                    headers = {}
                    if page + 1 < len(stand_in.pages):
                        headers["Link"] = (f'<{stand_in.next_base or stand_in.url}{HOOK}/deliveries?per_page=100&cursor={page + 1}>; '
                                           'rel="next"')
                    return self._answer(200, stand_in.pages[page], headers)
                if self.command == "POST" and parts.path.startswith(f"{HOOK}/deliveries/") and parts.path.endswith("/attempts"):
                    ident = int(parts.path.split("/")[-2])
                    if ident in stand_in.refuse:
                        return self._answer(422, {"message": "Validation Failed"})
                    return self._answer(202, {})
                return self._answer(404, {"message": "Not Found"})

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self) -> list[str]:
        return [path for method, path, _ in self.requests if method == "POST"]

    def gets(self) -> list[str]:
        return [path for method, path, _ in self.requests if method == "GET"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Newest first, as GitHub lists them. A failed twice (one redelivery), B failed then succeeded,
# C succeeded, E timed out, F failed before the window; page 3 is never needed.
PAGES = [
    [delivery(110, "guid-A", 502, 10, redelivery=True), delivery(109, "guid-B", 200, 20, redelivery=True),
     delivery(108, "guid-C", 200, 30), delivery(107, "guid-A", 503, 40)],
    [delivery(106, "guid-B", 503, 50), delivery(105, "guid-E", 0, 70), delivery(104, "guid-F", 502, 180)],
    [delivery(103, "guid-G", 502, 300)],
]


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    stand_in = GitHubStandIn(PAGES, refuse={999})
    try:
        yield stand_in
    finally:
        stand_in.close()


def run(github: GitHubStandIn, *args: str, token: str | None = TOKEN) -> Any:
    env = {"GITHUB_TOKEN": token} if token else {}
    return airhook("redeliver-github", "--repo", "octo-org/etl", "--hook-id", "42", "--api-url", github.url,
                   *args, env=env)


def test_failed_deliveries_are_redelivered_once_each(github: GitHubStandIn) -> None:
    result = run(github, "--since", "2h")
    assert result.code == 0, result.stderr
    # Oldest first; A's latest attempt; B recovered, C never failed, F outside the window.
    assert github.posts() == [f"{HOOK}/deliveries/105/attempts", f"{HOOK}/deliveries/110/attempts"]
    assert github.gets() == [f"{HOOK}/deliveries?per_page=100", f"{HOOK}/deliveries?per_page=100&cursor=1"]
    headers = github.requests[0][2]
    assert headers["accept"] == "application/vnd.github+json" and headers["x-github-api-version"] == "2022-11-28"
    lines = result.stdout.splitlines()
    assert lines[0].startswith("redelivering 2 failed deliveries since ")
    assert lines[1].startswith("  redelivered  guid-E  push  (last answer Timed out at ")
    assert lines[2].startswith("  redelivered  guid-A  push  (last answer 502 at ") and "2 failed attempts" in lines[2]
    assert lines[3] == "skipped 1 that failed but later succeeded"


def test_dry_run_lists_only(github: GitHubStandIn) -> None:
    result = run(github, "--since", "2h", "--dry-run", "--json")
    assert result.code == 0, result.stderr
    answer = result.json()
    assert [(r["guid"], r["delivery_id"], r["result"]) for r in answer["redeliveries"]] == [
        ("guid-E", 105, "would redeliver"), ("guid-A", 110, "would redeliver")]
    assert answer["skipped_recovered"] == ["guid-B"] and answer["deliveries_seen"] == 7
    assert github.posts() == []


def test_a_longer_window_reaches_the_next_page(github: GitHubStandIn) -> None:
    since = (datetime.now(UTC) - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run(github, "--since", since, "--dry-run", "--json")
    assert [r["guid"] for r in result.json()["redeliveries"]] == ["guid-G", "guid-F", "guid-E", "guid-A"]
    assert len(github.gets()) == 3


@pytest.mark.parametrize("next_base", ["http://localhost:{port}", "https://127.0.0.1:{port}", "http://127.0.0.1:1"])
def test_a_next_page_on_another_origin_is_not_followed_with_the_token(github: GitHubStandIn, next_base: str) -> None:
    """The session carries GITHUB_TOKEN: a Link to another scheme, host or port is refused (12.7)."""
    github.next_base = next_base.format(port=urlsplit(github.url).port)
    since = (datetime.now(UTC) - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run(github, "--since", since, "--dry-run")
    assert result.code == 1 and "not following it with the token" in result.stderr
    assert len(github.gets()) == 1


def test_nothing_to_do(github: GitHubStandIn) -> None:
    result = run(github, "--since", "5m")
    assert result.code == 0
    assert result.stdout.startswith("no failed deliveries to redeliver since ")
    assert result.stdout.rstrip().endswith("(4 seen)")
    assert github.posts() == []


def test_a_refused_redelivery_fails_the_command() -> None:
    stand_in = GitHubStandIn([[delivery(999, "guid-X", 500, 5)]], refuse={999})
    try:
        result = run(stand_in, "--since", "1h")
    finally:
        stand_in.close()
    assert result.code == 1
    assert "failed: GitHub answered 422: Validation Failed" in result.stdout


@pytest.mark.parametrize("args, token, code, message", [
    ([], None, 2, "airhook: error: GITHUB_TOKEN is not set: a token with admin:repo_hook (or Webhooks read and "
                  "write) on the repository"),
    ([], "ghp_wrong", 1, "airhook: error: GitHub answered 401 (Bad credentials): the token in GITHUB_TOKEN needs "
                         "admin:repo_hook, or Webhooks read and write, on the repository"),
    (["--since", "yesterday"], TOKEN, 2, "airhook: error: --since 'yesterday': expected a duration (30m, 2h, 3d) "
                                         "or an ISO 8601 time"),
])
def test_errors_are_one_line(github: GitHubStandIn, args: list[str], token: str | None, code: int,
                             message: str) -> None:
    result = run(github, *args, token=token)
    assert result.code == code
    assert result.stderr.splitlines() == [message]
    assert github.posts() == []
