"""``airhook explain``: which routes a payload matches and why the others do not, and for each
match the exact request airhook would make to Airflow. Nothing is sent and no secret is needed:
the payload is signed with a stand-in credential and read by the source's own verifier, so the
event name and delivery id are the ones the function would read."""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from ..airflow.client import EVENT_ID_KEY, redact, trigger_request
from ..config import Config
from ..delivery import Delivery, Inbound
from ..errors import AirhookError, RouteError
from ..routing import Trigger, build_trigger, decide
from ..senders import Source
from . import configfile, payload, signing
from .options import common, config_path
from .output import FAILED, OK, CliError, Output

NAME = "explain"
HELP = "show which routes a payload matches, why not, and the request to Airflow"
DESCRIPTION = """\
Route a payload as the function would, without verifying it and without the network: for every
route, whether it matches and why not (wrong source, event not in its list, the value of its
`when`), and for each match the exact request to Airflow (method, URL, JSON body with dag_run_id
and conf). Secrets need not be set.

examples:
  airhook explain github --payload push.json --event push
  airhook explain github --payload pr.json --event pull_request --delivery-id 72d3162e
  airhook explain stripe --example invoice-paid --json
  airhook explain tool --payload body.json --header 'X-Event: build.done' --api v1
"""

EXPLAIN_URL = "https://airhook.invalid"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="a source name from the config")
    body = parser.add_mutually_exclusive_group()
    body.add_argument("--payload", "-p", metavar="FILE", help="the delivery's body (- for stdin)")
    body.add_argument("--example", metavar="NAME", help="a shipped example payload instead")
    parser.add_argument("--event", "-e", metavar="E", help="the event name, put where the sender puts it")
    parser.add_argument("--header", "-H", metavar="'K: V'", action="append",
                        help="a request header, e.g. 'X-GitHub-Event: push' (repeatable)")
    parser.add_argument("--delivery-id", metavar="ID", help="the delivery id (default: a fresh one, as a sender's)")
    parser.add_argument("--content-type", metavar="TYPE", help="default: guessed from the payload")
    parser.add_argument("--api", choices=("v1", "v2"), help="the Airflow REST API to show (default: the "
                        "config's; with api: auto, v2 = Airflow 3)")
    common(parser)


def read_delivery(source: Source, draft: signing.Draft) -> Delivery:
    """``draft`` through ``source``'s own verifier, signed with whatever the source holds (a
    stand-in when the secret's variable is not set; a throwaway key for google-oidc).

    Raises:
        CliError: the payload is not something this sender sends.
    """
    id_token = None
    if source.type == "google-oidc":
        from . import google_token
        source, id_token = google_token.local(source)
    url = f"{EXPLAIN_URL}/{source.name}"
    outbound = signing.prepare(source, draft, url=url, now=time.time(),
                               key=signing.signing_key(source), id_token=id_token)
    base, _, query = outbound.url.partition("?")
    inbound = Inbound(method="POST", path="/" + source.name,
                      headers={k.lower(): v for k, v in outbound.headers.items()},
                      body=outbound.body, query=query, url=outbound.url)
    try:
        return source.verify(inbound, outbound.now)
    except AirhookError as exc:
        raise CliError(f"the payload is not a {source.type} delivery airhook can read: {exc.detail}", 1) from None


def airflow_base(loaded: Config, file: configfile.ConfigFile, resolved: configfile.Resolved) -> str:
    """Where the API is: the URL as configured (``${VAR}`` shown as written when it is not set)."""
    airflow = loaded.airflow
    if resolved.missing_under(("airflow", "url")):
        raw = file.document.get("airflow", {}).get("url") if isinstance(file.document, dict) else None
        return str(raw).rstrip("/")
    if airflow.url is not None:
        return redact(airflow.url)  # never print a password from airflow.url
    if airflow.auth.type == "mwaa":
        return f"mwaa://{airflow.auth.environment}"
    return f"<airflowUri of {airflow.composer_environment}>"


