"""Webhooks on a real server process (SQLite and PostgreSQL) delivering to a real HTTP
receiver: signatures and headers, registry events, retries with backoff, failing and
unreachable receivers, a hanging receiver that does not hold up the registry, the delivery
log, CRUD and who may use it."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .accessutil import Http
from .apputil import BACKENDS, database, make_run
from .artifact_util import ArtifactClient
from .harness import REPO, ServerProcess, Ui, child_env
from .webhook_receiver import HOLD, Receiver

pytestmark = pytest.mark.slow

RETRY_BASE = 0.2
MAX_ATTEMPTS = 5
EVENTS = ["registry.version_linked", "registry.alias_moved"]


@pytest.fixture(scope="module", params=BACKENDS)
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with database(request, request.param) as url:
        server = ServerProcess(
            tmp_path_factory.mktemp("webhooks") / "data",
            db_url=url,
            extra_args=[
                "--webhook-retry-base",
                str(RETRY_BASE),
                "--webhook-max-attempts",
                str(MAX_ATTEMPTS),
            ],
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[Http]:
    http = Http(srv, srv.admin_key)
    try:
        yield http
    finally:
        http.close()


@pytest.fixture
def team(api: Http) -> str:
    """A fresh team (its webhooks are this test's alone); the admin created it."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    r = api.post("/teams", {"name": name})
    assert r.status_code == 200, r.text
    return name


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def new_hook(api: Http, entity: str, url: str, **body: Any) -> dict[str, Any]:
    r = api.post(f"/webhooks/{entity}", {"url": url, **body})
    assert r.status_code == 201, r.text
    hook: dict[str, Any] = r.json()
    return hook


def deliveries(api: Http, entity: str, hook_id: int) -> list[dict[str, Any]]:
    r = api.get(f"/webhooks/{entity}/{hook_id}/deliveries?limit=500")
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


def wait_log(
    api: Http,
    entity: str,
    hook_id: int,
    what: str,
    check: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 90.0,
) -> list[dict[str, Any]]:
    """Poll the delivery log until `check` holds; fail naming `what` (a hang is a failure)."""
    deadline = time.monotonic() + timeout
    while True:
        got = deliveries(api, entity, hook_id)
        if check(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"the delivery log never showed {what}: {got}")
        time.sleep(0.05)


def ping(api: Http, entity: str, hook_id: int) -> dict[str, Any]:
    r = api.post(f"/webhooks/{entity}/{hook_id}/test")
    assert r.status_code == 202, r.text
    out: dict[str, Any] = r.json()
    return out


def one(log: list[dict[str, Any]], delivery_id: int) -> dict[str, Any]:
    return next(d for d in log if d["id"] == delivery_id)


# -- registry events ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_run(tmp_path_factory.mktemp("client"), "template", "template", steps=3).read_bytes()


@pytest.fixture
def model_artifact(srv: ServerProcess, run_log: bytes) -> dict[str, Any]:
    """A committed artifact version of type `model` in a fresh project of `admin`."""
    client = ArtifactClient(srv)
    try:
        project = f"p-{uuid.uuid4().hex[:8]}"
        client.new_run(run_log, project, "r1")
        r = client.commit(project, "r1", "net", {"w.bin": uuid.uuid4().bytes}, type="model")
        assert r.status_code == 200, r.text
        version: dict[str, Any] = r.json()
        return version
    finally:
        client.close()


def link(api: Http, entity: str, model: str, art: dict[str, Any], aliases: list[str]) -> Any:
    body = {
        "artifact": {
            "entity": art["entity"],
            "project": art["project"],
            "name": art["name"],
            "ref": art["version"],
        },
        "aliases": aliases,
    }
    return api.post(f"/registry/{entity}/models/{model}/links", body)


def doc_verify() -> Callable[..., bool]:
    """The `verify` function of docs/server.md's "Webhooks" section (its Python snippet)."""
    text = (REPO / "docs" / "server.md").read_text(encoding="utf-8")
    section = text.split("\n## Webhooks\n", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(code, "docs/server.md (Webhooks)", "exec"), scope)
    verify: Callable[..., bool] = scope["verify"]
    return verify


# -- tests -------------------------------------------------------------------------------------


def test_ping_is_signed_with_the_secret(api: Http, team: str, receiver: Receiver) -> None:
    secret = "s3cret-" + uuid.uuid4().hex
    hook = new_hook(api, team, receiver.url, secret=secret, description="ci")
    assert hook["secret"] == secret
    queued = ping(api, team, hook["id"])
    assert queued["status"] == "pending"
    assert queued["event"] == "ping"
    (got,) = receiver.wait_count(1)
    assert got.path == "/hook"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("fwtrack-webhooks/")
    assert got.headers["x-fwtrack-event"] == "ping"
    assert got.headers["x-fwtrack-delivery"] == str(queued["id"])
    assert got.headers["x-fwtrack-timestamp"].isdigit()
    assert got.verifies(secret)
    assert not got.verifies(secret + "x")
    assert not got.verifies("another secret entirely")
    # The documented check agrees.
    verify = doc_verify()
    assert verify(secret, got.headers, got.body)
    assert not verify("another secret entirely", got.headers, got.body)
    assert not verify(secret, got.headers, got.body + b" ")
    stale = {
        **got.headers,
        "x-fwtrack-timestamp": str(int(got.headers["x-fwtrack-timestamp"]) - 600),
    }
    assert not verify(secret, stale, got.body)
    body = got.json()
    assert body == queued["payload"]
    assert body["event"] == "ping"
    assert body["delivery"] == queued["id"]
    assert body["entity"] == team
    assert body["webhook"] == hook["id"]
    assert body["user"] == "admin"
    log = wait_log(api, team, hook["id"], "delivered", lambda d: d[0]["status"] == "delivered")
    (done,) = log
    assert done["attempts"] == 1
    assert done["last_status"] == 200
    assert done["last_error"] is None
    assert done["delivered_at"] is not None
    assert done["payload"] == body
    # The list shows it as the newest delivery, never the secret.
    listed = api.get(f"/webhooks/{team}").json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    assert listed[0]["last_delivery"]["id"] == queued["id"]
    assert listed[0]["last_delivery"]["status"] == "delivered"


def test_registry_events_are_delivered(
    api: Http, team: str, receiver: Receiver, model_artifact: dict[str, Any]
) -> None:
    secret = uuid.uuid4().hex
    hook = new_hook(api, team, receiver.url, secret=secret)
    aliases_only = Receiver()
    try:
        only = new_hook(api, team, aliases_only.url, events=["registry.alias_moved"])
        assert only["events"] == ["registry.alias_moved"]
        r = link(api, team, "classifier", model_artifact, ["staging"])
        assert r.status_code == 200, r.text
        got = receiver.wait_count(2)
        by_event = {g.headers["x-fwtrack-event"]: g for g in got}
        assert set(by_event) == set(EVENTS)
        assert all(g.verifies(secret) for g in got)
        linked = by_event["registry.version_linked"].json()
        assert linked["entity"] == team
        assert linked["model"] == "classifier"
        assert linked["version"] == "v0"
        assert "staging" in linked["aliases"]
        assert linked["artifact"] == {
            "entity": "admin",
            "project": model_artifact["project"],
            "name": "net",
            "version": "v0",
            "digest": model_artifact["digest"],
        }
        assert linked["user"] == "admin"
        moved = by_event["registry.alias_moved"].json()
        assert (moved["model"], moved["alias"], moved["from"], moved["to"]) == (
            "classifier",
            "staging",
            None,
            "v0",
        )
        # Removing the alias: `to` is null.
        r = api.delete(f"/registry/{team}/models/classifier/aliases/staging")
        assert r.status_code == 200, r.text
        got = receiver.wait_count(3)
        removed = got[2].json()
        assert removed["event"] == "registry.alias_moved"
        assert (removed["alias"], removed["from"], removed["to"]) == ("staging", "v0", None)
        # The alias-only webhook got both moves and no link.
        seen = aliases_only.wait_count(2)
        assert {s.headers["x-fwtrack-event"] for s in seen} == {"registry.alias_moved"}
        # Every delivery of the first webhook ends delivered, once each.
        log = wait_log(
            api,
            team,
            hook["id"],
            "3 delivered",
            lambda d: len(d) == 3 and all(x["status"] == "delivered" for x in d),
        )
        assert sorted(x["id"] for x in log) == sorted(
            int(g.headers["x-fwtrack-delivery"]) for g in got
        )
    finally:
        aliases_only.stop()


def test_failing_receiver_is_retried_with_backoff_then_delivered(api: Http, team: str) -> None:
    with Receiver([500, 503, HOLD]) as receiver:
        hook = new_hook(api, team, receiver.url)
        queued = ping(api, team, hook["id"])
        got = receiver.wait_count(3)
        # While the third attempt is held, the log tells what the second one got.
        log = deliveries(api, team, hook["id"])
        held = one(log, queued["id"])
        assert held["status"] == "pending"
        assert held["attempts"] == 2
        assert held["last_status"] == 503
        assert held["last_error"].startswith("HTTP 503")
        assert "answer 503" in held["last_error"]  # the start of the receiver's answer
        receiver.release()
        log = wait_log(
            api,
            team,
            hook["id"],
            "delivered",
            lambda d: one(d, queued["id"])["status"] == "delivered",
        )
        done = one(log, queued["id"])
        assert done["attempts"] == 3
        assert done["last_status"] == 200
        assert done["last_error"] is None
        # The same body and delivery id each time; each retry waited its backoff.
        assert len({g.body for g in got}) == 1
        assert {g.headers["x-fwtrack-delivery"] for g in got} == {str(queued["id"])}
        assert got[1].at - got[0].at >= RETRY_BASE * 0.9
        assert got[2].at - got[1].at >= 2 * RETRY_BASE * 0.9


def test_receiver_that_always_fails_ends_failed(api: Http, team: str) -> None:
    with Receiver(then=500) as receiver:
        hook = new_hook(api, team, receiver.url)
        queued = ping(api, team, hook["id"])
        log = wait_log(
            api, team, hook["id"], "failed", lambda d: one(d, queued["id"])["status"] == "failed"
        )
        failed = one(log, queued["id"])
        assert failed["attempts"] == MAX_ATTEMPTS
        assert failed["last_status"] == 500
        assert failed["delivered_at"] is None
        # A later delivery still goes; the failed one is never sent again.
        receiver.then = 200
        later = ping(api, team, hook["id"])
        wait_log(
            api,
            team,
            hook["id"],
            "delivered",
            lambda d: one(d, later["id"])["status"] == "delivered",
        )
        ids = [r.headers["x-fwtrack-delivery"] for r in receiver.requests]
        assert ids.count(str(queued["id"])) == MAX_ATTEMPTS
        assert ids.count(str(later["id"])) == 1


def test_receiver_that_is_down_is_retried(api: Http, team: str) -> None:
    with Receiver(listen=False) as receiver:
        hook = new_hook(api, team, receiver.url)
        queued = ping(api, team, hook["id"])
        log = wait_log(
            api,
            team,
            hook["id"],
            "a refused attempt",
            lambda d: one(d, queued["id"])["attempts"] >= 1,
        )
        refused = one(log, queued["id"])
        assert refused["status"] == "pending"
        assert refused["last_status"] is None
        assert "ConnectError" in refused["last_error"]
        receiver.listen()
        log = wait_log(
            api,
            team,
            hook["id"],
            "delivered",
            lambda d: one(d, queued["id"])["status"] == "delivered",
        )
        assert one(log, queued["id"])["attempts"] >= 2
        assert len(receiver.requests) == 1


def test_hanging_receiver_does_not_hold_up_the_registry(
    api: Http, team: str, model_artifact: dict[str, Any]
) -> None:
    with Receiver(then=HOLD) as receiver:
        hook = new_hook(api, team, receiver.url)
        ping(api, team, hook["id"])
        receiver.wait_for("a held ping", lambda _: receiver.holding == 1)
        # The registry answers while the receiver still holds a delivery (and then more).
        r = link(api, team, "slow", model_artifact, ["production"])
        assert r.status_code == 200, r.text
        r = api.request("PUT", f"/registry/{team}/models/slow/aliases/staging", {"version": "v0"})
        assert r.status_code == 200, r.text
        assert receiver.holding >= 1
        receiver.wait_for("4 held requests", lambda got: len(got) >= 4)
        receiver.release()
        wait_log(
            api,
            team,
            hook["id"],
            "4 delivered",
            lambda d: len(d) == 4 and all(x["status"] == "delivered" for x in d),
        )


def test_crud_and_the_secret_shown_once(api: Http, team: str, receiver: Receiver) -> None:
    hook = new_hook(api, team, receiver.url, description="first")
    assert len(hook["secret"]) == 64
    int(hook["secret"], 16)
    assert hook["entity"] == team
    assert hook["events"] == [*EVENTS, "run.alert"]  # every event by default
    assert hook["active"] is True
    assert hook["created_by"] == "admin"
    assert hook["last_delivery"] is None
    path = f"/webhooks/{team}/{hook['id']}"
    # Edit.
    r = api.patch(
        path,
        {"url": receiver.url + "/v2", "events": ["registry.version_linked"], "description": None},
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert "secret" not in edited
    assert edited["url"] == receiver.url + "/v2"
    assert edited["events"] == ["registry.version_linked"]
    assert edited["description"] is None
    # Paused: a ping waits; active again, it goes.
    assert api.patch(path, {"active": False}).json()["active"] is False
    queued = ping(api, team, hook["id"])
    assert deliveries(api, team, hook["id"])[0]["status"] == "pending"
    assert api.patch(path, {"active": True}).json()["active"] is True
    (got,) = receiver.wait_count(1)
    assert got.path == "/hook/v2"
    assert got.headers["x-fwtrack-delivery"] == str(queued["id"])
    # Bad input.
    for body in (
        {"url": "ftp://example.com/x"},
        {"url": "not a url"},
        {"url": "http://"},
        {"url": receiver.url, "events": ["registry.deleted"]},
        {"url": receiver.url, "events": []},
        {"url": receiver.url, "secret": "short"},
        {"url": receiver.url, "extra": 1},
    ):
        r = api.post(f"/webhooks/{team}", body)
        assert r.status_code == 400, (body, r.text)
    assert api.patch(path, {"url": "file:///etc/passwd"}).status_code == 400
    assert "http(s)" in api.patch(path, {"url": "file:///etc/passwd"}).json()["detail"]
    # Not found: an unknown id, another entity's id, an entity that does not exist.
    assert api.get(f"/webhooks/{team}/999999/deliveries").status_code == 404
    assert api.get(f"/webhooks/admin/{hook['id']}/deliveries").status_code == 404
    assert api.post("/webhooks/nobody-here", {"url": receiver.url}).status_code == 404
    # Delete: gone with its log.
    r = api.delete(path)
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": hook["id"]}
    assert api.get(f"/webhooks/{team}").json() == []
    assert api.delete(path).status_code == 404
    assert api.post(f"{path}/test").status_code == 404


def test_only_entity_admins_manage_webhooks(
    api: Http, srv: ServerProcess, team: str, receiver: Receiver
) -> None:
    name = f"u-{uuid.uuid4().hex[:8]}"
    key = api.new_user(name)
    user = api.as_(key)
    try:
        hook = new_hook(api, team, receiver.url)
        path = f"/webhooks/{team}/{hook['id']}"
        calls: list[tuple[str, str, Any]] = [
            ("GET", f"/webhooks/{team}", None),
            ("POST", f"/webhooks/{team}", {"url": receiver.url}),
            ("PATCH", path, {"active": False}),
            ("DELETE", path, None),
            ("GET", f"{path}/deliveries", None),
            ("POST", f"{path}/test", None),
        ]

        def answers() -> list[int]:
            return [user.request(m, p, json=b).status_code for m, p, b in calls]

        # Not a member: 403 everywhere. A member (not an admin): still 403.
        assert answers() == [403] * len(calls)
        r = api.post(f"/teams/{team}/members", {"user": name})
        assert r.status_code == 200, r.text
        assert answers() == [403] * len(calls)
        detail = user.get(f"/webhooks/{team}").json()["detail"]
        assert "admins" in detail
        assert team in detail
        # Nothing was changed by those calls.
        assert [h["id"] for h in api.get(f"/webhooks/{team}").json()] == [hook["id"]]
        assert deliveries(api, team, hook["id"]) == []
        # Made a team admin: allowed.
        r = api.patch(f"/teams/{team}/members/{name}", {"role": "admin"})
        assert r.status_code == 200, r.text
        assert user.get(f"/webhooks/{team}").status_code == 200
        own = user.post(f"/webhooks/{team}", {"url": receiver.url})
        assert own.status_code == 201, own.text
        assert own.json()["created_by"] == name
        # A user administers its own entity, and no one else's.
        mine = user.post(f"/webhooks/{name}", {"url": receiver.url})
        assert mine.status_code == 201, mine.text
        assert user.get("/webhooks/admin").status_code == 403
        # Unauthenticated: 401.
        assert api.as_(None).get(f"/webhooks/{team}").status_code == 401
    finally:
        user.close()


def test_openapi_documents_the_webhook_routes(api: Http) -> None:
    doc = api.get("/openapi.json").json()
    paths = doc["paths"]
    for path, methods in {
        "/api/v1/webhooks/{entity}": {"get", "post"},
        "/api/v1/webhooks/{entity}/{hook_id}": {"patch", "delete"},
        "/api/v1/webhooks/{entity}/{hook_id}/deliveries": {"get"},
        "/api/v1/webhooks/{entity}/{hook_id}/test": {"post"},
    }.items():
        assert set(paths[path]) >= methods
        for method in methods:
            assert paths[path][method]["tags"] == ["webhooks"]
    assert "secret" in doc["components"]["schemas"]["WebhookCreatedOut"]["properties"]
    assert "secret" not in doc["components"]["schemas"]["WebhookOut"]["properties"]


# -- several server processes ------------------------------------------------------------------


def test_two_workers_send_each_delivery_once(
    request: pytest.FixtureRequest, tmp_path: Path, receiver: Receiver
) -> None:
    with database(request, "postgresql") as url:
        server = ServerProcess(tmp_path / "data", db_url=url, workers=2)
        server.start()
        http = Http(server, server.admin_key)  # no keep-alive: both workers take requests
        try:
            hook = new_hook(http, "admin", receiver.url)
            queued = [ping(http, "admin", hook["id"])["id"] for _ in range(40)]
            wait_log(
                http,
                "admin",
                hook["id"],
                "40 delivered",
                lambda d: len(d) == 40 and all(x["status"] == "delivered" for x in d),
            )
            ids = [int(r.headers["x-fwtrack-delivery"]) for r in receiver.requests]
            assert sorted(ids) == sorted(queued)  # each once
            assert all(d["attempts"] == 1 for d in deliveries(http, "admin", hook["id"]))
        finally:
            http.close()
            server.stop()


def test_bad_settings_stop_the_server_at_start(tmp_path: Path) -> None:
    for args, needle in (
        (["--webhook-max-attempts", "0"], "--webhook-max-attempts"),
        (["--webhook-retry-base", "soon"], "--webhook-retry-base"),
        (["--webhook-retry-base", "0"], "webhook_retry_base"),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "fwtrack", "server", "--data", str(tmp_path / "d"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env(),
            check=False,
        )
        assert out.returncode == 2, out.stderr
        assert needle in out.stderr


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fwtrack", "server", "--data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(FWTRACK_WEBHOOK_MAX_ATTEMPTS="none"),
        check=False,
    )
    assert out.returncode == 2
    assert "--webhook-max-attempts 'none'" in out.stderr


def test_the_local_ui_has_no_webhooks(ui: Ui) -> None:
    assert ui.get("/webhooks/local") == (200, [])
    with httpx.Client(base_url=ui.url, timeout=30) as http:
        r = http.post("/webhooks/local", json={"url": "http://127.0.0.1:9/hook"})
        assert r.status_code == 405, r.text
        assert "fwtrack server" in r.json()["detail"]
        assert http.post("/webhooks/local/1/test").status_code == 405
        assert http.get("/webhooks/local/1/deliveries").status_code == 405


def test_backoff_doubles_up_to_an_hour() -> None:
    from fwtrack.server.webhooks import backoff

    assert [backoff(n, 10) for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert backoff(9, 10) == 2560
    assert backoff(10, 10) == 3600  # 5120, capped
    assert backoff(100, 10) == 3600
