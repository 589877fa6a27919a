"""``airhook redeliver-github``: GitHub never retries a failed delivery by itself. After an
Airflow outage in direct mode (airhook answered 503), this lists the hook's failed deliveries
through GitHub's REST API and asks GitHub to redeliver each one once. Redelivery is safe: the
delivery id is the same, so a run that did get created is a duplicate, not a second run.

GitHub's REST API: ``GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries`` (newest first,
paginated by cursor through the ``Link`` header) and ``POST .../deliveries/{id}/attempts``.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from .options import common
from .output import FAILED, OK, CliError, Output

NAME = "redeliver-github"
HELP = "ask GitHub to redeliver a hook's failed deliveries"
DESCRIPTION = """\
List a repository webhook's deliveries that failed (no 2xx answer) within --since and ask
GitHub to redeliver each once: the recovery step after an Airflow outage in direct mode, since
GitHub never retries by itself. A delivery that failed several times is redelivered once; one
that later succeeded is skipped. Needs a token with the repository's admin:repo_hook (or
"Webhooks: read and write") permission in $GITHUB_TOKEN.

examples:
  airhook redeliver-github --repo octo-org/etl --hook-id 12345678 --since 2h --dry-run
  airhook redeliver-github --repo octo-org/etl --hook-id 12345678 --since 2024-05-14T08:00:00Z
  airhook redeliver-github --repo data/etl --hook-id 7 --api-url https://github.example.com/api/v3
"""

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", required=True, metavar="OWNER/NAME", help="the repository")
    parser.add_argument("--hook-id", required=True, type=int, metavar="N",
                        help="the webhook's id (Settings -> Webhooks -> the hook: the number in its URL)")
    parser.add_argument("--since", default="24h", metavar="WHEN",
                        help="how far back: 30m, 2h, 3d, or an ISO 8601 time (default 24h; GitHub "
                             "keeps deliveries for 3 days)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be redelivered, change nothing")
    parser.add_argument("--api-url", default=None, metavar="URL",
                        help=f"GitHub's API root (default {DEFAULT_API}; GitHub Enterprise Server: "
                             "https://HOST/api/v3; $GITHUB_API_URL also works)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds per request")
    common(parser, config=False)


def parse_since(value: str, now: datetime) -> datetime:
    """``2h`` before ``now``, or an ISO 8601 instant (UTC when it names no zone).

    Raises:
        CliError: neither.
    """
    match = _DURATION.match(value.strip().lower())
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--since {value!r}: expected a duration (30m, 2h, 3d) or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def succeeded(delivery: dict[str, Any]) -> bool:
    code = delivery.get("status_code")
    return isinstance(code, int) and 200 <= code < 300


def delivered_at(delivery: dict[str, Any]) -> datetime | None:
    text = delivery.get("delivered_at")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Failed:
    """One delivery (a guid) to redeliver: its latest failed attempt."""

    guid: str
    attempt_id: int
    event: str
    action: str | None
    status_code: int | None
    status: str
    delivered_at: str
    attempts: int

    def describe(self) -> dict[str, Any]:
        return {"guid": self.guid, "delivery_id": self.attempt_id, "event": self.event, "action": self.action,
                "status_code": self.status_code, "status": self.status, "delivered_at": self.delivered_at,
                "failed_attempts": self.attempts}


def select(deliveries: list[dict[str, Any]], since: datetime) -> tuple[list[Failed], list[str]]:
    """The guids to redeliver (failed within ``since``, never succeeded), oldest first, each
    once with its latest attempt; and the guids skipped because an attempt succeeded."""
    by_guid: dict[str, list[dict[str, Any]]] = {}
    for delivery in deliveries:
        guid = delivery.get("guid")
        if isinstance(guid, str) and isinstance(delivery.get("id"), int):
            by_guid.setdefault(guid, []).append(delivery)
    chosen: list[tuple[datetime, Failed]] = []
    recovered: list[str] = []
    for guid, attempts in by_guid.items():
        failures = [a for a in attempts if not succeeded(a)]
        if not failures:
            continue
        if len(failures) < len(attempts):
            # Redelivering it would only be a duplicate: Airflow already has its run.
            recovered.append(guid)
            continue
        dated = [(delivered_at(a), a) for a in failures]
        recent = [(when, a) for when, a in dated if when is not None and when >= since]
        if not recent:
            continue
        when, latest = max(recent, key=lambda pair: (pair[0], pair[1]["id"]))
        chosen.append((when, Failed(guid=guid, attempt_id=latest["id"], event=str(latest.get("event", "")),
                                    action=latest.get("action"), status_code=latest.get("status_code"),
                                    status=str(latest.get("status", "")), delivered_at=str(latest.get("delivered_at")),
                                    attempts=len(failures))))
    chosen.sort(key=lambda pair: pair[0])
    return [failed for _, failed in chosen], sorted(recovered)


class GitHub:
    """The two endpoints, with a token, through requests (proxies from the environment apply)."""

    def __init__(self, api_url: str, token: str, timeout: float) -> None:
        import requests

        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                                     "X-GitHub-Api-Version": API_VERSION, "User-Agent": "airhook-cli"})

    def _call(self, method: str, url: str) -> Any:
        import requests

        try:
            response = self.session.request(method, url, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise CliError(f"cannot reach GitHub at {self.api_url}: {type(exc).__name__}", FAILED) from None
        if response.status_code in (401, 403):
            message = _message(response)
            raise CliError(f"GitHub answered {response.status_code} ({message}): the token in GITHUB_TOKEN needs "
                           "admin:repo_hook, or Webhooks read and write, on the repository", FAILED)
        if response.status_code == 404:
            raise CliError(f"GitHub answered 404 for {url.split('?', 1)[0]}: no such repository or hook, or the "
                           "token cannot see it", FAILED)
        return response

    def deliveries(self, repo: str, hook_id: int, since: datetime) -> Iterator[dict[str, Any]]:
        """The hook's deliveries, newest first, page by page until one reaches before ``since``."""
        url: str | None = f"{self.api_url}/repos/{_repo_path(repo)}/hooks/{hook_id}/deliveries?per_page=100"
        while url:
            response = self._call("GET", url)
            if response.status_code != 200:
                raise CliError(f"GitHub answered {response.status_code} listing deliveries: "
                               f"{_message(response)}", FAILED)
            page = response.json()
            if not isinstance(page, list):
                raise CliError("GitHub's deliveries answer is not a list", FAILED)
            yield from page
            oldest = [when for when in map(delivered_at, page) if when is not None]
            if not page or (oldest and min(oldest) < since):
                return
            match = _NEXT.search(response.headers.get("Link", ""))
            url = self._same_origin(match.group(1)) if match else None

    def _same_origin(self, url: str) -> str:
        """``url`` (a ``Link: rel="next"`` from GitHub's answer) if it is on the API's own scheme,
        host and port: the session carries the token, which must never go to another host."""
        want, got = urlsplit(self.api_url), urlsplit(url)
        if (got.scheme, got.hostname, got.port) != (want.scheme, want.hostname, want.port):
            raise CliError(f"GitHub's next page is on another origin ({got.scheme}://{got.hostname}); "
                           "not following it with the token", FAILED)
        return url

    def redeliver(self, repo: str, hook_id: int, attempt_id: int) -> tuple[bool, str]:
        url = f"{self.api_url}/repos/{_repo_path(repo)}/hooks/{hook_id}/deliveries/{attempt_id}/attempts"
        response = self._call("POST", url)
        if response.status_code in (200, 201, 202):
            return True, "accepted"
        return False, f"GitHub answered {response.status_code}: {_message(response)}"


