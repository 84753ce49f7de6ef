"""Self-tests of the server test harness: PostgreSQL fixture, fault proxy, server processes."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest

from .conftest import ProxyFactory, ServerFactory
from .harness import (
    DELAY,
    DROP_AFTER,
    DROP_BEFORE,
    ERROR_500,
    FAULTS,
    RESET,
    THROTTLE_429,
    FaultProxy,
    PostgresCluster,
    ServerProcess,
    free_port,
)


def test_postgres_select_1(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://postgres@127.0.0.1:")
    assert postgres_url.endswith("/fwtrack_test")
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_fresh_postgres_db_is_new_and_empty(
    fresh_postgres_db: str, postgres_url: str, postgres_cluster: PostgresCluster
) -> None:
    assert fresh_postgres_db != postgres_url
    with psycopg.connect(fresh_postgres_db) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (x int)")
    # A second database of its own does not see this one's table.
    other = postgres_cluster.create_database()
    try:
        with psycopg.connect(other) as conn:
            assert conn.execute("SELECT to_regclass('public.t')").fetchone() == (None,)
    finally:
        postgres_cluster.drop_database(other.rsplit("/", 1)[1])


# --------------------------------------------------------------------------------------------
# FaultProxy against a tiny stdlib HTTP server


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[bytes] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        assert isinstance(self.server, _Upstream)
        with self.server.lock:
            self.server.received.append(body)
        answer = b"got " + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self) -> None:
        # No Content-Length: chunked body, as streaming responses are sent.
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b"hello ", b"chunked ", b"world"):
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    srv = _Upstream()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


def _post(
    port: int, body: bytes, conn: http.client.HTTPConnection | None = None
) -> tuple[int, bytes, dict[str, str]]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/x", body=body, headers={"Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        if own:
            conn.close()


def _only(name: str) -> dict[str, float]:
    return {name: 1.0}


def test_proxy_passes_through_with_keep_alive(
    upstream: _Upstream, fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(upstream.port, rates={})
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    for i in range(5):
        assert _post(proxy.port, b"x" * i * 1000, conn)[:2] == (200, b"got " + b"x" * i * 1000)
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"hello chunked world")
    conn.close()
    counts = proxy.counts
    assert counts["connections"] == 1
    assert counts["requests"] == counts["pass"] == 6
    assert len(upstream.received) == 5


def test_proxy_large_body(upstream: _Upstream, fault_proxy: ProxyFactory) -> None:
    proxy = fault_proxy(upstream.port, rates={})
    body = bytes(range(256)) * 40_000  # ~10 MB
    status, answer, _ = _post(proxy.port, body)
    assert status == 200
    assert answer == b"got " + body


def test_proxy_error_500_and_429_never_reach_the_server(
    upstream: _Upstream, fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(upstream.port, rates=_only(ERROR_500))
    status, body, _ = _post(proxy.port, b"a")
    assert status == 500
    assert b"injected" in body
    proxy.set_rates(_only(THROTTLE_429))
    status, _, headers = _post(proxy.port, b"b")
    assert status == 429
    assert headers["retry-after"] == "1"
    assert upstream.received == []
    assert proxy.counts[ERROR_500] == proxy.counts[THROTTLE_429] == 1


def test_proxy_drop_before_loses_the_request(
    upstream: _Upstream, fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(upstream.port, rates=_only(DROP_BEFORE))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _post(proxy.port, b"lost")
    assert upstream.received == []


def test_proxy_drop_after_loses_only_the_answer(
    upstream: _Upstream, fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(upstream.port, rates=_only(DROP_AFTER))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _post(proxy.port, b"done but unanswered")
    assert upstream.received == [b"done but unanswered"]


def test_proxy_reset_sends_rst(upstream: _Upstream, fault_proxy: ProxyFactory) -> None:
    proxy = fault_proxy(upstream.port, rates=_only(RESET), seed=1)
    for i in range(6):
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
            _post(proxy.port, str(i).encode())
    assert proxy.counts[RESET] == 6
    # Some resets came after forwarding (the server got those), some before.
    assert 0 < len(upstream.received) < 6


def test_proxy_delay_then_pass(upstream: _Upstream, fault_proxy: ProxyFactory) -> None:
    proxy = fault_proxy(upstream.port, rates=_only(DELAY), max_delay=0.05)
    assert _post(proxy.port, b"slow")[:2] == (200, b"got slow")
    assert proxy.counts[DELAY] == 1


def test_proxy_set_mode_pass(upstream: _Upstream, fault_proxy: ProxyFactory) -> None:
    proxy = fault_proxy(upstream.port, rates=_only(ERROR_500))
    assert _post(proxy.port, b"a")[0] == 500
    proxy.set_mode("pass")
    assert _post(proxy.port, b"b")[0] == 200
    proxy.set_mode("faults")
    assert _post(proxy.port, b"c")[0] == 500


def _mixed_run(upstream_port: int, seed: int) -> list[str]:
    outcomes = []
    with FaultProxy(upstream_port, seed=seed, max_delay=0.01) as proxy:
        for i in range(40):
            try:
                status, _, _ = _post(proxy.port, str(i).encode())
                outcomes.append(str(status))
            except (ConnectionError, http.client.HTTPException):
                outcomes.append("error")
        counts = proxy.counts
    assert counts["requests"] == 40
    assert sum(counts.get(name, 0) for name in (*FAULTS, "pass")) == 40
    return outcomes


def test_proxy_mixed_faults_are_seeded(upstream: _Upstream) -> None:
    first = _mixed_run(upstream.port, seed=7)
    second = _mixed_run(upstream.port, seed=7)
    assert first == second
    assert {"200", "500", "429", "error"} <= set(first)


def test_proxy_unreachable_upstream_closes_the_connection(fault_proxy: ProxyFactory) -> None:
    proxy = fault_proxy(free_port(), rates={})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _post(proxy.port, b"nobody home")
    assert proxy.counts["upstream_error"] == 1


def test_proxy_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FaultProxy(1, rates={"explode": 0.1})
    with pytest.raises(ValueError, match="sum to <= 1"):
        FaultProxy(1, rates={ERROR_500: 0.7, THROTTLE_429: 0.7})


# --------------------------------------------------------------------------------------------
# ServerProcess against the real server


def _health(url: str) -> int:
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
    try:
        conn.request("GET", "/api/v1/health")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _viewer(srv: ServerProcess) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("GET", "/api/v1/viewer", headers=srv.headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_server_fixture_kill9_restart(server: ServerProcess) -> None:
    assert _health(server.url) == 200
    assert _viewer(server) == 200  # the seeded admin key works
    port = server.port
    server.kill9()
    assert not server.running
    with pytest.raises(ConnectionRefusedError):
        _health(server.url)
    server.restart()
    assert server.port == port
    assert _health(server.url) == 200
    assert _viewer(server) == 200
    assert server.log_text().count("=== start #") == 2


def test_server_with_workers_on_postgres(
    server_factory: ServerFactory, fresh_postgres_db: str
) -> None:
    srv = server_factory(db_url=fresh_postgres_db, workers=2)
    assert _viewer(srv) == 200
    srv.kill9()  # the whole process group: no worker keeps the port
    srv.restart()
    assert _viewer(srv) == 200
    srv.stop()
    assert not srv.running


def test_server_start_failure_shows_the_log(server_factory: ServerFactory) -> None:
    srv = server_factory(start=False, db_url="postgresql://nobody@127.0.0.1:1/none")
    srv.start_timeout = 30
    with pytest.raises(RuntimeError, match=r"exited with|did not answer") as info:
        srv.start()
    # The error carries the server's own output (its last lines name the problem).
    assert srv.log_text().strip()[-200:] in str(info.value)
