"""(d) The pattern of Google's Cloud Composer 2 sample ("Trigger a DAG in Cloud Composer 2 using
the Airflow REST API"): module-level credentials, and a NEW ``AuthorizedSession`` -- so a new
``requests.Session``, connection pool and TLS connection -- for every request.

Same signature check and parse as (c), so (c) and (d) differ only in the HTTP pattern. The
credentials are ``google.oauth2.credentials.Credentials(token=...)`` with no expiry: valid for
ever, so no token endpoint is called (the sample uses ``google.auth.default()``, whose token is
refreshed about once an hour: negligible per request). Like the sample, the session is not closed.
"""

import hashlib
import hmac
import json
import os

import functions_framework
import google.oauth2.credentials
from google.auth.transport.requests import AuthorizedSession

SECRET = os.environ["BENCH_SECRET"].encode()
WEB_SERVER_URL = os.environ["BENCH_AIRFLOW_URL"].rstrip("/")
CA = os.environ["BENCH_CA"]
CREDENTIALS = google.oauth2.credentials.Credentials(token=os.environ["BENCH_TOKEN"])


def make_web_server_request(url, method="GET", **kwargs):
    authed_session = AuthorizedSession(CREDENTIALS)  # the sample's pattern: one per request
    kwargs.setdefault("timeout", 90)
    return authed_session.request(method, url, verify=CA, **kwargs)


def trigger_dag(dag_id, run_id, data):
    url = f"{WEB_SERVER_URL}/api/v2/dags/{dag_id}/dagRuns"
    response = make_web_server_request(url, method="POST",
                                       json={"dag_run_id": run_id, "logical_date": None, "conf": data})
    response.raise_for_status()
    return response.text


@functions_framework.http
def receive(request):
    body = request.get_data()
    expected = ("sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()).encode()
    given = request.headers.get("X-Hub-Signature-256", "").encode("ascii", "replace")
    if not hmac.compare_digest(expected, given):
        return {"error": "bad signature"}, 401
    payload = json.loads(body)
    trigger_dag("deploy", "composer__" + request.headers.get("X-GitHub-Delivery", ""),
                {"sha": payload.get("after"), "repo": payload["repository"]["full_name"]})
    return {"status": "queued"}, 200
