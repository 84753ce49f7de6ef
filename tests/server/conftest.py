"""Fixtures for the server tests: a throw-away PostgreSQL, real server processes, a fault proxy."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import FaultProxy, PostgresCluster, ServerProcess, Ui


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the session; stopped and removed at the end, even on failure."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """`postgresql://postgres@127.0.0.1:<port>/fwtrack_test`, shared by the whole session."""
    return postgres_cluster.create_database("fwtrack_test")


@pytest.fixture
def fresh_postgres_db(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """URL of a new, empty database for this test; dropped afterwards."""
    name = f"fwtrack_{uuid.uuid4().hex[:16]}"
    url = postgres_cluster.create_database(name)
    try:
        yield url
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture
def migrated_postgres_db(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """URL of a new database for this test at the newest revision (a copy of a template
    migrated once per cluster); dropped afterwards."""
    name = f"fwtrack_{uuid.uuid4().hex[:16]}"
    url = postgres_cluster.create_database(name, migrated=True)
    try:
        yield url
    finally:
        postgres_cluster.drop_database(name)


ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """`server_factory(**kwargs)` starts a `ServerProcess` (kwargs as its constructor's;
    `data_dir` defaults to a fresh dir under `tmp_path`, `start=False` leaves it stopped).
    Every server it made is stopped at teardown."""
    made: list[ServerProcess] = []

    def make(*, start: bool = True, **kwargs: Any) -> ServerProcess:
        kwargs.setdefault("data_dir", tmp_path / f"server{len(made)}")
        srv = ServerProcess(**kwargs)
        made.append(srv)
        if start:
            srv.start()
        return srv

    try:
        yield make
    finally:
        for srv in reversed(made):
            srv.stop()


@pytest.fixture
def server(server_factory: ServerFactory) -> ServerProcess:
    """A running server with SQLite and a fresh data dir under `tmp_path`."""
    return server_factory()


ProxyFactory = Callable[..., FaultProxy]


@pytest.fixture
def fault_proxy() -> Iterator[ProxyFactory]:
    """`fault_proxy(upstream_port, seed=..., rates=..., max_delay=...)` starts a `FaultProxy`
    in front of a server; every proxy it made is stopped at teardown."""
    made: list[FaultProxy] = []

    def make(upstream_port: int, **kwargs: Any) -> FaultProxy:
        proxy = FaultProxy(upstream_port, **kwargs)
        made.append(proxy)
        return proxy.start()

    try:
        yield make
    finally:
        for proxy in reversed(made):
            proxy.stop()


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Ui]:
    """A `fwtrack ui` over an empty `<tmp_path>/fwtrack`, ready to answer."""
    runs_dir = tmp_path / "fwtrack"
    runs_dir.mkdir()
    server = Ui(tmp_path, runs_dir)
    try:
        server.wait_for("health", lambda: server.get("/health")[0] == 200)
        yield server
    finally:
        server.stop()
