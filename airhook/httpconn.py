"""Keep-alive HTTP(S) connections, one set per instance (Airflow, Pub/Sub, Google's tokens and
certificates), over urllib3's connection pools.

urllib3 (the pool under requests and google-auth, installed with them) rather than a pool of our
own over ``http.client``: it brings proxies, dropped-connection checks before reuse, TLS set-up and
years of fixes. Its own retries and redirects are off: callers retry within their sender's deadline
(:mod:`airhook.airflow.client`, :mod:`airhook.pubsub`), and a redirect from an API is an answer to
report, not to follow.

The price, measured by ``bench/httpconn.py`` against the ``http.client`` pool this replaced: 1.75x
its CPU per kept-alive POST (+330k instructions, roughly +60-90 us; ~10% of a delivery's CPU, while
Airflow takes tens of runs per second) and ~60 ms of CPU to import urllib3 at cold start on the
busy 2-core bench machine (nothing before: http.client and ssl come with functions-framework).
So urllib3 (and ``urllib.request``, for the proxy settings) is imported at the first request, not
at import: start-up (what Cloud Functions waits for before the first request) does without it, and
an instance that only refuses unsigned requests never loads it. Measured with ``python -X
importtime`` and the process's CPU time for ``import airhook.http`` (main.py's import), 7 paired
runs on the loaded 2-core machine: median 557 ms -> 495 ms of CPU (about -60 ms, urllib3 absent).

Proxies come from the environment as curl and requests read them (``HTTPS_PROXY``, ``HTTP_PROXY``,
``ALL_PROXY``, ``NO_PROXY``, lower-case first), once per host on first use.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit

if TYPE_CHECKING:
    import urllib3
    from urllib3.connectionpool import HTTPConnectionPool
    from urllib3.util.retry import Retry


class Unreachable(Exception):
    """No HTTP answer: refused, reset, timed out, TLS failure, proxy failure. The message names the
    URL without its credentials and query, and the cause; callers turn it into their own typed
    error."""


#: Idle connections kept per host: functions-framework runs cpu_count * 4 threads.
MAX_IDLE = 16
#: A kept-alive connection the server closed just as the request went out fails like this before
#: any answer (urllib3 notices one closed earlier while idle, and reconnects by itself).
_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError,
          BrokenPipeError, ConnectionAbortedError)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    #: lower-cased names
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


_Key = tuple[str, str, int]


@dataclass(frozen=True)
class _Route:
    """How requests reach one (scheme, host, port): a pool of our own, or a proxy manager."""

    opener: HTTPConnectionPool | urllib3.ProxyManager
    #: a proxy manager takes the whole URL (and picks the pool itself); a pool, the path
    absolute: bool


@dataclass(frozen=True)
class _Urllib3:
    """The parts of urllib3 used here, imported once, on first use (see the module docstring)."""

    error: type[Exception]
    protocol_error: type[Exception]
    #: retries and redirects off; one shared object, which urllib3 would otherwise build for every
    #: request (it never changes one in place)
    no_retries: Retry


@functools.cache
def _urllib3() -> _Urllib3:
    from urllib3.exceptions import HTTPError, ProtocolError
    from urllib3.util.retry import Retry

    return _Urllib3(HTTPError, ProtocolError, Retry(total=False, redirect=False))

#: Per thread: whether the last request went out on a connection that had already served one.
#: Set by the connection itself, which is the only place that knows.
_sent = threading.local()


class Http:
    """A thread-safe set of urllib3 keep-alive pools, one per (scheme, host, port).

    Args:
        verify_tls: True (the system's CAs), a CA bundle path, or False (no verification).
        max_idle: idle connections kept per host; more may be open at once, the extra ones are
            closed when returned.
    """

    def __init__(self, verify_tls: bool | str = True, max_idle: int = MAX_IDLE) -> None:
        self._verify = verify_tls
        self._max_idle = max_idle
        self._routes: dict[_Key, _Route] = {}
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        #: connections opened so far (tests and benchmarks: keep-alive really keeps them)
        self.opened = 0
        self._pool_classes: dict[str, type[HTTPConnectionPool]] | None = None  # on first use

    def _ssl_context(self) -> ssl.SSLContext:
        # Built on first HTTPS use (loading the system CA store is not free), and ours rather than
        # urllib3's so that SSL_CERT_FILE and the platform defaults apply as they did before.
        if self._context is None:
            if self._verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif isinstance(self._verify, str):
                context = ssl.create_default_context(cafile=self._verify)
            else:
                context = ssl.create_default_context()
            self._context = context
        return self._context

    def _pool_kw(self, scheme: str) -> dict[str, Any]:
        kw: dict[str, Any] = {"maxsize": self._max_idle, "block": False, "retries": _urllib3().no_retries}
        if scheme == "https":
            kw["ssl_context"] = self._ssl_context()
        return kw

    def _route(self, key: _Key) -> _Route:
        route = self._routes.get(key)
        if route is None:
            with self._lock:
                route = self._routes.get(key)
                if route is None:
                    route = self._routes[key] = self._new_route(key)
        return route

    def _new_route(self, key: _Key) -> _Route:
        import urllib3

        scheme, host, port = key
        if self._pool_classes is None:  # under self._lock
            self._pool_classes = _counted_pool_classes(self)
        proxy = _proxy_for(scheme, host)
        if proxy is None:
            # A pool of our own per host rather than a PoolManager: its pool-key lookup on every
            # request is CPU spent again and again on a choice made once.
            return _Route(self._pool_classes[scheme](host, port, **self._pool_kw(scheme)), False)
        proxy_url, proxy_headers = proxy
        manager = urllib3.ProxyManager(proxy_url, proxy_headers=proxy_headers, **self._pool_kw(scheme))
        manager.pool_classes_by_scheme = self._pool_classes
        return _Route(manager, True)

    def request(self, method: str, url: str, *, timeout: float, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Reply:
        """One request, answered or raising Unreachable.

        urllib3 replaces a kept-alive connection that the server closed while it idled before
        using it. One the server closes just as the request goes out (the race with its idle
        timeout) fails before any answer: that one case is retried once on a fresh connection,
        for POST too. Re-sending a trigger is safe because run ids are deterministic (the second
        POST would be a 409), and a Pub/Sub publish carries the same run id. A failure after the
        answer began is not retried here (the server has the request), nor are timeouts: the
        caller's deadline decides.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise Unreachable(f"unsupported URL {_strip(url)}")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:  # a port that is not a number
            raise Unreachable(f"unsupported URL {_strip(url)}") from None
        lib = _urllib3()
        try:
            route = self._route((scheme, parts.hostname, port))
        except (lib.error, ValueError) as exc:
            # e.g. HTTPS_PROXY=socks5://...: never the proxy URL, which may hold credentials
            raise Unreachable(f"{method} {_strip(url)}: unusable proxy setting in the environment: "
                              f"{type(exc).__name__}") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if route.absolute:
            target = _without_userinfo(parts, scheme) + target
        for attempt in (1, 2):
            _sent.reused = False
            try:
                response = route.opener.urlopen(
                    method, target, body=body, headers=headers, timeout=timeout, retries=lib.no_retries,
                    redirect=False, assert_same_host=False, preload_content=False, release_conn=False)
            except lib.protocol_error as exc:
                cause = _root(exc)
                if isinstance(cause, _STALE) and _sent.reused and attempt == 1:
                    continue
                if isinstance(cause, _STALE):
                    raise Unreachable(f"{method} {_strip(url)}: connection lost: {type(cause).__name__}") from None
                raise Unreachable(f"{method} {_strip(url)}: {_describe(exc)}") from None
            except (lib.error, OSError, http.client.HTTPException) as exc:  # refused, timeout, TLS, proxy
                raise Unreachable(f"{method} {_strip(url)}: {_describe(exc)}") from None
            try:
                data = response.read()
            except (lib.error, OSError, http.client.HTTPException) as exc:
                raise Unreachable(f"{method} {_strip(url)}: answer cut short: {_describe(exc)}") from None
            finally:
                response.release_conn()
            return Reply(response.status, data, {k.lower(): v for k, v in response.headers.items()})
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            routes, self._routes = self._routes, {}
        for route in routes.values():
            if route.absolute:  # a proxy manager
                route.opener.clear()  # type: ignore[union-attr]
            else:
                route.opener.close()  # type: ignore[union-attr]


def _counted_pool_classes(owner: Http) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes whose connections count the sockets they open on ``owner.opened`` and mark
    each request as sent on a fresh or a reused socket (:data:`_sent`)."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class _Counted:
        _served = 0

        def connect(self) -> None:
            self._served = 0
            with owner._lock:
                owner.opened += 1
            super().connect()  # type: ignore[misc]

        def request(self, *args: Any, **kwargs: Any) -> None:
            # HTTPS pools connect before the request, plain HTTP ones inside it: a socket that
            # has served nothing yet is fresh either way.
            _sent.reused = self.sock is not None and self._served > 0  # type: ignore[attr-defined]
            super().request(*args, **kwargs)  # type: ignore[misc]
            self._served += 1

    class _Quiet:
        def _put_conn(self, conn: Any) -> None:
            # More threads than idle slots: close the extra connection without urllib3's warning
            # per request ("Connection pool is full").
            if conn is not None and self.pool is not None and self.pool.full():  # type: ignore[attr-defined]
                conn.close()
                return
            super()._put_conn(conn)  # type: ignore[misc]

    class _Conn(_Counted, HTTPConnection):
        pass

    class _TlsConn(_Counted, HTTPSConnection):
        pass

    class _Pool(_Quiet, HTTPConnectionPool):
        ConnectionCls = _Conn

    class _TlsPool(_Quiet, HTTPSConnectionPool):
        ConnectionCls = _TlsConn

    return {"http": _Pool, "https": _TlsPool}


def _proxy_for(scheme: str, host: str) -> tuple[str, dict[str, str]] | None:
    """The proxy URL (without credentials) and its headers for ``scheme://host``, from the
    environment, or None for a direct connection. Credentials in the proxy URL become
    ``Proxy-Authorization``, as requests does."""
    import urllib.request

    import urllib3

    proxies = urllib.request.getproxies_environment()
    # proxy_bypass_environment is public in CPython but missing from typeshed.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not proxies or bypass(host, proxies) or _in_no_proxy_network(host, proxies):
        return None
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy:
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    parts = urlsplit(proxy)
    headers: dict[str, str] = {}
    if parts.username is not None:
        headers = urllib3.make_headers(
            proxy_basic_auth=f"{unquote(parts.username)}:{unquote(parts.password or '')}")
    return _without_userinfo(parts, parts.scheme.lower()), headers


def _in_no_proxy_network(host: str, proxies: Mapping[str, str]) -> bool:
    """An IP address inside a ``NO_PROXY`` network (``10.0.0.0/8``), which requests and curl honour
    and ``urllib.request.proxy_bypass_environment`` does not."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in proxies.get("no", "").replace(" ", "").split(","):
        if "/" in entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def _without_userinfo(parts: SplitResult, scheme: str) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def _root(exc: BaseException) -> BaseException:
    """The innermost cause: urllib3 wraps the socket's or ssl's error once or twice."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or next((a for a in exc.args if isinstance(a, BaseException)), None)
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def _describe(exc: BaseException) -> str:
    """``Type: reason`` of the innermost cause. Built from the cause, never from urllib3's own
    message, which may name a proxy URL and so its credentials."""
    cause = _root(exc)
    if isinstance(cause, ssl.SSLError):
        text = getattr(cause, "verify_message", None) or cause.reason or str(cause)
    elif isinstance(cause, OSError) and cause.strerror:
        text = f"[Errno {cause.errno}] {cause.strerror}" if cause.errno else cause.strerror
    elif isinstance(cause, _urllib3().error):
        doc = type(cause).__doc__
        text = doc.strip().splitlines()[0] if doc else ""
    else:
        text = str(cause)
    return f"{type(cause).__name__}: {text[:200]}"


def google_request(pool: Http) -> Any:
    """A ``google.auth.transport.Request`` over ``pool``, so token refreshes share its keep-alive
    connections and proxy settings. google-auth is imported here, on first use."""
    from google.auth import exceptions, transport

    class _Response(transport.Response):
        def __init__(self, reply: Reply) -> None:
            self._reply = reply

        @property
        def status(self) -> int:
            return self._reply.status

        @property
        def headers(self) -> Mapping[str, str]:
            return self._reply.headers

        @property
        def data(self) -> bytes:
            return self._reply.body

    class _Request(transport.Request):
        def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                     timeout: Any = None, **kwargs: Any) -> _Response:
            data = body.encode("utf-8") if isinstance(body, str) else body
            try:
                return _Response(pool.request(method, url, timeout=float(timeout or 30), body=data,
                                              headers=headers))
            except Unreachable as exc:
                raise exceptions.TransportError(str(exc)) from None

    return _Request()


def _strip(url: str) -> str:
    """``url`` for a message: scheme, host, port and path; never its userinfo, query or fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if not parts.scheme or not parts.hostname:
        return url.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    return _without_userinfo(parts, parts.scheme.lower()) + parts.path
