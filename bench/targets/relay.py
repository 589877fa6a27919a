"""(c) The minimal hand-written relay: what a careful engineer writes in an afternoon.

Checks X-Hub-Signature-256, parses the body, and POSTs a DAG run through ONE module-level
``requests.Session`` (keep-alive, ``requests``' defaults). No routing, no config file, no logs.
Reads BENCH_SECRET, BENCH_AIRFLOW_URL, BENCH_CA and BENCH_TOKEN from the environment.
"""

import hashlib
import hmac
import json
import os

import functions_framework
import requests

SECRET = os.environ["BENCH_SECRET"].encode()
TRIGGER_URL = os.environ["BENCH_AIRFLOW_URL"].rstrip("/") + "/api/v2/dags/deploy/dagRuns"

SESSION = requests.Session()
SESSION.verify = os.environ["BENCH_CA"]
SESSION.headers["Authorization"] = "Bearer " + os.environ["BENCH_TOKEN"]


@functions_framework.http
def receive(request):
    body = request.get_data()
    expected = ("sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()).encode()
    given = request.headers.get("X-Hub-Signature-256", "").encode("ascii", "replace")
    if not hmac.compare_digest(expected, given):
        return {"error": "bad signature"}, 401
    payload = json.loads(body)
    run = {"dag_run_id": "relay__" + request.headers.get("X-GitHub-Delivery", ""),
           "logical_date": None,
           "conf": {"sha": payload.get("after"), "repo": payload["repository"]["full_name"]}}
    reply = SESSION.post(TRIGGER_URL, json=run, timeout=8)
    return {"status": reply.status_code}, 200 if reply.ok else 502
