"""``airhook send``: a delivery built and signed exactly as the sender would, posted to a running
airhook, its answer printed readably."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .. import config, senders
from ..errors import ConfigError
from . import configfile, payload, signing
from .options import common, config_path
from .output import FAILED, OK, CliError, Output, compact

NAME = "send"
HELP = "send a signed delivery to a running airhook"
DESCRIPTION = """\
Build a delivery exactly as SOURCE's sender would (headers, content type, timestamp, delivery
id, signature) with the secret from the config and environment the function uses, post it, and
print the answer. Every send is a new delivery; --redeliver ID sends one again (the answer is
then "duplicate": still one run). --dry-run asks the function what it would trigger.

examples:
  airhook send github                                  # example push to http://127.0.0.1:8080/github
  airhook send github --payload push.json --event push --url https://airhook-xyz.a.run.app
  airhook send stripe --example checkout-completed --dry-run
  airhook send github --redeliver 0b5d4a6e-0c53-4c5c-9f3e-5ea1a9b1e2f1
  airhook send scheduler --event nightly-etl            # google-oidc: mints an ID token
  airhook send github --list-examples

The secret: the source's first secret, read from the environment as the function reads it
(e.g. GITHUB_WEBHOOK_SECRET=... airhook send github), or --secret-file. The URL: --url, else
$AIRHOOK_URL, else http://127.0.0.1:8080 (make run); /SOURCE is added to a URL without a path.
"""

DEFAULT_URL = "http://127.0.0.1:8080"
DRY_RUN_HEADER = "X-Airhook-Dry-Run"
#: A dry run is for operators: the function refuses one without its $AIRHOOK_OPERATOR_TOKEN here.
OPERATOR_TOKEN_HEADER = "X-Airhook-Operator-Token"
OPERATOR_TOKEN_ENV = "AIRHOOK_OPERATOR_TOKEN"
#: Headers whose values are credentials: shown as *** in --json and --verbose output.
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-gitlab-token", OPERATOR_TOKEN_HEADER.lower()})


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="a source name from the config (the URL path)")
    parser.add_argument("--event", "-e", metavar="E", help="the event name (default: the example's, or "
                        "the payload's; GitHub: push)")
    body = parser.add_mutually_exclusive_group()
    body.add_argument("--payload", "-p", metavar="FILE", help="the body to send (- for stdin)")
    body.add_argument("--example", metavar="NAME", help="a shipped example payload (see --list-examples)")
    parser.add_argument("--list-examples", action="store_true", help="list the examples for SOURCE's type")
    parser.add_argument("--url", metavar="URL", help=f"airhook's URL (default: $AIRHOOK_URL, else {DEFAULT_URL})")
    parser.add_argument("--redeliver", metavar="ID", help="send again with this delivery id (as printed)")
    parser.add_argument("--dry-run", action="store_true",
                        help=f"send {DRY_RUN_HEADER}: true and ${OPERATOR_TOKEN_ENV} (the function's operator "
                        "token); the function verifies and routes, triggers nothing")
    # A secret never goes on the command line (ps, shell history and CI logs show argv): the
    # environment the config names, or a file.
    parser.add_argument("--secret-file", metavar="FILE",
                        help="sign with the secret in FILE (- for stdin) instead of the configured one")
    parser.add_argument("--id-token", metavar="JWT", help="google-oidc: send this ID token instead of minting one")
    parser.add_argument("--header", "-H", metavar="'K: V'", action="append", help="an extra header (repeatable)")
    parser.add_argument("--content-type", metavar="TYPE", help="default: the example's, or guessed from the payload")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait (default 30)")
    parser.add_argument("--verbose", "-v", action="store_true", help="also print the request and the raw answer")
    common(parser)


def target_url(given: str | None, source: str, environ: Mapping[str, str]) -> str:
    url = given or environ.get("AIRHOOK_URL") or DEFAULT_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"--url: expected http(s)://HOST[:PORT][/PATH], got {url!r}")
    if parts.path in ("", "/"):
        parts = parts._replace(path="/" + source)
    return urlunsplit(parts)


def load_source(path: str, name: str, environ: Mapping[str, str], *, secret_given: bool) -> Any:
    """Build only the named source, as the function builds it: a send needs nothing else, and a
    variable the rest of the file uses (Airflow's password, say) need not be set here.

    Raises:
        CliError: no such source, a variable it needs is not set, or its config is invalid.
    """
    file = configfile.read(path)
    resolved = configfile.resolve(file, environ)
    document = resolved.document if isinstance(resolved.document, dict) else {}
    found = document.get("sources")
    sources: dict[str, Any] = found if isinstance(found, dict) else {}
    if name not in sources:
        known = ", ".join(sources) or "none"
        raise CliError(f"{file.path}: no source named {name!r} (configured: {known})")
    where = ("sources", name)
    missing = resolved.missing_under(where)
    if secret_given:
        missing = [m for m in missing if not set(m.path) & {"secrets", "tokens", "signing_tokens"}]
    if missing:
        first = missing[0]
        names = ", ".join(sorted({m.name for m in missing}))
        raise CliError(f"{file.path}:{first.line}: environment variable(s) not set: {names} "
                       f"(source {name!r} needs them as the function does; set them, or pass --secret-file)")
    spec = dict(sources[name]) if isinstance(sources[name], dict) else {}
    spec.pop("deadline", None)
    # The document is escaped for config.parse (every ${ as $${); undo that for this source only.
    spec = _unescape(spec)
    try:
        return senders.build_source(name, spec, f"sources.{name}")
    except ConfigError as exc:
        raise CliError(file.format(config.locate(exc))) from None


def _unescape(node: Any) -> Any:
    if isinstance(node, str):
        return node.replace("$${", "${")
    if isinstance(node, list):
        return [_unescape(item) for item in node]
    if isinstance(node, dict):
        return {key: _unescape(value) for key, value in node.items()}
    return node


def redacted(headers: Mapping[str, str], source: Any) -> dict[str, str]:
    secret_headers = set(_CREDENTIAL_HEADERS)
    if source.type == "token":
        secret_headers.add(source.header)
    return {k: ("***" if k.lower() in secret_headers else v) for k, v in headers.items()}


def read_secret(path: str | None) -> str | None:
    """The secret in ``path`` (``-``: stdin), without its trailing newline; None without a path."""
    if path is None:
        return None
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"--secret-file {path}: cannot read it ({type(exc).__name__})") from None
    secret = text.rstrip("\r\n")
    if not secret:
        raise CliError(f"--secret-file {path}: empty")
    return secret


def run(args: argparse.Namespace, out: Output) -> int:
    environ = os.environ
    path = config_path(args)
    secret = read_secret(args.secret_file)
    source = load_source(path, args.source, environ, secret_given=secret is not None)
    if args.list_examples:
        return _list_examples(source.type, out, args.json)
    body = payload.load(source.type, args.payload, args.example, args.content_type)
    url = target_url(args.url, args.source, environ)
    id_token = None
    if source.type == "google-oidc":
        from . import google_token
        id_token = args.id_token or google_token.mint(source, environ, f"airhook send {args.source}")
    extra = payload.headers(args.header)
    if args.dry_run:
        if not environ.get(OPERATOR_TOKEN_ENV):
            raise CliError(f"--dry-run needs the function's operator token: set {OPERATOR_TOKEN_ENV} "
                           "(docs/security.md)")
        extra[DRY_RUN_HEADER] = "true"
        extra[OPERATOR_TOKEN_HEADER] = environ[OPERATOR_TOKEN_ENV]
    draft = signing.Draft(body=body.body, content_type=body.content_type, event=args.event or body.event,
                          delivery_id=args.redeliver, headers=extra)
    outbound = signing.prepare(source, draft, url=url, now=time.time(),
                               key=signing.signing_key(source, secret), id_token=id_token)
    status, answer, raw = _post(outbound, args.timeout)
    request = {"method": "POST", "url": outbound.url, "headers": redacted(outbound.headers, source),
               "delivery_id": outbound.delivery_id, "redeliver": outbound.redeliver,
               "payload": body.origin, "dry_run": args.dry_run}
    if args.json:
        out.data({"request": request, "status": status, "response": answer if answer is not None else raw})
    else:
        _print(out, args, source, outbound, body.origin, status, answer, raw, request)
    return OK if status < 400 else FAILED


def _post(outbound: signing.Outbound, timeout: float) -> tuple[int, Any, str]:
    import requests

    try:
        response = requests.post(outbound.url, data=outbound.body, headers=outbound.headers,
                                 timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        reason = str(exc).split("(Caused by", 1)[-1].strip(" )") or type(exc).__name__
        raise CliError(f"cannot reach {outbound.url}: {reason[:200]}", FAILED) from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return response.status_code, answer, response.text


def _print(out: Output, args: argparse.Namespace, source: Any, outbound: signing.Outbound,
           origin: str, status: int, answer: Any, raw: str, request: dict[str, Any]) -> None:
    style = out.style
    event = (answer or {}).get("event") if isinstance(answer, dict) else None
    delivery = (answer or {}).get("delivery_id") if isinstance(answer, dict) else None
    delivery = delivery or outbound.delivery_id
    out.line(f"POST {outbound.url}  {style.dim(f'({source.type}, {origin})')}")
    if args.verbose:
        for name, value in request["headers"].items():
            out.line(style.dim(f"  {name}: {value}"))
    colour = style.green if status < 300 else style.yellow if status < 500 and status != 401 else style.red
    summary = f"event {event}, " if event else ""
    out.line(f"{colour(str(status))}  {summary}delivery {delivery}")
    if isinstance(answer, dict):
        _print_answer(out, answer)
    elif raw:
        out.line(f"  {raw.strip()[:500]}")
    if args.verbose and answer is not None:
        out.line(style.dim(json.dumps(answer, indent=2)))
    if status < 400 and not args.dry_run:
        if outbound.redeliver is not None and not args.redeliver:
            out.line(style.dim(f"Send it again with --redeliver {outbound.redeliver}: the same delivery, "
                               "so the answer is duplicate, not a second run."))
        elif outbound.redeliver is None:
            out.line(style.dim("This sender names no delivery id: the function uses the body's hash, so "
                               "the same payload sent again is a duplicate."))


def _print_answer(out: Output, answer: dict[str, Any]) -> None:
    style = out.style
    if "error" in answer:
        out.line(f"  {style.red(str(answer['error']))}: {answer.get('message', '')}")
    if answer.get("dry_run"):
        out.line(style.bold("  dry run: nothing was triggered"))
        for entry in answer.get("routes", []):
            if entry.get("matched"):
                target = entry.get("dag_id") or entry.get("asset")
                run_id = entry.get("dag_run_id") or entry.get("event_id")
                out.line(f"  {style.green('match')}  {entry['route']} -> {target}  run {run_id}")
                out.line(f"         conf {compact(entry.get('conf', {}), 200)}")
            else:
                out.line(f"  {style.dim('skip ')}  {entry['route']}: {entry.get('reason', '')}")
        if not answer.get("routes"):
            out.line("  no route listens to this source")
        return
    runs = answer.get("runs")
    if isinstance(runs, list):
        if not runs and "error" not in answer:
            out.line("  no route matched: nothing triggered")
        for run in runs:
            target = run.get("dag_id") or run.get("asset")
            run_id = run.get("dag_run_id") or run.get("event_id")
            status = str(run.get("status"))
            colour = (style.green if status == "queued"
                      else style.yellow if status in ("duplicate", "accepted") else style.red)
            out.line(f"  {colour(f'{status:<9}')}  {run.get('route')} -> {target}  run {run_id}")
    elif "error" not in answer:
        rest = {k: v for k, v in answer.items() if k not in ("delivery_id", "source", "event")}
        out.line(f"  {compact(rest, 300)}")


def _list_examples(kind: str, out: Output, as_json: bool) -> int:
    from . import examples

    found = examples.for_type(kind)
    if as_json:
        out.data([{"name": e.name, "summary": e.summary, "event": e.event,
                   "content_type": e.content_type} for e in found])
        return OK
    for index, example in enumerate(found):
        default = out.style.dim("  (default)") if index == 0 else ""
        out.line(f"{example.name:<22} {example.summary}{default}")
    return OK
