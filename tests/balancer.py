"""A TCP round-robin load balancer for the replica tests, in a background thread.

`Balancer(backends)` listens on a free 127.0.0.1 port and sends each new client connection to
the next backend in turn, so a client that reconnects lands on another server process. A
backend that refuses the connection (a replica that was killed and has not come back yet) is
skipped for the next one; when every backend refuses, the client's connection is reset.

With `cut_rate` > 0 it also cuts live connections: each connection is picked, by a random
choice seeded with `seed` and the connection's number (so a run is reproducible), with
probability `cut_rate`, and then cut after a random number of relayed bytes (at most
`max_cut_bytes`, counting both directions) — in the middle of a request or of an answer — by a
reset or a plain close, at random too. `pause_cuts()`/`resume_cuts()` switch cutting off and on
(the test reads back without it).

It works on bytes, not on HTTP: keep-alive connections stay on their backend until they are
cut or closed, as behind a real TCP balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Sequence
from types import TracebackType

__all__ = ["Balancer"]

CONNECT_TIMEOUT = 5.0
_CHUNK = 64 * 1024


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


class _Cut(Exception):
    """The connection's byte budget is spent: cut it."""


class Balancer:
    """A round-robin TCP balancer over `backends` (ports on 127.0.0.1, or `(host, port)`)."""

    def __init__(
        self,
        backends: Sequence[int | tuple[str, int]],
        *,
        seed: int = 0,
        cut_rate: float = 0.0,
        max_cut_bytes: int = 256 * 1024,
    ) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        if not 0.0 <= cut_rate <= 1.0:
            raise ValueError(f"cut_rate must be within [0, 1], got {cut_rate}")
        self.backends = [("127.0.0.1", b) if isinstance(b, int) else b for b in backends]
        self.seed = seed
        self.cut_rate = cut_rate
        self.max_cut_bytes = max(1, max_cut_bytes)
        self.port = _free_port()
        self._cutting = cut_rate > 0
        self._next_backend = 0
        self._connections = 0
        self._counts: Counter[str] = Counter()
        self._live: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`: what clients use instead of a server's URL."""
        return f"http://127.0.0.1:{self.port}"

    # -- counters -------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """What happened so far: `connections`, `backend<i>` (connections each backend got),
        `refused<i>` (connect attempts a backend refused), `cut`, `rejected` (no backend)."""
        with self._lock:
            return dict(self._counts)

    def live(self, backend: int) -> int:
        """How many client connections are relayed to backend number `backend` right now."""
        with self._lock:
            return self._live[backend]

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def pause_cuts(self) -> None:
        """Stop cutting connections (new ones and live ones)."""
        self._cutting = False

    def resume_cuts(self) -> None:
        """Cut again (when constructed with `cut_rate` > 0)."""
        self._cutting = self.cut_rate > 0

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> Balancer:
        """Listen, in a daemon thread; returns once the port accepts connections."""
        self._thread = threading.Thread(target=self._run, name="test-balancer", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError(f"the balancer did not start: {self._error!r}")
        if self._server is None:
            raise RuntimeError("the balancer did not start within 30 s")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            for _ in range(5):  # the free port may be taken before we bind it
                try:
                    self._server = loop.run_until_complete(
                        asyncio.start_server(self._handle, "127.0.0.1", self.port)
                    )
                    break
                except OSError as exc:
                    self._error = exc
                    self.port = _free_port()
            else:
                return
            self._error = None
        finally:
            self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Close the listener and every relayed connection; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return

        async def _shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for writer in list(self._writers):
                _reset(writer)
            await asyncio.sleep(0)
            loop.stop()

        asyncio.run_coroutine_threadsafe(_shutdown(), loop)
        thread.join(timeout=30)

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- relaying -------------------------------------------------------------------------

    def _plan(self) -> tuple[int, int, int | None, bool]:
        """(connection number, first backend to try, byte budget or None, cut by reset)."""
        with self._lock:
            number = self._connections
            self._connections += 1
            first = self._next_backend
            self._next_backend = (first + 1) % len(self.backends)
        rng = random.Random(self.seed * 1_000_003 + number)
        budget = rng.randint(1, self.max_cut_bytes) if rng.random() < self.cut_rate else None
        return number, first, budget, rng.random() < 0.5

    async def _connect(
        self, first: int
    ) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The first backend from `first` on that accepts a connection."""
        for k in range(len(self.backends)):
            i = (first + k) % len(self.backends)
            host, port = self.backends[i]
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError):
                self._count(f"refused{i}")
                continue
            return i, reader, writer
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._relay(reader, writer)
        except asyncio.CancelledError:
            _reset(writer)
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._count("connections")
        _, first, budget, by_reset = self._plan()
        found = await self._connect(first)
        if found is None:
            self._count("rejected")
            _reset(writer)
            return
        index, up_reader, up_writer = found
        self._count(f"backend{index}")
        self._writers.add(up_writer)
        with self._lock:
            self._live[index] += 1
        try:
            await self._pipes(reader, writer, up_reader, up_writer, budget, by_reset)
        finally:
            with self._lock:
                self._live[index] -= 1
            self._writers.discard(up_writer)
            if not up_writer.is_closing():
                _reset(up_writer)

    async def _pipes(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        budget: int | None,
        by_reset: bool,
    ) -> None:
        left = [budget]  # shared by both directions

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while True:
                data = await src.read(_CHUNK)
                if not data:
                    with contextlib.suppress(OSError):
                        if dst.can_write_eof():
                            dst.write_eof()
                    return
                spend = left[0]
                if spend is not None and self._cutting:
                    if len(data) >= spend:
                        dst.write(data[: spend - 1])
                        with contextlib.suppress(OSError, ConnectionError):
                            await dst.drain()
                        raise _Cut
                    left[0] = spend - len(data)
                dst.write(data)
                await dst.drain()

        pipes = [
            asyncio.ensure_future(pipe(reader, up_writer)),
            asyncio.ensure_future(pipe(up_reader, writer)),
        ]
        try:
            done, _ = await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
            cut = any(
                not p.cancelled() and isinstance(p.exception(), _Cut) for p in done if p.done()
            )
            failed = any(not p.cancelled() and p.exception() is not None for p in done)
        finally:
            for p in pipes:
                p.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
        if cut:
            self._count("cut")
            if by_reset:
                _reset(writer)
                _reset(up_writer)
            else:
                writer.close()
                up_writer.close()
        elif failed:  # one side reset (e.g. a killed backend): pass it on
            _reset(writer)
            _reset(up_writer)
        else:
            writer.close()
            up_writer.close()
