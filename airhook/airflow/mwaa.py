"""Amazon MWAA: Airflow's REST API through MWAA's ``InvokeRestApi`` (SigV4-signed with the standard
AWS credential chain), as a :class:`~airhook.airflow.transport.Transport`.

boto3 is an optional dependency (``requirements-mwaa.txt``): it is imported only when the config
says ``auth: {type: mwaa}``, so other targets never load it. One boto3 client per instance (boto3
clients are thread-safe); botocore's own retries are off because :class:`AirflowClient` retries
within the sender's deadline.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..config import AirflowConfig
from ..errors import (
    AirflowAuthError,
    AirflowError,
    AirflowRejected,
    AirflowServerError,
    AirflowUnavailable,
    ConfigError,
    RunRefused,
    TargetNotFound,
)
from .transport import Probe, Reply, parse_version

#: InvokeRestApi's ``Path`` limit (its API model: 1 to 64 characters, no version prefix).
MAX_PATH = 64
INSTALL_HINT = "pip install -r requirements-mwaa.txt"

#: AWS error codes that mean the caller's credentials were refused (not Airflow's answer).
_CREDENTIAL_CODES = frozenset({
    "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature",
    "MissingAuthenticationToken", "ExpiredTokenException", "ExpiredToken", "InvalidClientTokenId",
    "SignatureDoesNotMatch", "InvalidIdentityToken", "InvalidIdentityTokenException",
    "AccessDenied",
})
_THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})


def import_boto3() -> Any:
    """boto3, or a startup ConfigError that says how to install it."""
    try:
        import boto3
    except ImportError:
        raise ConfigError("airflow.auth.type mwaa needs boto3, which is not installed: "
                          f"{INSTALL_HINT} (add its lines to the requirements.txt you deploy)") from None
    return boto3


def make_client(config: AirflowConfig) -> Any:
    """A boto3 ``mwaa`` client: timeouts from ``airflow.timeout``, one attempt per call."""
    boto3 = import_boto3()
    from botocore.config import Config

    auth = config.auth
    client_config = Config(
        connect_timeout=min(config.timeout, 5.0), read_timeout=config.timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=16,  # functions-framework's threads, like the HTTP pool
        # An explicit endpoint is used as given: no "env."/"api." host prefix in front of it.
        inject_host_prefix=auth.endpoint_url is None,
        user_agent_extra="airhook")
    # Its own session: boto3's default session is module state shared with any other user.
    session = boto3.session.Session(region_name=auth.region)
    return session.client("mwaa", config=client_config, endpoint_url=auth.endpoint_url,
                          verify=config.verify_tls)


def split_path(path: str) -> tuple[str, dict[str, str]]:
    """``/assets?name_pattern=x`` -> (``/assets``, ``{"name_pattern": "x"}``): InvokeRestApi takes
    the query as ``QueryParameters``."""
    parts = urlsplit(path)
    return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))


class MwaaTransport:
    """Requests to Airflow's REST API as ``mwaa.invoke_rest_api(Name, Path, Method, Body)``.

    Airflow's own answer comes back as a :class:`Reply` with Airflow's status, whether MWAA reports
    it as a success or as ``RestApiClientException``/``RestApiServerException``, so
    :func:`~airhook.airflow.replies.classify` maps it like any other transport's.
    """

    def __init__(self, config: AirflowConfig, client: Any = None) -> None:
        assert config.auth.environment is not None
        self.config = config
        self.name = config.auth.environment
        self.client = client if client is not None else make_client(config)
        from botocore import exceptions

        self._exceptions = exceptions

    def __repr__(self) -> str:
        return f"MwaaTransport({self.name!r})"

    def request(self, method: str, path: str, body: Any, timeout: float, api: str) -> Reply:
        # ``api`` is not needed: MWAA's Path carries no version prefix. ``timeout`` is not applied
        # per call: botocore fixes its timeouts per client
        # (airflow.timeout), so an attempt may outlast what is left of the deadline.
        api_path, query = split_path(path)
        if len(api_path) > MAX_PATH:
            raise RunRefused(
                f"MWAA InvokeRestApi: Path {api_path!r} has {len(api_path)} characters; the API "
                f"accepts at most {MAX_PATH} (for a DAG run: a DAG id of at most 50 characters)",
                public="the request cannot be sent through Amazon MWAA")
        call: dict[str, Any] = {"Name": self.name, "Path": api_path, "Method": method}
        if query:
            call["QueryParameters"] = query
        if body is not None:
            call["Body"] = body
        try:
            answer = self._call("InvokeRestApi", self.client.invoke_rest_api, call)
        except self._exceptions.ClientError as exc:
            # Airflow answered, with an error: MWAA carries its status and body.
            response = exc.response
            return Reply(int(str(response.get("RestApiStatusCode") or 502)),
                         _body(response.get("RestApiResponse")))
        return Reply(int(answer.get("RestApiStatusCode") or 200), _body(answer.get("RestApiResponse")))

    def detect_api(self, timeout: float, api: str | None = None) -> Probe:
        """From the environment's Airflow version (``GetEnvironment``): 3.x speaks ``/api/v2``;
        the version also fits the trigger body (``api``, when configured, is kept)."""
        answer = self._call("GetEnvironment", self.client.get_environment, {"Name": self.name})
        version = str(answer.get("Environment", {}).get("AirflowVersion") or "")
        major = version.split(".", 1)[0]
        if not major.isdigit():
            raise AirflowRejected(f"MWAA environment {self.name!r} reports Airflow version "
                                  f"{version!r}; set airflow.api to v1 or v2",
                                  public="Airflow's API version could not be determined")
        return Probe(api or ("v2" if int(major) >= 3 else "v1"), parse_version(version))

    def _call(self, operation: str, method: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        """One boto3 call. Airflow's own errors (RestApi*Exception) are re-raised for the caller;
        every other failure becomes the typed error that says whose fault it is."""
        errors = self._exceptions
        try:
            answer: dict[str, Any] = method(**kwargs)
            return answer
        except errors.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("RestApiClientException", "RestApiServerException"):
                raise
            raise self._aws_error(exc, operation, code) from None
        except (errors.NoCredentialsError, errors.PartialCredentialsError,
                errors.CredentialRetrievalError) as exc:
            raise AirflowAuthError(f"MWAA {operation}: no usable AWS credentials: {exc} (the "
                                   "standard AWS chain: AWS_* environment variables, web identity, "
                                   "credential_process)") from None
        except (errors.ConnectionError, errors.HTTPClientError) as exc:
            # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError
            raise AirflowUnavailable(f"MWAA {operation}: {type(exc).__name__}: {exc}") from None
        except errors.ParamValidationError as exc:
            raise AirflowRejected(f"MWAA {operation}: invalid parameters: {exc}",
                                  public="the request cannot be sent through Amazon MWAA") from None

    def _aws_error(self, exc: Any, operation: str, code: str) -> AirflowError:
        """An error answered by AWS (MWAA's API, STS), not by Airflow."""
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        error = exc.response.get("Error", {})
        message = str(error.get("Message") or error.get("message") or "")[:300]
        where = f"MWAA {operation} on environment {self.name!r}"
        if exc.operation_name not in ("InvokeRestApi", "GetEnvironment"):
            # e.g. AssumeRoleWithWebIdentity while the credential chain resolves
            return AirflowAuthError(f"{where}: getting AWS credentials failed in "
                                    f"{exc.operation_name}: {code}: {message}")
        if code == "AccessDeniedException" or status == 403:
            region = self.config.auth.region
            need = (f"airflow:InvokeRestApi on arn:aws:airflow:{region}:ACCOUNT:role/{self.name}/Op "
                    "(the Airflow role it acts as, e.g. Op; not the environment's ARN), and a "
                    "public web server (a private one is reachable only from its VPC)"
                    if operation == "InvokeRestApi" else
                    f"airflow:GetEnvironment on arn:aws:airflow:{region}:ACCOUNT:environment/"
                    f"{self.name} (for api: auto; or set airflow.api)")
            return AirflowAuthError(f"{where}: AWS denied access ({code}: {message}); "
                                    f"the IAM identity needs {need}")
        if code in _CREDENTIAL_CODES or status == 401:
            return AirflowAuthError(f"{where}: AWS refused the credentials: {code}: {message}")
        if code == "ResourceNotFoundException" or status == 404:
            return TargetNotFound(f"{where}: no such MWAA environment in {self.config.auth.region} "
                                  f"(airflow.auth.environment): {message}")
        if code in _THROTTLING_CODES or status == 429 or status >= 500:
            return AirflowServerError(f"{where}: AWS answered {status} {code}: {message}")
        return AirflowRejected(f"{where}: AWS answered {status} {code}: {message}",
                               public="Amazon MWAA rejected the request")


def _body(document: Any) -> bytes:
    """Airflow's JSON answer (a parsed document in the MWAA response) back as bytes."""
    return b"" if document is None else json.dumps(document, separators=(",", ":")).encode("utf-8")


__all__ = ["MAX_PATH", "MwaaTransport", "import_boto3", "make_client", "split_path"]
