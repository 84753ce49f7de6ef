"""The sweep routes on a real server process, on SQLite and on PostgreSQL: create, list, read,
control, trials (joined with their runs), importance, agents (register, next, heartbeat,
finish), `sweep-ids`; 400 for a bad config naming the key, 403 for a key that does not reach
the entity, 404 for a sweep asked for under another project, 409 for a state change the sweep
does not allow; runs of a sweep filtered with `sweep = <id>` and a stopped trial's run read
back as `stopped`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .apputil import database
from .harness import ServerProcess
from .sweep_util import GRID_12, SweepClient, grid, trial_log, unique

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with database(request, request.param) as url:
        data: Path = tmp_path_factory.mktemp("sweeps") / "data"
        server = ServerProcess(data, db_url=url, extra_args=["--sweep-heartbeat", "600"])
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[SweepClient]:
    client = SweepClient(srv.url, srv.admin_key)
    try:
        yield client
    finally:
        client.close()


def _user(api: SweepClient, name: str) -> SweepClient:
    r = api.post("/users", {"name": name})
    assert r.status_code == 200, r.text
    return api.as_(r.json()["api_key"], name)


def _projects(api: SweepClient) -> set[tuple[str, str]]:
    r = api.get("/projects")
    assert r.status_code == 200, r.text
    return {(p["entity"], p["name"]) for p in r.json()["projects"]}


def test_create_read_list_and_locate(api: SweepClient) -> None:
    project = unique("p")
    config = {**GRID_12, "name": "grid-12", "description": "all twelve"}
    sweep = api.create(project, config, seed=7)
    sweep_id = sweep["id"]
    assert sweep["entity"] == "admin"
    assert sweep["project"] == project
    assert sweep["name"] == "grid-12"
    assert sweep["description"] == "all twelve"
    assert sweep["method"] == "grid"
    assert sweep["state"] == "running"
    assert sweep["config"] == config
    assert sweep["metric"] == {"name": "loss", "goal": "minimize", "target": None}
    assert sweep["seed"] == 7
    assert sweep["created_by"] == "admin"
    assert sweep["grid_size"] == 12
    assert sweep["counts"]["total"] == 0
    assert sweep["best"] is None
    assert sweep["agents"] == []
    assert sorted(p["name"] for p in sweep["parameters"]) == ["act", "layers", "lr"]

    assert api.sweep(project, sweep_id) == sweep

    # The project was created by the sweep, as by a first upload.
    assert ("admin", project) in _projects(api)

    other = api.create(project, grid(2))
    r = api.get(api.sweeps(project))
    assert r.status_code == 200, r.text
    ids = [s["id"] for s in r.json()["sweeps"]]
    assert sorted(ids) == sorted([sweep_id, other["id"]])
    r = api.get(api.sweeps(unique("empty")))
    assert r.status_code == 200, r.text
    assert r.json() == {"sweeps": []}

    r = api.get(f"/sweep-ids/{sweep_id}")
    assert r.status_code == 200, r.text
    assert r.json() == {"entity": "admin", "project": project, "id": sweep_id}
    r = api.get("/sweep-ids/zzzzzzzz")
    assert r.status_code == 404, r.text

    # A sweep asked for under another project (or entity) is not there.
    r = api.get(f"{api.sweeps(unique('other'))}/{sweep_id}")
    assert r.status_code == 404, r.text
    assert sweep_id in r.json()["detail"]
    r = api.get(f"{api.sweeps(unique('other'))}/{sweep_id}/trials")
    assert r.status_code == 404, r.text


def test_bad_config_is_400_naming_the_key(api: SweepClient) -> None:
    project = unique("p")
    bad = {
        "method": "random",
        "parameters": {"lr": {"distribution": "lognormalish", "min": 0.0, "max": 1.0}},
    }
    r = api.post(api.sweeps(project), {"config": bad})
    assert r.status_code == 400, r.text
    assert "parameters.lr.distribution" in r.json()["detail"]
    assert "lognormalish" in r.json()["detail"]

    r = api.post(api.sweeps(project), {"config": {**grid(2), "colour": "blue"}})
    assert r.status_code == 400, r.text
    assert "colour" in r.json()["detail"]

    r = api.post(api.sweeps(project), {"config": {**grid(2), "method": "bayes", "metric": None}})
    assert r.status_code == 400, r.text

    # The body itself: unknown fields and wrong types are refused.
    r = api.post(api.sweeps(project), {"config": grid(2), "sed": 3})
    assert r.status_code == 400, r.text
    assert "sed" in r.json()["detail"]
    r = api.post(api.sweeps(project), {"config": "sweep.yaml"})
    assert r.status_code == 400, r.text

    # What the database cannot hold, on every backend: a NUL, a name over 256 characters.
    nul = {**grid(2), "description": "a\x00b"}
    r = api.post(api.sweeps(project), {"config": nul})
    assert r.status_code == 400, r.text
    assert "description" in r.json()["detail"]
    r = api.post(api.sweeps(project), {"config": {**grid(2), "name": "n" * 257}})
    assert r.status_code == 400, r.text
    assert "257" in r.json()["detail"]

    # Nothing was created.
    r = api.get(api.sweeps(project))
    assert r.json() == {"sweeps": []}
    assert ("admin", project) not in _projects(api)


def test_agent_runs_a_grid_to_the_end(api: SweepClient, tmp_path: Path) -> None:
    project = unique("p")
    sweep = api.create(project, grid(3))
    sid = sweep["id"]
    agent = api.agent(project, sid, host="node-1", pid=4242)
    r = api.post(f"{api.sweeps(project)}/{sid}/agents", {"host": "node-2", "pid": 1})
    assert r.status_code == 201, r.text
    assert r.json()["heartbeat_interval"] == 600  # --sweep-heartbeat

    seen: list[int] = []
    for i in range(3):
        answer = api.next(project, sid, agent)
        assert set(answer) == {"trial"}, answer
        trial = answer["trial"]
        assert trial["state"] == "running"
        assert trial["agent_id"] == agent
        assert trial["attempt"] == 0
        seen.append(trial["params"]["x"])

        beat = api.heartbeat(project, sid, agent, [{"id": trial["id"], "history": [3.0, 2.0]}])
        assert beat == {"stop": [], "state": "running"}
        # The same values again (same offset) change nothing; new ones append.
        api.heartbeat(project, sid, agent, [{"id": trial["id"], "history": [3.0, 2.0]}])
        api.heartbeat(project, sid, agent, [{"id": trial["id"], "history": [1.0 + i], "offset": 2}])
        done = api.finish(
            project, sid, agent, trial["id"], "finished", value=1.0 + i, history=[], offset=3
        )
        assert done["id"] == trial["id"]
        assert done["state"] == "finished"
        assert done["value"] == 1.0 + i
        assert done["history_len"] == 3
        # Finishing again is idempotent.
        again = api.finish(
            project, sid, agent, trial["id"], "finished", value=1.0 + i, history=[], offset=3
        )
        assert again["state"] == "finished"
    assert sorted(seen) == [0, 1, 2]

    answer = api.next(project, sid, agent)
    assert set(answer) == {"done"}, answer
    sweep = api.sweep(project, sid)
    assert sweep["state"] == "finished"
    assert sweep["counts"]["finished"] == 3
    assert sweep["counts"]["total"] == 3
    assert sweep["best"]["value"] == 1.0
    assert sweep["best"]["params"] == {"x": seen[0]}
    hosts = sorted((a["host"], a["pid"]) for a in sweep["agents"])
    assert hosts == [("node-1", 4242), ("node-2", 1)]

    trials = api.trials(project, sid)
    assert [t["number"] for t in trials] == sorted(t["number"] for t in trials)
    assert [t["run"] for t in trials] == [None, None, None]  # no run uploaded yet

    # Upload the first trial's run: the trials route joins it.
    first = trials[0]
    log = trial_log(
        tmp_path, project, first["run_id"], sweep_id=sid, config=first["params"], losses=[3, 1]
    )
    api.upload(project, first["run_id"], log)
    trials = api.trials(project, sid)
    assert trials[0]["run"] == {
        "name": f"trial-{first['run_id']}",
        "state": "finished",
        "summary": {"loss": 1},
    }
    assert [t["run"] for t in trials[1:]] == [None, None]


def test_importance_needs_three_trials(api: SweepClient) -> None:
    project = unique("p")
    config = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "lr": {"min": 0.0, "max": 1.0},
            "width": {"values": [8, 16, 32]},
            "opt": {"values": ["adam", "sgd"]},
        },
        "run_cap": 12,
    }
    sid = api.create(project, config, seed=3)["id"]
    path = f"{api.sweeps(project)}/{sid}/importance"
    r = api.get(path)
    assert r.status_code == 200, r.text
    empty = r.json()
    assert empty["metric"] == "loss"
    assert empty["count"] == 0
    assert empty["detail"]
    assert all(p["importance"] is None for p in empty["params"])

    agent = api.agent(project, sid)
    for _ in range(12):
        trial = api.next(project, sid, agent)["trial"]
        lr = trial["params"]["lr"]
        api.finish(project, sid, agent, trial["id"], "finished", value=2.0 * lr, history=[2 * lr])
    assert set(api.next(project, sid, agent)) == {"done"}
    r = api.get(path)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["count"] == 12
    assert out["detail"] is None
    by_name = {p["name"]: p for p in out["params"]}
    assert set(by_name) == {"lr", "width", "opt"}
    # The metric is 2·lr: lr explains it, its correlation is 1.
    assert by_name["lr"]["importance"] == max(p["importance"] for p in out["params"])
    assert by_name["lr"]["correlation"] == pytest.approx(1.0)


def test_control_and_bad_state_changes(api: SweepClient) -> None:
    project = unique("p")
    sid = api.create(project, grid(4))["id"]
    path = f"{api.sweeps(project)}/{sid}"
    agent = api.agent(project, sid)

    r = api.patch(path, {"action": "pause"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "paused"
    assert set(api.next(project, sid, agent)) == {"wait"}
    r = api.patch(path, {"action": "pause"})
    assert r.status_code == 409, r.text

    r = api.patch(path, {"action": "resume"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "running"
    r = api.patch(path, {"action": "resume"})
    assert r.status_code == 409, r.text
    trial = api.next(project, sid, agent)["trial"]

    # Cancel: the running trial is told to stop at the next heartbeat; nothing new starts.
    r = api.patch(path, {"action": "cancel"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"
    beat = api.heartbeat(project, sid, agent, [{"id": trial["id"], "history": [1.0]}])
    assert beat == {"stop": [trial["id"]], "state": "cancelled"}
    stopped = api.finish(project, sid, agent, trial["id"], "stopped", value=1.0, offset=1)
    assert stopped["state"] == "stopped"
    assert set(api.next(project, sid, agent)) == {"done"}
    for action in ("resume", "pause", "stop"):
        r = api.patch(path, {"action": action})
        assert r.status_code == 409, r.text
        assert "cancelled" in r.json()["detail"]
    r = api.patch(path, {"action": "explode"})
    assert r.status_code == 400, r.text

    # Stop: running trials finish, no new ones.
    sid2 = api.create(project, grid(4))["id"]
    agent2 = api.agent(project, sid2)
    running = api.next(project, sid2, agent2)["trial"]
    r = api.patch(f"{api.sweeps(project)}/{sid2}", {"action": "stop"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "stopped"
    assert api.heartbeat(project, sid2, agent2, [{"id": running["id"], "history": []}]) == {
        "stop": [],
        "state": "stopped",
    }
    api.finish(project, sid2, agent2, running["id"], "finished", value=0.5)
    assert set(api.next(project, sid2, agent2)) == {"done"}
    assert api.sweep(project, sid2)["counts"]["finished"] == 1


def test_bad_agent_and_trial_requests(api: SweepClient) -> None:
    project = unique("p")
    sid = api.create(project, grid(2))["id"]
    base = f"{api.sweeps(project)}/{sid}"
    r = api.post(base + "/agents", {"host": "h", "pid": 1, "gpu": 0})
    assert r.status_code == 400, r.text
    r = api.post(base + "/agents", {"host": "h"})
    assert r.status_code == 400, r.text
    r = api.post(base + "/agents", {"host": "h\x00", "pid": 1})
    assert r.status_code == 400, r.text
    agent = api.agent(project, sid)
    trial = api.next(project, sid, agent)["trial"]
    r = api.post(f"{base}/trials/{trial['id']}/finish", {"agent_id": agent, "state": "crashed"})
    assert r.status_code == 400, r.text  # only the reaper marks a trial crashed
    r = api.post(f"{base}/agents/{agent}/heartbeat", {"trials": [{"id": trial["id"], "x": 1}]})
    assert r.status_code == 400, r.text
    r = api.post(base + "/agents/0/next")
    assert r.status_code == 400, r.text
    r = api.get(f"{api.sweeps(project)}/not-an-id!")
    assert r.status_code in (400, 404), r.text

    # A trial of another sweep is not this sweep's.
    other = api.create(project, grid(2))["id"]
    other_agent = api.agent(project, other)
    other_trial = api.next(project, other, other_agent)["trial"]
    r = api.post(
        f"{base}/trials/{other_trial['id']}/finish",
        {"agent_id": agent, "state": "finished", "value": 1.0},
    )
    assert r.status_code in (404, 409), r.text
    assert api.trials(project, other)[0]["state"] == "running"


def test_permissions(api: SweepClient) -> None:
    bob = _user(api, unique("bob"))
    carol = _user(api, unique("carol"))
    try:
        project = unique("p")
        sid = bob.create(project, grid(3))["id"]
        assert bob.sweep(project, sid)["created_by"] == bob.entity
        agent = bob.agent(project, sid)
        trial = bob.next(project, sid, agent)["trial"]

        base = f"/sweeps/{bob.entity}/{project}"
        reads = [
            f"{base}",
            f"{base}/{sid}",
            f"{base}/{sid}/trials",
            f"{base}/{sid}/importance",
            f"/sweep-ids/{sid}",
        ]
        writes = [
            (base, {"config": grid(2)}),
            (f"{base}/{sid}/agents", {"host": "h", "pid": 1}),
            (f"{base}/{sid}/agents/{agent}/next", None),
            (f"{base}/{sid}/agents/{agent}/heartbeat", {"trials": []}),
            (
                f"{base}/{sid}/trials/{trial['id']}/finish",
                {"agent_id": agent, "state": "finished", "value": 1.0},
            ),
        ]
        for path in reads:
            r = carol.get(path)
            assert r.status_code == 403, (path, r.text)
            assert bob.get(path).status_code == 200, path
            assert api.get(path).status_code == 200, path  # the server admin
        for path, body in writes:
            r = carol.post(path, body)
            assert r.status_code == 403, (path, r.text)
        r = carol.patch(f"{base}/{sid}", {"action": "cancel"})
        assert r.status_code == 403, r.text

        # Nothing changed.
        sweep = bob.sweep(project, sid)
        assert sweep["state"] == "running"
        assert len(sweep["agents"]) == 1
        assert [t["state"] for t in bob.trials(project, sid)] == ["running"]

        # Without a key: 401. An entity nobody has: 404 on create.
        anonymous = SweepClient(api.base_url)
        try:
            assert anonymous.get(f"{base}/{sid}").status_code == 401
        finally:
            anonymous.close()
        r = api.post(f"/sweeps/{unique('nobody')}/{project}", {"config": grid(2)})
        assert r.status_code == 404, r.text
    finally:
        bob.close()
        carol.close()


def test_runs_of_a_sweep_filter_and_stopped_state(api: SweepClient, tmp_path: Path) -> None:
    project = unique("p")
    sid = api.create(project, grid(3))["id"]
    agent = api.agent(project, sid)
    trials = []
    # Trial 0 ran to the end, trial 1 was stopped early, trial 2 failed.
    ends = [(0, None, "finished"), (0, "stopped", "stopped"), (1, None, "failed")]
    for code, reason, state in ends:
        trial = api.next(project, sid, agent)["trial"]
        trials.append(trial)
        log = trial_log(
            tmp_path,
            project,
            trial["run_id"],
            sweep_id=sid,
            config=trial["params"],
            exit_code=code,
            reason=reason,
        )
        api.upload(project, trial["run_id"], log)
        api.finish(project, sid, agent, trial["id"], state, value=0.5, history=[1.0, 0.5])
    # A run of no sweep, in the same project.
    api.upload(project, "plain", trial_log(tmp_path, project, "plain", sweep_id=None))

    runs = api.runs(project, f"sweep = {sid}")
    assert sorted(r["id"] for r in runs) == sorted(t["run_id"] for t in trials)
    assert {r["sweep_id"] for r in runs} == {sid}
    states = {r["id"]: r["state"] for r in runs}
    assert [states[t["run_id"]] for t in trials] == ["finished", "stopped", "failed"]

    stopped = api.runs(project, "state = stopped")
    assert [r["id"] for r in stopped] == [trials[1]["run_id"]]
    assert api.runs(project, f"sweep = {sid} and state = stopped") == stopped
    others = api.runs(project, f"sweep != {sid}")
    assert [(r["id"], r["sweep_id"]) for r in others] == [("plain", None)]
    assert api.runs(project, "sweep = zzzzzzzz") == []
    r = api.get(f"/runs/admin/{project}/plain")
    assert r.status_code == 200, r.text
    assert r.json()["sweep_id"] is None

    joined = {t["run_id"]: t["run"] for t in api.trials(project, sid)}
    assert [joined[t["run_id"]]["state"] for t in trials] == ["finished", "stopped", "failed"]
    r = api.get(f"/runs/admin/{project}", params={"filter": "state = paused"})
    assert r.status_code == 400, r.text
    assert "stopped" in r.json()["detail"]


def test_openapi_documents_the_sweep_routes(api: SweepClient) -> None:
    r = api.get("/openapi.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    expected = {
        ("post", "/api/v1/sweeps/{entity}/{project}"),
        ("get", "/api/v1/sweeps/{entity}/{project}"),
        ("get", "/api/v1/sweeps/{entity}/{project}/{sweep_id}"),
        ("patch", "/api/v1/sweeps/{entity}/{project}/{sweep_id}"),
        ("get", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/trials"),
        ("get", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/importance"),
        ("post", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/agents"),
        ("post", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/agents/{agent_id}/next"),
        ("post", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/agents/{agent_id}/heartbeat"),
        ("post", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/trials/{trial_id}/finish"),
        ("get", "/api/v1/sweep-ids/{sweep_id}"),
    }
    found = {
        (method, path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if "sweeps" in op.get("tags", [])
    }
    assert found == expected
    assert json.dumps(doc).count('"422"') == 0


def test_hyperband_decisions_reach_the_agent_in_the_heartbeat_answer(api: SweepClient) -> None:
    project = unique("p")
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [0, 1, 2]}},
        "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 3},
    }
    sid = api.create(project, config)["id"]
    # An agent runs one trial at a time: three agents, one trial each.
    agents = [api.agent(project, sid) for _ in range(3)]
    trials = [api.next(project, sid, agent)["trial"] for agent in agents]
    values = (0.1, 0.2, 5.0)
    beats = [
        api.heartbeat(project, sid, agent, [{"id": t["id"], "history": [v] * 5, "offset": 0}])
        for agent, t, v in zip(agents, trials, values, strict=True)
    ]
    # The worst curve is past the first band (2) and far worse than the others: stopped, and
    # the decision reaches its agent in that agent's next heartbeat answer; the best never is.
    # (The middle one may be stopped too: when its agent reported, the worst had reported
    # nothing yet, so 0.2 stood in the worse part of the band.)
    again = [api.heartbeat(project, sid, agent, []) for agent in agents]
    beat = again[2]
    assert beats[2]["stop"] == beat["stop"] == [trials[2]["id"]]
    assert beats[0]["stop"] == again[0]["stop"] == []
    assert beat["state"] == "running"
    told = {tid for answer in beats + again for tid in answer["stop"]}
    stopped = [t for t in api.trials(project, sid) if t["stop_requested"]]
    assert {t["id"] for t in stopped} == told
    agent = agents[2]
    out = api.finish(project, sid, agent, trials[2]["id"], "stopped", value=5.0, offset=5)
    assert out["state"] == "stopped"
    assert api.sweep(project, sid)["counts"]["stopped"] == 1


def test_sweep_heartbeat_option_is_checked(tmp_path: Path) -> None:
    import subprocess
    import sys

    from fwtrack.server import ServerConfig

    from .harness import child_env

    for bad in ("0", "-1", "soon"):
        done = subprocess.run(
            [sys.executable, "-m", "fwtrack", "server", "--data", str(tmp_path / "d"),
             "--port", "1", "--sweep-heartbeat", bad],
            capture_output=True, text=True, env=child_env(), timeout=120,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "--sweep-heartbeat" in done.stderr
        assert repr(bad) in done.stderr
    with pytest.raises(ValueError, match="sweep_heartbeat"):
        ServerConfig(data_dir=tmp_path / "d", sweep_heartbeat=0)
    assert ServerConfig(data_dir=tmp_path / "d").sweep_heartbeat == 10.0