def _repo_path(repo: str) -> str:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise CliError(f"--repo {repo!r}: expected OWNER/NAME")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _message(response: Any) -> str:
    try:
        return str(response.json().get("message", ""))[:200] or response.reason
    except (ValueError, AttributeError):
        return str(response.reason)


def run(args: argparse.Namespace, out: Output) -> int:
    _repo_path(args.repo)
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise CliError("GITHUB_TOKEN is not set: a token with admin:repo_hook (or Webhooks read and write) "
                       "on the repository")
    now = datetime.now(UTC)
    since = parse_since(args.since, now)
    api_url = args.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API
    github = GitHub(api_url, token, args.timeout)
    seen = list(github.deliveries(args.repo, args.hook_id, since))
    failed, recovered = select(seen, since)
    results: list[dict[str, Any]] = []
    errors = 0
    for item in failed:
        entry = item.describe()
        if args.dry_run:
            entry["result"] = "would redeliver"
        else:
            ok, detail = github.redeliver(args.repo, args.hook_id, item.attempt_id)
            entry["result"] = "redelivered" if ok else f"failed: {detail}"
            errors += not ok
        results.append(entry)
    if args.json:
        out.data({"repo": args.repo, "hook_id": args.hook_id, "since": since.isoformat(), "dry_run": args.dry_run,
                  "deliveries_seen": len(seen), "redeliveries": results, "skipped_recovered": recovered})
        return FAILED if errors else OK
    style = out.style
    window = f"since {since.strftime('%Y-%m-%d %H:%M:%SZ')}"
    if not results:
        out.line(f"no failed deliveries to redeliver {window} ({len(seen)} seen"
                 + (f", {len(recovered)} failed but later succeeded" if recovered else "") + ")")
        return OK
    verb = "would redeliver" if args.dry_run else "redelivering"
    out.line(f"{verb} {len(results)} failed deliver{'y' if len(results) == 1 else 'ies'} {window}:")
    for entry in results:
        event = entry["event"] + (f".{entry['action']}" if entry["action"] else "")
        code = entry["status_code"] if entry["status_code"] else entry["status"]
        result = entry["result"]
        colour = style.green if result == "redelivered" else style.red if result.startswith("failed") else style.dim
        out.line(f"  {colour(result)}  {entry['guid']}  {event}  (last answer {code} at {entry['delivered_at']}"
                 + (f", {entry['failed_attempts']} failed attempts" if entry["failed_attempts"] > 1 else "") + ")")
    if recovered:
        out.line(style.dim(f"skipped {len(recovered)} that failed but later succeeded"))
    return FAILED if errors else OK
