"""A loopback stand-in of Amazon MWAA's API, for botocore to sign real requests to.

MWAA cannot be reached here, so its two operations that airhook uses are played on loopback, in the
shapes of the API model (botocore's ``mwaa`` service model, protocol rest-json):

- ``InvokeRestApi``: ``POST /restapi/{Name}`` with ``{"Path", "Method", "Body"?, "QueryParameters"?}``;
  Airflow's answer comes back as ``{"RestApiStatusCode", "RestApiResponse"}`` (HTTP 200), or, for an
  Airflow 4xx/5xx, as the modeled errors ``RestApiClientException`` / ``RestApiServerException``
  (HTTP 400, the same two members).
- ``GetEnvironment``: ``GET /environments/{Name}`` -> ``{"Environment": {"AirflowVersion", ...}}``.

Every request's SigV4 signature is recomputed here from the secret key, independently of botocore
(the AWS Signature Version 4 steps with hashlib/hmac): a request whose ``Authorization`` header does
not have the shape ``AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/airflow/aws4_request,
SignedHeaders=..., Signature=<64 hex>`` or whose signature does not match is answered 403
``InvalidSignatureException`` and recorded in ``signature_failures``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.stubs import Answer, Recorded

ACCESS_KEY = "AKIDTEST"
SECRET_KEY = "airhook-test-secret-key"
REGION = "eu-west-1"
SERVICE = "airflow"

#: (method, path, body, query parameters) -> (Airflow's status, Airflow's JSON answer)
Airflow = Callable[[str, str, Any, dict[str, Any]], Answer]

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})")


def aws_environ(**overrides: str) -> dict[str, str]:
    """Static test credentials through the standard chain, and nothing else it could find."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_CONFIG_FILE": "/nonexistent/aws-config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            "AWS_EC2_METADATA_DISABLED": "true", **overrides}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def expected_signature(request: Recorded, secret: str = SECRET_KEY) -> str:
    """SigV4 of ``request`` as AWS computes it (canonical request, string to sign, derived key)."""
    match = _AUTHORIZATION.fullmatch(request.headers.get("authorization", ""))
    assert match, f"Authorization header has not the SigV4 shape: {request.headers.get('authorization')!r}"
    signed = match["signed"].split(";")
    path, _, query = request.path.partition("?")
    canonical_query = "&".join(sorted(query.split("&"))) if query else ""
    canonical_headers = "".join(f"{name}:{' '.join(request.headers[name].split())}\n" for name in signed)
    canonical = "\n".join([request.method, quote(path, safe="/-_.~"), canonical_query, canonical_headers,
                           match["signed"], hashlib.sha256(request.body).hexdigest()])
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", request.headers["x-amz-date"], scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(f"AWS4{secret}".encode(), match["date"])
    for part in (match["region"], match["service"], "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class MwaaEndpoint:
    """The handler for :func:`tests.stubs.stub_server`: ``with stub_server(MwaaEndpoint(...))``."""

    airflow: Airflow
    name: str = "airhook-test"
    airflow_version: str = "2.10.3"
    region: str = REGION
    #: scripted AWS-level errors (HTTP status, error code) answered before any Airflow call
    aws_errors: list[tuple[int, str]] = field(default_factory=list)
    signature_failures: list[str] = field(default_factory=list)
    #: the InvokeRestApi calls, decoded: {"Name", "Path", "Method", "Body"?, "QueryParameters"?}
    calls: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def signature_problem(self, request: Recorded) -> str:
        """Why the request's signature is refused; empty if it is valid."""
        match = _AUTHORIZATION.fullmatch(request.headers.get("authorization", ""))
        if match is None:
            return "no SigV4 Authorization header"
        if (match["key"], match["region"], match["service"]) != (ACCESS_KEY, self.region, SERVICE):
            return f"credential scope {match['key']}/{match['region']}/{match['service']}"
        if not request.headers.get("x-amz-date", "").startswith(match["date"]):
            return "X-Amz-Date does not match the credential scope's date"
        if not hmac.compare_digest(expected_signature(request), match["signature"]):
            return "signature mismatch"
        return ""

    def __call__(self, request: Recorded) -> Answer:
        problem = self.signature_problem(request)
        if problem:
            self.signature_failures.append(problem)
            return 403, {"__type": "InvalidSignatureException", "message": problem}
        with self._lock:
            if self.aws_errors:
                status, code = self.aws_errors.pop(0)
                return status, {"__type": code, "message": f"scripted {code}"}
        if request.method == "GET" and request.path == f"/environments/{self.name}":
            return 200, {"Environment": {"Name": self.name, "AirflowVersion": self.airflow_version,
                                         "Status": "AVAILABLE"}}
        if request.method == "POST" and request.path.startswith("/restapi/"):
            name = request.path.removeprefix("/restapi/")
            if name != self.name:
                return 404, {"__type": "ResourceNotFoundException", "message": f"{name} not found"}
            call = {"Name": name, **request.json()}
            self.calls.append(call)
            status, answer = self.airflow(call["Method"], call["Path"], call.get("Body"),
                                          call.get("QueryParameters") or {})
            if status < 400:
                return 200, {"RestApiStatusCode": status, "RestApiResponse": answer}
            kind = "RestApiClientException" if status < 500 else "RestApiServerException"
            return 400, {"__type": kind, "RestApiStatusCode": status, "RestApiResponse": answer}
        return 404, {"__type": "UnknownOperationException", "message": request.path}


def dag_runs(seen: set[str] | None = None) -> Airflow:
    """An Airflow that creates DAG runs: 200 for a new run id, 409 for one it has seen."""
    seen = set() if seen is None else seen
    lock = threading.Lock()

    def airflow(method: str, path: str, body: Any, query: dict[str, Any]) -> Answer:
        if method == "POST" and path.endswith("/dagRuns"):
            with lock:
                if body["dag_run_id"] in seen:
                    return 409, {"detail": f"DAGRun with dag_run_id: '{body['dag_run_id']}' already exists"}
                seen.add(body["dag_run_id"])
            return 200, {"dag_run_id": body["dag_run_id"], "state": "queued"}
        if method == "GET" and path.startswith("/dags/") and path.count("/") == 2:
            return 200, {"dag_id": path.rsplit("/", 1)[1], "is_paused": False}  # the paused check
        return 404, {"detail": "not found"}

    return airflow
