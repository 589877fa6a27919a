"""A raw HTTP/1.1 client on a socket: sends exactly the bytes a test writes (bad framing, obs-fold,
NULs, non-ASCII header bytes, pipelining) and reads whatever comes back, bounded in time."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass

_STATUS = re.compile(rb"HTTP/\d\.\d (\d{3})")


@dataclass
class RawResponse:
    statuses: list[int]
    data: bytes
    elapsed: float

    @property
    def status(self) -> int | None:
        return self.statuses[0] if self.statuses else None


def build(method: str | bytes, target: str | bytes, headers: list[tuple[bytes | str, bytes | str]],
          body: bytes = b"", *, version: bytes = b"HTTP/1.1", framing: str = "length",
          chunks: list[int] | None = None, host: bool = True) -> bytes:
    """One request. ``framing``: ``length`` (Content-Length), ``chunked`` (split by ``chunks``
    sizes, or 7-byte chunks), or ``none`` (no framing header)."""
    def b(value: bytes | str) -> bytes:
        return value if isinstance(value, bytes) else value.encode("latin-1")

    lines = [b(method) + b" " + b(target) + b" " + version]
    if host:
        lines.append(b"Host: 127.0.0.1")
    lines += [b(k) + b": " + b(v) for k, v in headers]
    payload = body
    if framing == "length":
        lines.append(b"Content-Length: " + str(len(body)).encode())
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        sizes = list(chunks or [])
        parts, pos = [], 0
        while pos < len(body):
            size = sizes.pop(0) if sizes else 7
            piece = body[pos:pos + max(1, size)]
            parts.append(f"{len(piece):x}".encode() + b"\r\n" + piece + b"\r\n")
            pos += len(piece)
        payload = b"".join(parts) + b"0\r\n\r\n"
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


def send(port: int, data: bytes, *, timeout: float = 10.0, half_close: bool = False,
         expect: int = 1, pause_after: float = 0.0) -> RawResponse:
    head_only = data.startswith(b"HEAD ")
    """Send ``data``; read until ``expect`` responses are in, the server closes, or ``timeout``."""
    started = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if pause_after:
                time.sleep(pause_after)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close early (e.g. after a 413): read what it said
        deadline = started + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except OSError:
                break
            if not chunk:
                break
            received += chunk
            if _walk(received, head_only)[1] >= expect:
                break
    return RawResponse(_walk(received, head_only)[0], received, time.monotonic() - started)


def _walk(data: bytes, head_only: bool = False) -> tuple[list[int], int]:
    """(statuses of the responses in ``data``, how many are complete); Content-Length framed,
    interim 100-continue answers skipped, a trailing partial response's status included."""
    statuses: list[int] = []
    count, pos = 0, 0
    while True:
        head_end = data.find(b"\r\n\r\n", pos)
        if head_end < 0:
            return statuses, count
        head = data[pos:head_end]
        match = _STATUS.match(head)
        if match is None:
            return statuses, count
        if match.group(1) == b"100":
            pos = head_end + 4
            continue
        statuses.append(int(match.group(1)))
        length_match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        end = head_end + 4 + (int(length_match.group(1)) if length_match and not head_only else 0)
        if len(data) < end:
            return statuses, count
        count += 1
        pos = end

