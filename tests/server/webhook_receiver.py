"""A real HTTP receiver of webhook deliveries for the tests: an `http.server` in a thread on
127.0.0.1 that records every request and answers by plan (a status per request, or `HOLD`:
keep the request waiting until `release()`).

`Receiver(listen=False)` binds its port without listening: a connection to it is refused
until `listen()` (a receiver that is down, on a port nobody else can take meanwhile).
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HOLD = "hold"
"""Answer nothing until `release()` (then 200)."""


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]  # lowercased names
    body: bytes
    at: float  # time.time() at arrival
    answered: int | str

    def json(self) -> Any:
        return json.loads(self.body)

    def verifies(self, secret: str) -> bool:
        """Whether the signature header is the HMAC-SHA256 of `"{timestamp}.{body}"` with
        `secret`, computed here independently of the server's code."""
        timestamp = self.headers["x-fwtrack-timestamp"]
        expected = hmac.new(
            secret.encode(), timestamp.encode() + b"." + self.body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(self.headers["x-fwtrack-signature-256"], f"sha256={expected}")


class Receiver:
    """Records requests and answers them by `plan` (then `then` for every later request)."""

    def __init__(
        self, plan: Sequence[int | str] = (), then: int | str = 200, *, listen: bool = True
    ) -> None:
        self.plan = list(plan)
        self.then = then
        self.requests: list[Received] = []
        self.holding = 0  # requests waiting for release()
        self._cond = threading.Condition()
        self._released = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), Handler, bind_and_activate=False
        )
        self._server.daemon_threads = True
        self._server.server_bind()
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        if listen:
            self.listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def listen(self) -> None:
        """Start accepting connections (refused until now)."""
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        with self._cond:
            answer = self.plan.pop(0) if self.plan else self.then
            self.requests.append(
                Received(
                    handler.path,
                    {k.lower(): v for k, v in handler.headers.items()},
                    body,
                    time.time(),
                    answer,
                )
            )
            if answer == HOLD:
                self.holding += 1
            self._cond.notify_all()
        status = 200
        if answer == HOLD:
            self._released.wait(60)
            with self._cond:
                self.holding -= 1
                self._cond.notify_all()
        else:
            assert isinstance(answer, int)
            status = answer
        text = f"answer {status}".encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(text)))
        handler.end_headers()
        handler.wfile.write(text)

    def release(self) -> None:
        """Answer the held requests (200), and every later HOLD at once."""
        self._released.set()

    def wait_for(
        self,
        what: str,
        check: Callable[[list[Received]], bool],
        timeout: float = 90.0,
    ) -> list[Received]:
        """Wait until `check(requests)` holds; fail naming `what` (a hang is a failure)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"the receiver did not see {what} within {timeout:.0f} s; it got "
                        f"{[(r.headers.get('x-fwtrack-event'), r.answered) for r in self.requests]}"
                    )
                self._cond.wait(min(left, 0.5))
            return list(self.requests)

    def wait_count(self, n: int, timeout: float = 90.0) -> list[Received]:
        return self.wait_for(f"{n} request(s)", lambda got: len(got) >= n, timeout)

    def stop(self) -> None:
        self.release()
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
