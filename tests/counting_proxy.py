"""`CountingProxy`: an HTTP/1.1 reverse proxy in a background thread, between a client and a
real `fwtrack server`, that records every request by kind (the log upload, `blobs/missing`,
packs, streamed blobs, the file manifest, ...), can hold requests of a kind before forwarding
them (to make an upload slow enough to interrupt), and can answer a request itself (a `429`).

The client under test talks to `proxy.url`; the proxy opens a fresh upstream connection per
request, so a server that is killed and restarted on the same port is reached again at once
(meanwhile the client gets `502`).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["CountingProxy", "Seen", "kind_of"]


@dataclass(frozen=True)
class Seen:
    """One request as the proxy handled it (`status` 0: the client hung up first)."""

    kind: str
    method: str
    path: str
    status: int
    at: float
    forwarded: bool
    size: int
    """Bytes of the request body."""
    authorized: bool = False
    """The request carried an `Authorization` header."""


def kind_of(method: str, path: str) -> str:
    """`log`, `offset`, `missing`, `pack`, `put`, `manifest`, `viewer`, or `other`."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[:2] == ["api", "v1"] and parts[2:3] == ["viewer"]:
        return "viewer"
    if parts[:3] != ["api", "v1", "runs"] or len(parts) < 7:
        return "other"
    rest = parts[6:]
    if rest == ["log"]:
        return "log"
    if rest == ["log", "offset"]:
        return "offset"
    if rest == ["blobs", "missing"] and method == "POST":
        return "missing"
    if rest == ["blobs"] and method == "POST":
        return "pack"
    if len(rest) == 2 and rest[0] == "blobs" and method == "PUT":
        return "put"
    if rest == ["files"] and method == "POST":
        return "manifest"
    return "other"


Answer = tuple[int, dict[str, str], bytes]


class CountingProxy:
    """Forwards to `127.0.0.1:<upstream_port>`. `hold(kind)` gives the seconds to wait before
    forwarding a request of that kind; `answer(kind)` may answer it instead (status, headers,
    body), or return None to forward it."""

    def __init__(
        self,
        upstream_port: int,
        *,
        hold: Callable[[str], float] | None = None,
        answer: Callable[[str], Answer | None] | None = None,
    ) -> None:
        self.upstream_port = upstream_port
        self.hold = hold or (lambda kind: 0.0)
        self.answer = answer or (lambda kind: None)
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    parts = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(parts)
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _relay(self) -> None:
                body = self._body()
                kind = kind_of(self.command, self.path)
                canned = proxy.answer(kind)
                status, headers, data, forwarded = 0, {}, b"", False
                if canned is not None:
                    status, headers, data = canned
                else:
                    delay = proxy.hold(kind)
                    if delay > 0:
                        time.sleep(delay)
                    status, headers, data, forwarded = self._forward(body)
                # Recorded before the client gets the answer, so a test that has its answer
                # also finds it counted; taken back to status 0 if the client hung up.
                authorized = "Authorization" in self.headers
                seen = Seen(
                    kind, self.command, self.path, status, time.monotonic(), forwarded,
                    len(body), authorized,
                )  # fmt: skip
                proxy._record(seen)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    proxy._replace(seen, replace(seen, status=0))

            def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes, bool]:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("connection", "transfer-encoding", "content-length")
                }
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    keep = {
                        k: v
                        for k, v in resp.getheaders()
                        if k.lower()
                        not in ("connection", "transfer-encoding", "content-length", "keep-alive")
                    }
                    return resp.status, keep, data, True
                except (OSError, http.client.HTTPException) as exc:
                    detail = f'{{"detail": "upstream unreachable: {type(exc).__name__}"}}'
                    return 502, {"Content-Type": "application/json"}, detail.encode(), False
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="counting-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def _replace(self, old: Seen, new: Seen) -> None:
        with self._lock:
            at = next(i for i in range(len(self._seen) - 1, -1, -1) if self._seen[i] is old)
            self._seen[at] = new

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def count(self, *kinds: str, status: int | None = None) -> int:
        """How many requests of these kinds (all kinds when none) were answered (with
        `status`, when given)."""
        return sum(
            1
            for s in self.seen
            if (not kinds or s.kind in kinds) and (status is None or s.status == status)
        )

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 120) -> None:
        """Poll `check` until it holds; AssertionError naming `what` after `timeout` s."""
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.seen[-5:]}"
            time.sleep(0.01)
