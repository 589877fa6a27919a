"""airhook.httpconn against real sockets on 127.0.0.1: a scripted HTTP/1.1 server (plain or TLS)
that can answer, drop a kept-alive connection, hang or cut an answer short, and a forward proxy
(absolute URIs and CONNECT tunnels). No mocks: urllib3 and ssl do everything for real."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import logging
import select
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from airhook.httpconn import Http, Unreachable, _strip, google_request

# ---------------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Tls:
    ca: Path
    server: ssl.SSLContext


def make_tls(directory: Path, names: list[x509.GeneralName]) -> Tls:
    """A throw-away CA and a leaf for ``names`` (the certificate a private Airflow would serve)."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airhook test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airhook test")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "leaf.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "leaf.pem", directory / "leaf.key")
    return Tls(directory / "ca.pem", context)


LOOPBACK = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"), LOOPBACK)


# ---------------------------------------------------------------------------------- the server

#: What the server does with one request: answer and keep the connection; answer, then close it
#: while it idles; close it without answering (a keep-alive race lost); never answer; send half
#: the promised body and close; answer a redirect.
Action = str
Script = Callable[[int, int], Action]  # (connection number, request number on it) -> Action


@dataclass
class Seen:
    connection: int
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    script: Script
    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                number = self.connections
                self.connections += 1
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            reader = sock.makefile("rb")
            for index in range(1000):
                line = reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length") or 0))
                self.seen.append(Seen(number, method, target, headers, body))
                action = self.script(number, index)
                if action == "drop":
                    return
                if action == "hang":
                    self._stop.wait(10)
                    return
                if action == "cut":
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":")
                    return
                if action == "redirect":
                    sock.sendall(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
                    continue
                data = json.dumps({"connection": number, "request": index}).encode()
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Answer: Yes\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
                if action == "close-idle":
                    time.sleep(0.05)  # the answer is out; the connection dies while it idles
                    return
        except (OSError, ValueError):
            return
        finally:
            sock.close()

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def serve(tls: Tls) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(script: Script = lambda c, r: "ok", *, https: bool = False) -> Server:
        server = Server(script, tls.server if https else None)
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------- keep-alive


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_requests_share_one_kept_alive_connection(serve: Callable[..., Server], tls: Tls,
                                                  https: bool, method: str) -> None:
    server = serve(https=https)
    pool = Http(str(tls.ca))
    replies = [pool.request(method, f"{server.url}/api/v2/dags/d/dagRuns?limit=1", timeout=5,
                            body=b'{"n":%d}' % i if method == "POST" else None,
                            headers={"Content-Type": "application/json"}) for i in range(5)]
    assert [r.status for r in replies] == [200] * 5
    assert [r.json() for r in replies] == [{"connection": 0, "request": i} for i in range(5)]
    assert replies[0].headers["x-answer"] == "Yes"  # names lower-cased
    assert server.connections == 1 and pool.opened == 1
    assert [s.target for s in server.seen] == ["/api/v2/dags/d/dagRuns?limit=1"] * 5
    if method == "POST":
        assert [s.body for s in server.seen] == [b'{"n":%d}' % i for i in range(5)]
        assert server.seen[0].headers["content-type"] == "application/json"
    pool.close()


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_connection_closed_while_idle_is_replaced_before_sending(
        serve: Callable[..., Server], tls: Tls, https: bool, method: str) -> None:
    # The server closes after answering (an idle timeout): urllib3 sees the dead socket before
    # reuse, so the request goes out once, on a new connection.
    server = serve(lambda c, r: "close-idle", https=https)
    pool = Http(str(tls.ca))
    pool.request(method, server.url + "/a", timeout=5, body=b"{}" if method == "POST" else None)
    time.sleep(0.2)
    reply = pool.request(method, server.url + "/b", timeout=5, body=b"{}" if method == "POST" else None)
    assert reply.json() == {"connection": 1, "request": 0}
    assert [(s.connection, s.target) for s in server.seen] == [(0, "/a"), (1, "/b")]
    assert pool.opened == 2


# A kept-alive connection that the server closes just as the request goes out (the race with its
# idle timeout): no answer at all, so the request is sent again, once, on a new connection, for
# POST as well (a repeated trigger is a 409: run ids are deterministic).
STALE_CASES = [
    # (what the server does per (connection, request), method, expected outcome, requests seen)
    ({(0, 0): "ok", (0, 1): "drop"}, "POST", "retried", [(0, "/1"), (0, "/2"), (1, "/2")]),
    ({(0, 0): "ok", (0, 1): "drop"}, "GET", "retried", [(0, "/1"), (0, "/2"), (1, "/2")]),
    # a fresh connection dropped: the server's own doing, reported, not retried
    ({(0, 0): "drop"}, "POST", "connection lost: RemoteDisconnected", [(0, "/1")]),
    # once only: the retry on a fresh connection is dropped too
    ({(0, 0): "ok", (0, 1): "drop", (1, 0): "drop"}, "POST", "connection lost: RemoteDisconnected",
     [(0, "/1"), (0, "/2"), (1, "/2")]),
    # the answer had begun: the server has the request, not sent again
    ({(0, 0): "ok", (0, 1): "cut"}, "POST", "answer cut short", [(0, "/1"), (0, "/2")]),
]


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("actions, method, outcome, seen", STALE_CASES)
def test_a_kept_alive_connection_lost_before_any_answer_is_retried_once(
        serve: Callable[..., Server], tls: Tls, https: bool, actions: dict[tuple[int, int], str],
        method: str, outcome: str, seen: list[tuple[int, str]]) -> None:
    server = serve(lambda c, r: actions.get((c, r), "ok"), https=https)
    pool = Http(str(tls.ca))
    body = b'{"dag_run_id":"x"}' if method == "POST" else None
    if (0, 0) in actions and actions[(0, 0)] == "ok":
        assert pool.request(method, server.url + "/1", timeout=5, body=body).status == 200
        time.sleep(0.05)  # nothing to notice: the connection is alive while it idles
    target = "/2" if actions.get((0, 0)) == "ok" else "/1"
    if outcome == "retried":
        assert pool.request(method, server.url + target, timeout=5, body=body).json() == {
            "connection": 1, "request": 0}
    else:
        with pytest.raises(Unreachable, match=outcome):
            pool.request(method, server.url + target, timeout=5, body=body)
    assert [(s.connection, s.target) for s in server.seen] == seen
    if method == "POST":
        assert {s.body for s in server.seen} == {body}


# ---------------------------------------------------------------------------------- failures


@pytest.mark.parametrize("reused", [False, True], ids=["fresh", "reused"])
def test_a_timeout_is_unreachable_and_not_retried(serve: Callable[..., Server], reused: bool) -> None:
    server = serve(lambda c, r: "ok" if reused and r == 0 else "hang")
    pool = Http()
    if reused:
        pool.request("GET", server.url + "/warm", timeout=5)
    started = time.monotonic()
    with pytest.raises(Unreachable, match=r"POST http://127\.0\.0\.1:\d+/trigger: TimeoutError: timed out"):
        pool.request("POST", server.url + "/trigger", timeout=0.3, body=b"{}")
    assert time.monotonic() - started < 2.5
    assert [s.target for s in server.seen].count("/trigger") == 1


def test_a_refused_connection_is_unreachable() -> None:
    with pytest.raises(Unreachable, match="ConnectionRefusedError"):
        Http().request("GET", f"http://127.0.0.1:{free_port()}/api/v2/version", timeout=2)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http:///nohost", "http://127.0.0.1:notaport/x"])
def test_an_unsupported_url_is_unreachable(url: str) -> None:
    with pytest.raises(Unreachable, match="unsupported URL"):
        Http().request("GET", url, timeout=1)


def test_non_2xx_answers_are_replies_and_redirects_are_not_followed(serve: Callable[..., Server]) -> None:
    server = serve(lambda c, r: "redirect")
    reply = Http().request("POST", server.url + "/dags/d/dagRuns", timeout=5, body=b"{}")
    assert (reply.status, reply.headers["location"], reply.body) == (302, "/elsewhere", b"")
    assert [s.target for s in server.seen] == ["/dags/d/dagRuns"]


# ---------------------------------------------------------------------------------- TLS


def test_tls_verification_per_target(serve: Callable[..., Server], tls: Tls,
                                     tmp_path: Path) -> None:
    server = serve(https=True)
    assert Http(str(tls.ca)).request("GET", server.url + "/", timeout=5).status == 200
    with pytest.raises(Unreachable, match="SSLCertVerificationError: .*(self-signed|local issuer)"):
        Http(True).request("GET", server.url + "/", timeout=5)  # the system CAs do not know ours
    other = make_tls(tmp_path, LOOPBACK)
    with pytest.raises(Unreachable, match="SSLCertVerificationError"):
        Http(str(other.ca)).request("GET", server.url + "/", timeout=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning: verify_tls: false is asked for
        assert Http(False).request("GET", server.url + "/", timeout=5).status == 200


def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    wrong = make_tls(tmp_path, [x509.DNSName("airflow.example.com")])
    server = Server(lambda c, r: "ok", wrong.server)
    try:
        with pytest.raises(Unreachable, match="SSLCertVerificationError: .*(mismatch|match)"):
            Http(str(wrong.ca)).request("GET", server.url + "/", timeout=5)
    finally:
        server.stop()


def test_plain_http_to_a_tls_port_is_unreachable(serve: Callable[..., Server]) -> None:
    server = serve(https=True)
    with pytest.raises(Unreachable):
        Http().request("GET", server.url.replace("https", "http") + "/", timeout=2)


# ---------------------------------------------------------------------------------- no secrets in messages

SECRET_URLS = [
    "http://admin:s3cr3t@127.0.0.1:{port}/api/v2/dags?token=s3cr3t",
    "https://admin:s3cr3t@127.0.0.1:{port}/p?access_token=s3cr3t#s3cr3t",
    "http://127.0.0.1:{port}/p?key=s3cr3t",
]


@pytest.mark.parametrize("template", SECRET_URLS)
@pytest.mark.parametrize("failure", ["refused", "timeout", "tls"])
def test_unreachable_never_names_credentials_or_query(serve: Callable[..., Server], template: str,
                                                      failure: str) -> None:
    if failure == "refused":
        port = free_port()
    else:
        port = serve(lambda c, r: "hang", https=failure == "tls").port
    url = template.format(port=port)
    if failure == "tls":
        url = url.replace("http://", "https://")
    with pytest.raises(Unreachable) as caught:
        Http().request("POST", url, timeout=0.3, body=b"{}")
    message = str(caught.value)
    assert "s3cr3t" not in message and "admin" not in message and "?" not in message
    assert f"127.0.0.1:{port}/" in message


@pytest.mark.parametrize("url, shown", [
    ("https://u:p@host:8443/a/b?q=1#f", "https://host:8443/a/b"),
    ("http://host/x?token=t", "http://host/x"),
    ("https://[::1]:9/p", "https://[::1]:9/p"),
    ("nonsense?token=t", "nonsense"),
    ("u:p@nohost?x", "nohost"),
])
def test_urls_in_messages_lose_userinfo_query_and_fragment(url: str, shown: str) -> None:
    assert _strip(url) == shown


# ---------------------------------------------------------------------------------- proxies


@dataclass
class Proxy:
    """A forward proxy: absolute-URI requests are answered by the proxy itself (what matters is
    that they came here); CONNECT is tunnelled to the target for real."""

    lines: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            reader = sock.makefile("rb")
            while line := reader.readline():
                request = line.decode("latin-1").strip()
                headers: dict[str, str] = {}
                while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                self.lines.append(request)
                self.authorizations.append(headers.get("proxy-authorization", ""))
                method, target, _ = request.split(" ")
                if method == "CONNECT":
                    host, port = target.rsplit(":", 1)
                    upstream = socket.create_connection((host, int(port)))
                    sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    self._pipe(sock, upstream)
                    return
                reader.read(int(headers.get("content-length") or 0))
                data = b'{"via": "proxy"}'
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with b, contextlib.suppress(OSError):  # either side may reset (a refused certificate)
            while True:
                ready, _, _ = select.select([a, b], [], [], 5)
                if not ready:
                    return
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)

    def stop(self) -> None:
        self._listener.close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    server = Proxy()
    yield server
    server.stop()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_plain_http_goes_through_the_environment_s_proxy(proxy: Proxy, variable: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                 "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, f"http://proxyuser:pr0xy@127.0.0.1:{proxy.port}")
    pool = Http()
    for _ in range(2):
        reply = pool.request("POST", "http://u:p@airflow.internal:8080/api/v2/dags/d/dagRuns?x=1",
                             timeout=5, body=b"{}")
        assert reply.json() == {"via": "proxy"}
    # the target's credentials never leave; the proxy's go in Proxy-Authorization
    assert proxy.lines == ["POST http://airflow.internal:8080/api/v2/dags/d/dagRuns?x=1 HTTP/1.1"] * 2
    assert proxy.authorizations == ["Basic cHJveHl1c2VyOnByMHh5"] * 2  # proxyuser:pr0xy
    assert pool.opened == 1  # kept alive to the proxy


def test_https_is_tunnelled_through_the_proxy_and_verified_end_to_end(
        proxy: Proxy, serve: Callable[..., Server], tls: Tls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    server = serve(https=True)
    pool = Http(str(tls.ca))
    assert [pool.request("GET", server.url + "/x", timeout=5).status for _ in range(3)] == [200] * 3
    # one tunnel, kept alive (http.client asks for it in HTTP/1.0)
    assert [line.rsplit(" ", 1)[0] for line in proxy.lines] == [f"CONNECT 127.0.0.1:{server.port}"]
    assert server.connections == 1
    with pytest.raises(Unreachable, match="SSLCertVerificationError"):
        Http(True).request("GET", server.url + "/x", timeout=5)  # the tunnel does not skip TLS


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*", "10.0.0.0/8, 127.0.0.0/8"])
def test_no_proxy_hosts_are_reached_directly(proxy: Proxy, serve: Callable[..., Server], no_proxy: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    server = serve()
    assert Http().request("GET", server.url + "/direct", timeout=5).json() == {"connection": 0, "request": 0}
    assert proxy.lines == [] and [s.target for s in server.seen] == ["/direct"]


def test_an_unreachable_proxy_names_neither_its_credentials_nor_the_query(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for variable in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, f"http://proxyuser:pr0xy@127.0.0.1:{free_port()}")
    for url in ("http://airflow.internal/api?token=t0k", "https://airflow.internal/api?token=t0k"):
        with pytest.raises(Unreachable) as caught:
            Http().request("GET", url, timeout=2)
        message = str(caught.value)
        assert "pr0xy" not in message and "proxyuser" not in message and "t0k" not in message
        assert message.startswith(f"GET {url.split('?')[0]}: ")


# ---------------------------------------------------------------------------------- concurrency


def test_more_threads_than_idle_slots_all_answered_quietly(serve: Callable[..., Server],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    server = serve()
    pool = Http(max_idle=2)
    results: list[int] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(10):
            results.append(pool.request("POST", server.url + "/t", timeout=5, body=b"{}").status)

    with caplog.at_level(logging.WARNING):
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [200] * 80
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
    opened = pool.opened
    for _ in range(5):
        pool.request("GET", server.url + "/after", timeout=5)
    assert pool.opened == opened  # sequential requests reuse what was kept


# ---------------------------------------------------------------------------------- google-auth


def test_google_request_speaks_google_auth_s_transport(serve: Callable[..., Server]) -> None:
    from google.auth import exceptions

    server = serve()
    request = google_request(Http())
    response = request(server.url + "/token", method="POST", body="grant_type=x",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert response.status == 200 and json.loads(response.data) == {"connection": 0, "request": 0}
    assert server.seen[0].body == b"grant_type=x"
    with pytest.raises(exceptions.TransportError, match="ConnectionRefusedError"):
        request(f"http://127.0.0.1:{free_port()}/token?secret=1", method="POST", timeout=2)


@pytest.mark.parametrize("setting", ["socks5://proxyuser:pr0xy@127.0.0.1:1080", "http://proxyuser:pr0xy@[::1"])
def test_an_unusable_proxy_setting_is_unreachable_without_its_credentials(
        setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", setting)
    with pytest.raises(Unreachable, match="unusable proxy setting") as caught:
        Http().request("GET", "https://airflow.internal/api/v2/version", timeout=2)
    assert "pr0xy" not in str(caught.value)
