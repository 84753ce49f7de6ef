"""Team roles enforced by the server, on SQLite and PostgreSQL: a walk over every route of the
app that is not a GET proves a team's viewer is refused (403) on each for the team's entity
while the least role that may do it is not; a route added later without the check fails
here. Then the role routes themselves: the viewer role, roles in the answers, the last admin
kept, a viewer leaving, and `GET /viewer`'s `read_only` and `roles`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from fwtrack._core import hash_bytes

from .apputil import BACKENDS
from .team_util import PROJECT, RUN, TEAM, As, Lab, lab_client

API = "/api/v1"

# Routes a team's viewer may use although they are not GETs, and why.
EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/login"): "signing in changes no team's data",
    ("POST", "/keys"): "a user's own API keys are theirs to manage, whatever their roles",
    ("DELETE", "/keys/{key_id}"): "revoking one's own key (another's takes a server admin)",
    ("POST", "/teams"): "creating a new team writes to no existing team",
    ("POST", "/invitations/{token}/accept"): "joining a team through a link given to you",
    ("POST", "/invitations/{token}/signup"): "creating an account through a link",
    ("POST", "/history/{entity}/{project}"): "a read (many runs' series) sent as POST",
    ("POST", "/artifacts/{entity}/{project}/blobs/fetch"): "a read (a pack of blobs) as POST",
}
# Viewers comment (spec: comments and mentions are open to every reader).
EXEMPT_PREFIXES = ("/comments", "/mentions")

# Who is the least that may use a route: a team admin or a server admin; default: a member.
TEAM_ADMIN = {
    ("PATCH", "/teams/{team}/members/{member}"),
    ("PUT", "/teams/{team}/members/{member}"),
    ("POST", "/teams/{team}/invitations"),
    ("DELETE", "/teams/{team}/invitations/{invitation_id}"),
    ("POST", "/webhooks/{entity}"),
    ("PATCH", "/webhooks/{entity}/{hook_id}"),
    ("DELETE", "/webhooks/{entity}/{hook_id}"),
    ("POST", "/webhooks/{entity}/{hook_id}/test"),
    ("DELETE", "/registry/{entity}/models/{model}"),
}
SERVER_ADMIN = {("POST", "/users"), ("PATCH", "/users/{name}")}

BLOB = b"team roles"
ADDRESS = hash_bytes(BLOB)

# Path parameters by name (`{path:path}` by its bare name); per route where a name is shared.
PARAMS: dict[str, str] = {
    "entity": TEAM,
    "team": TEAM,
    "project": PROJECT,
    "run_id": RUN,
    "member": "other",
    "name": "data",
    "ref": "v0",
    "model": "net",
    "alias": "staging",
    "hook_id": "1",
    "sweep_id": "abc123",
    "agent_id": "1",
    "trial_id": "1",
    "address": ADDRESS,
    "upload": "u1",
    "path": "notes.txt",
    "key_id": "1",
    "invitation_id": "1",
    "report_id": "abcdefghij",
    "id": "abcdefghij",
    "n": "1",
    "version": "1",
    "number": "1",
}
PARAMS_BY_ROUTE: dict[tuple[str, str], dict[str, str]] = {
    ("PATCH", "/users/{name}"): {"name": "other"},
}

# Bodies that make sense (where a schema's minimum would be refused as malformed, 400).
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/projects/{entity}/{project}/workspace"): {"charts": {}},
    ("PATCH", "/runs/{entity}/{project}/{run_id}"): {"tags": ["checked"]},
    ("POST", "/runs/{entity}/{project}/{run_id}/log"): b"",
    ("PUT", "/runs/{entity}/{project}/{run_id}/files/{path:path}"): b"notes",
    ("PUT", "/runs/{entity}/{project}/{run_id}/blobs/{address}"): BLOB,
    ("POST", "/runs/{entity}/{project}/{run_id}/blobs"): b"",
    ("POST", "/runs/{entity}/{project}/{run_id}/blobs/missing"): {"addresses": [ADDRESS]},
    ("POST", "/artifacts/{entity}/{project}/blobs/missing"): {"addresses": [ADDRESS]},
    ("POST", "/teams/{team}/members"): {"user": "outsider"},
    ("PATCH", "/teams/{team}/members/{member}"): {"role": "member"},
    ("PUT", "/teams/{team}/members/{member}"): {"role": "member"},
    ("POST", "/teams/{team}/invitations"): {"role": "viewer", "note": "walk"},
    ("POST", "/users"): {"name": "walked"},
    ("PATCH", "/users/{name}"): {"password": "a long password"},
    ("POST", "/webhooks/{entity}"): {"url": "http://127.0.0.1:9/hook"},
    ("PATCH", "/webhooks/{entity}/{hook_id}"): {"description": "walked"},
    ("POST", "/registry/{entity}/models"): {"name": "net"},
    ("PATCH", "/registry/{entity}/models/{model}"): {"description": "walked"},
    ("PUT", "/registry/{entity}/models/{model}/aliases/{alias}"): {"version": "v0"},
    ("POST", "/registry/{entity}/models/{model}/links"): {
        "artifact": {"entity": TEAM, "project": PROJECT, "name": "data"}
    },
    ("POST", "/sweeps/{entity}/{project}"): {
        "config": {
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"lr": {"values": [0.1, 0.01]}},
        }
    },
    ("POST", "/runs/{entity}/{project}/{run_id}/artifacts"): {
        "id": "0" * 32,
        "name": "data",
        "type": "dataset",
        "digest": ADDRESS,
    },
    ("PATCH", "/sweeps/{entity}/{project}/{sweep_id}"): {"action": "pause"},
    ("POST", "/reports/{entity}/{project}"): {"title": "walked", "blocks": []},
    ("PATCH", "/reports/{entity}/{project}/{report_id}"): {"base_version": 1, "ops": []},
    ("PATCH", "/reports/{entity}/{project}/{id}"): {"base_version": 1, "ops": []},
    ("POST", "/runs/{entity}/{project}/bulk"): {
        "action": "tag",
        "run_ids": [RUN],
        "tags": ["bulk"],
    },
}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def minimal(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """The smallest value the JSON schema accepts (required members only)."""
    schema = _resolve(schema, spec)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [_resolve(s, spec) for s in schema[key]]
            options = [s for s in options if s.get("type") != "null"] or options
            return minimal(options[0], spec)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal(props[k], spec) for k in schema.get("required", []) if k in props}
    if kind == "array":
        item = schema.get("items", {})
        return [minimal(item, spec) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
    if kind == "boolean":
        return False
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    return None


class Walk:
    """Every non-GET route of the app with what to send to it."""

    def __init__(self, lab: Lab) -> None:
        app = lab.client.app
        self.spec: dict[str, Any] = app.openapi()  # type: ignore[attr-defined]
        self.routes: list[tuple[str, str]] = []
        for route in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
            path = route.path
            if not path or not path.startswith(API):
                continue
            for method in sorted((route.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
                self.routes.append((method, path[len(API) :]))
        # Deletions last, so that what the other routes use is still there.
        self.routes.sort(key=lambda r: (r[0] == "DELETE", r[1], r[0]))

    def exempt(self, method: str, path: str) -> bool:
        return (method, path) in EXEMPT or path.startswith(EXEMPT_PREFIXES)

    def url(self, method: str, path: str) -> str:
        values = {**PARAMS, **PARAMS_BY_ROUTE.get((method, path), {})}

        def fill(m: re.Match[str]) -> str:
            name = m.group(1).split(":")[0]
            assert name in values, f"{method} {path}: no value for {{{name}}}; add it to PARAMS"
            return values[name]

        return re.sub(r"\{([^}]+)\}", fill, path)

    def body(self, method: str, path: str) -> tuple[Any, bytes | None]:
        """(JSON body, raw bytes): one of them."""
        if (method, path) in BODIES:
            body = BODIES[(method, path)]
            return (None, body) if isinstance(body, bytes) else (body, None)
        operation = self.spec["paths"].get(API + path, {}).get(method.lower(), {})
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            return minimal(content["application/json"].get("schema", {}), self.spec), None
        if content:
            return None, b""
        return None, None

    def query(self, method: str, path: str) -> dict[str, Any]:
        operation = self.spec["paths"].get(API + path, {}).get(method.lower(), {})
        out = {}
        for param in operation.get("parameters", []):
            if param.get("in") == "query" and param.get("required"):
                out[param["name"]] = minimal(param.get("schema", {}), self.spec)
        return out

    def send(self, who: As, method: str, path: str) -> tuple[int, str]:
        body, raw = self.body(method, path)
        r = who.request(
            method,
            self.url(method, path),
            body,
            content=raw,
            params=self.query(method, path) or None,
        )
        return r.status_code, r.text[:300]


@pytest.fixture(params=BACKENDS)
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    yield from lab_client(request, tmp_path, request.param)


def test_every_write_refuses_a_viewer_and_not_who_may(lab: Lab) -> None:
    walk = Walk(lab)
    walked = [r for r in walk.routes if not walk.exempt(*r)]
    assert len(walked) >= 40, walked  # the app's writes were found, not an empty list
    refused_viewer: list[str] = []
    refused_writer: list[str] = []
    for method, path in walked:
        status, text = walk.send(lab.vie, method, path)
        if status != 403:
            refused_viewer.append(f"{method} {path}: the viewer got {status} {text}")
        elif "detail" not in text:
            refused_viewer.append(f"{method} {path}: a 403 without a detail: {text}")
        if (method, path) in SERVER_ADMIN:
            writer = lab.admin
        elif (method, path) in TEAM_ADMIN:
            writer = lab.lead
        else:
            writer = lab.mem
        status, text = walk.send(writer, method, path)
        if status in (401, 403):
            refused_writer.append(f"{method} {path}: {writer.name} got {status} {text}")
    assert not refused_viewer, (
        "routes that let a team's viewer write (call reach(..., write=True)):\n"
        + "\n".join(refused_viewer)
    )
    assert not refused_writer, "routes that refuse who may use them:\n" + "\n".join(refused_writer)


def test_reads_by_post_and_exempt_routes_stay_open_to_a_viewer(lab: Lab) -> None:
    r = lab.vie.post(f"/history/{TEAM}/{PROJECT}", {"runs": [RUN], "keys": ["loss"]})
    assert r.status_code == 200, r.text
    assert [x["run"] for x in r.json()["runs"]] == [RUN]
    assert lab.vie.post("/keys", {"description": "mine"}).status_code == 200
    assert lab.vie.get(f"/runs/{TEAM}/{PROJECT}").json()["total"] == 1
    assert lab.vie.get(f"/projects/{TEAM}/{PROJECT}/workspace").status_code == 200


def test_a_viewer_is_refused_a_write_with_a_clear_message_and_nothing_changes(lab: Lab) -> None:
    path = f"/runs/{TEAM}/{PROJECT}/{RUN}"
    r = lab.vie.patch(path, {"tags": ["nope"]})
    assert r.status_code == 403
    detail = r.json()["detail"]
    assert "'vie' is a viewer of team 'lab'" in detail
    assert "hint: ask a team admin to make you a member" in detail
    assert lab.vie.get(path).json()["tags"] == []
    # The admin makes them a member: the same write goes through.
    r = lab.lead.patch(f"/teams/{TEAM}/members/vie", {"role": "member"})
    assert r.status_code == 200, r.text
    assert r.json()["roles"]["vie"] == "member"
    r = lab.vie.patch(path, {"tags": ["yes"]})
    assert r.status_code == 200, r.text
    assert lab.vie.get(path).json()["tags"] == ["yes"]
    # And back to viewer with PUT: refused again at once.
    r = lab.lead.put(f"/teams/{TEAM}/members/vie", {"role": "viewer"})
    assert r.status_code == 200, r.text
    assert lab.vie.patch(path, {"tags": []}).status_code == 403


def test_viewer_answer_names_read_only_teams_and_roles(lab: Lab) -> None:
    me = lab.vie.get("/viewer").json()
    assert me["teams"] == [TEAM]
    assert me["read_only"] == [TEAM]
    assert me["roles"] == {TEAM: "viewer"}
    assert lab.lead.get("/viewer").json()["roles"] == {TEAM: "admin"}
    assert lab.mem.get("/viewer").json() == {
        "name": "mem",
        "is_admin": False,
        "teams": [TEAM],
        "read_only": [],
        "roles": {TEAM: "member"},
    }
    team = lab.vie.get(f"/teams/{TEAM}").json()
    assert team["roles"] == {"lead": "admin", "mem": "member", "other": "member", "vie": "viewer"}
    assert team["admins"] == ["lead"]


def test_who_may_change_members_and_roles(lab: Lab) -> None:
    members = f"/teams/{TEAM}/members"
    # A viewer adds and removes no one.
    r = lab.vie.post(members, {"user": "outsider"})
    assert r.status_code == 403
    assert "viewer" in r.json()["detail"]
    assert lab.vie.delete(f"{members}/other").status_code == 403
    # A member adds a viewer, but not an admin; roles are the team admins'.
    r = lab.mem.post(members, {"user": "outsider", "role": "admin"})
    assert r.status_code == 403
    assert "only admins of team 'lab'" in r.json()["detail"]
    r = lab.mem.post(members, {"user": "outsider", "role": "viewer"})
    assert r.status_code == 200, r.text
    assert r.json()["roles"]["outsider"] == "viewer"
    assert lab.mem.patch(f"{members}/outsider", {"role": "member"}).status_code == 403
    r = lab.lead.patch(f"{members}/outsider", {"role": "owner"})
    assert r.status_code == 400
    # The last admin stays an admin and stays in the team.
    r = lab.lead.patch(f"{members}/lead", {"role": "member"})
    assert r.status_code == 409
    assert "without an admin" in r.json()["detail"]
    assert lab.lead.delete(f"{members}/lead").status_code == 409
    assert lab.role_of("lead") == "admin"
    # With a second admin the first may step down.
    assert lab.lead.patch(f"{members}/mem", {"role": "admin"}).status_code == 200
    assert lab.lead.patch(f"{members}/lead", {"role": "member"}).status_code == 200
    assert lab.role_of("lead") == "member"
    # A viewer may leave.
    r = lab.vie.delete(f"{members}/vie")
    assert r.status_code == 200, r.text
    assert "vie" not in r.json()["members"]
    assert lab.vie.get(f"/runs/{TEAM}/{PROJECT}").status_code == 403
