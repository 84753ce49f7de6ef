"""The test balancer (tests/balancer.py) over real HTTP servers: connections go round-robin, a
backend that refuses is skipped, cuts are reproducible from the seed."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from balancer import Balancer
from server.harness import free_port


class _Named(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a connection stays until the client closes it

    def do_GET(self) -> None:
        body = self.server.name.encode() * (1 + int(self.path.strip("/") or 0))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backends() -> Iterator[list[int]]:
    """Two HTTP servers answering `GET /N` with their name repeated N+1 times."""
    servers = []
    for name in ("a", "b"):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Named)
        srv.name = name  # type: ignore[attr-defined]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    yield [s.server_address[1] for s in servers]
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _get(port: int, path: str = "/0") -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def test_each_new_connection_goes_to_the_next_backend(backends: list[int]) -> None:
    with Balancer(backends) as lb:
        assert [_get(lb.port) for _ in range(6)] == [b"a", b"b"] * 3
        assert lb.counts()["backend0"] == lb.counts()["backend1"] == 3
        # The closed connections leave the balancer's books once it has seen them end.
        _eventually(lambda: (lb.live(0), lb.live(1)) == (0, 0))
        kept = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
        try:
            kept.request("GET", "/0")
            assert kept.getresponse().read() == b"a"
            assert (lb.live(0), lb.live(1)) == (1, 0)
        finally:
            kept.close()


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.01)


def test_a_backend_that_refuses_is_skipped(backends: list[int]) -> None:
    with Balancer([backends[0], free_port(), backends[1]]) as lb:
        assert [_get(lb.port) for _ in range(3)] == [b"a", b"b", b"b"]
        assert lb.counts()["refused1"] == 1
    with Balancer([free_port()]) as lb, pytest.raises((ConnectionError, http.client.HTTPException)):
        _get(lb.port)


def _outcomes(port: int) -> list[bool]:
    out = []
    for _ in range(40):
        try:
            out.append(len(_get(port, "/5000")) == 5001)
        except (ConnectionError, http.client.HTTPException):
            out.append(False)
    return out


def test_cuts_are_chosen_by_the_seed(backends: list[int]) -> None:
    with Balancer(backends, seed=3, cut_rate=0.5, max_cut_bytes=4000) as lb:
        first = _outcomes(lb.port)
        cuts = lb.counts()["cut"]
    with Balancer(backends, seed=3, cut_rate=0.5, max_cut_bytes=4000) as lb:
        assert _outcomes(lb.port) == first
    assert 0 < cuts < 40
    assert first.count(False) == cuts
    with Balancer(backends, seed=3, cut_rate=0.5, max_cut_bytes=4000) as lb:
        lb.pause_cuts()
        assert all(_outcomes(lb.port))