def airflow_request(trigger: Trigger, api: str, base: str) -> dict[str, Any]:
    """The request airhook makes for ``trigger``, as the client builds it
    (:func:`airhook.airflow.client.trigger_request`)."""
    # The asset's id is looked up once by name or URI (GET /assets): not knowable without Airflow.
    method, path, body = trigger_request(trigger, api, asset_id=f"<id of asset {trigger.asset}>")
    request: dict[str, Any] = {"method": method, "url": f"{base}/api/{api}{path}", "body": body}
    if trigger.asset is not None:
        request["skipped_if"] = f"an event with extra.{EVENT_ID_KEY} = {trigger.dag_run_id} exists"
    return request


def explain(loaded: Config, delivery: Delivery, api: str, base: str) -> list[dict[str, Any]]:
    """Every route's verdict, in config order (routes of other sources included: "wrong source"
    is an answer too)."""
    document = delivery.document()
    entries: list[dict[str, Any]] = []
    for route in loaded.routes:
        decision = decide(route, delivery, document)
        entry: dict[str, Any] = {"route": route.name, "source": route.source,
                                 "matched": decision.matched, "reason": decision.reason}
        if decision.matched:
            try:
                trigger = build_trigger(route, delivery, document)
            except RouteError as exc:
                entry.update(matched=False, reason=exc.detail, error=True)
            else:
                entry.update(trigger.describe(), conf=trigger.conf,
                             request=airflow_request(trigger, api, base))
        entries.append(entry)
    return entries


def run(args: argparse.Namespace, out: Output) -> int:
    loaded, file, resolved = configfile.load(config_path(args), os.environ)
    source = loaded.sources.get(args.source)
    if source is None:
        raise CliError(f"{file.path}: no source named {args.source!r} "
                       f"(configured: {', '.join(loaded.sources)})")
    body = payload.load(source.type, args.payload, args.example, args.content_type)
    draft = signing.Draft(body=body.body, content_type=body.content_type, event=args.event or body.event,
                          delivery_id=args.delivery_id, headers=payload.headers(args.header))
    delivery = read_delivery(source, draft)
    configured = loaded.airflow.api
    api = args.api or (configured if configured != "auto" else "v2")
    base = airflow_base(loaded, file, resolved)
    head = {"source": delivery.source, "type": source.type, "event": delivery.event,
            "delivery_id": delivery.delivery_id, "api": api, "config": str(file.path)}
    if delivery.reply is not None:
        result: dict[str, Any] = {**head, "handshake": dict(delivery.reply), "routes": []}
        if args.json:
            out.data(result)
        else:
            out.line(f"{delivery.source} {delivery.event}: a handshake; the function answers "
                     f"200 {json.dumps(dict(delivery.reply))} and routes nothing")
        return OK
    entries = explain(loaded, delivery, api, base)
    # As in the function: one route that cannot be evaluated fails the whole delivery (422).
    failed = any(e.get("error") for e in entries)
    if args.json:
        out.data({**head, "routes": entries, "rejected": failed})
        return FAILED if failed else OK
    style = out.style
    note = " (api: auto; --api v1 for Airflow 2)" if not args.api and configured == "auto" else ""
    out.line(f"{delivery.source} {style.bold(delivery.event)}, delivery {delivery.delivery_id}")
    out.line(style.dim(f"config {file.path}, Airflow REST API {api}{note}"))
    if resolved.missing:
        names = ", ".join(sorted({m.name for m in resolved.missing}))
        out.line(style.dim(f"not set here (not needed to explain): {names}"))
    out.line()
    for entry in entries:
        if entry["matched"]:
            out.line(f"{style.green('match')}  {style.bold(entry['route'])}")
            request = entry["request"]
            out.line(f"       {request['method']} {request['url']}")
            for text in json.dumps(request["body"], indent=2, ensure_ascii=False).splitlines():
                out.line(f"       {text}")
            if "skipped_if" in request:
                out.line(style.dim(f"       (not posted if {request['skipped_if']})"))
        else:
            label = style.red("error") if entry.get("error") else style.dim("skip ")
            out.line(f"{label}  {entry['route']}: {entry['reason']}")
    matched = sum(1 for e in entries if e["matched"])
    out.line()
    if failed:
        out.line(style.red("a route could not be evaluated: the function would answer 422 and trigger nothing"))
        return FAILED
    out.line(f"{matched} of {len(entries)} route(s) match" + (": nothing would be triggered" if not matched else ""))
    return OK
