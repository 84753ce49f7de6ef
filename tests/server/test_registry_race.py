"""Alias moves racing from two clients on a server with two worker processes on PostgreSQL
(and on SQLite): every move lands, each alias ends on exactly one version, and the audit
trail holds every move with an unbroken from → to chain."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from .conftest import ServerFactory
from .harness import ServerProcess
from .registry_util import RegistryClient, run_log

pytestmark = pytest.mark.slow

ROUNDS = 40
ALIASES = ("production", "staging")


@pytest.fixture(params=["postgresql", "sqlite"])
def srv(request: pytest.FixtureRequest, server_factory: ServerFactory) -> ServerProcess:
    url = request.getfixturevalue("fresh_postgres_db") if request.param == "postgresql" else None
    return server_factory(db_url=url, workers=2)


def _race(srv: ServerProcess, model: str, targets: list[tuple[str, str]]) -> list[str]:
    """Two clients, each moving every alias back and forth between its own two versions
    ROUNDS times (so each request moves the alias); the errors seen."""
    errors: list[str] = []
    start = threading.Barrier(len(targets))

    def client(pair: tuple[str, str]) -> None:
        api = RegistryClient(srv)
        try:
            start.wait()
            for i in range(ROUNDS):
                for alias in ALIASES:
                    r = api.move(model, alias, pair[i % 2])
                    if r.status_code != 200:
                        errors.append(f"{alias} → {pair[i % 2]}: {r.status_code} {r.text}")
        except Exception as exc:  # reported below, never lost in the thread
            errors.append(repr(exc))
        finally:
            api.close()

    threads = [threading.Thread(target=client, args=(pair,)) for pair in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a client hung"
    return errors


def test_racing_alias_moves_end_with_one_version_per_alias_and_a_full_audit_chain(
    srv: ServerProcess, tmp_path: Path
) -> None:
    api = RegistryClient(srv)
    try:
        api.new_run(run_log(tmp_path, "race", "train"), "race", "train")
        model = "racer"
        for i in range(4):
            art = api.model_version("race", "train", "net", f"weights-{i}".encode())
            r = api.link(model, art)
            assert r.status_code == 200, r.text
        errors = _race(srv, model, [("v0", "v1"), ("v2", "v3")])
        assert errors == []

        versions = api.get(f"{api.model_path(model)}/versions").json()
        detail = api.get(api.model_path(model)).json()
        trail = list(reversed(api.audit(model, limit=1000)))
        for alias in ALIASES:
            holders = [v["version"] for v in versions if alias in v["aliases"]]
            assert len(holders) == 1, (alias, holders)
            assert detail["aliases"][alias] == holders[0]
            moves = [e for e in trail if e["alias"] == alias]
            assert [e["action"] for e in moves] == ["alias.set"] * (2 * ROUNDS)
            assert moves[0]["from_version"] is None
            for before, after in itertools.pairwise(moves):
                assert after["from_version"] == before["to_version"], (before, after)
                assert after["from_version"] != after["to_version"]
            assert moves[-1]["to_version"] == holders[0]
            # Each client's moves are all there, in the order it made them.
            for pair in (("v0", "v1"), ("v2", "v3")):
                mine = [e["to_version"] for e in moves if e["to_version"] in pair]
                assert mine == [pair[i % 2] for i in range(ROUNDS)]
    finally:
        api.close()
