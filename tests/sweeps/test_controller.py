"""The sweep controller on SQLite and on PostgreSQL: the grid in W&B's order, `run_cap`,
`wait` against `done`, lost agents' trials queued again then crashed, pause/resume/stop/cancel,
hyperband's decisions through heartbeats, `metric.target`, seeded suggestions, importance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fwtrack.errors import SweepNotFoundError, SweepStateError
from fwtrack.server.db import SweepTrial
from fwtrack.sweeps.config import load_config
from fwtrack.sweeps.controller import Controller
from fwtrack.sweeps.local import local_database, open_local
from fwtrack.sweeps.params import canonical_key, grid_points
from server.harness import PostgresCluster

from .controller_util import (
    BACKENDS,
    Clock,
    database_url,
    grid_config,
    migrated,
    postgres_cluster,
    run_trial,
)

INTERVAL = 10.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as c:
        yield c


@pytest.fixture(params=BACKENDS)
def clock_ctl(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Clock, Controller]]:
    """A controller with a hand-moved clock on a migrated database of each backend."""
    cluster = request.getfixturevalue("cluster") if request.param == "postgresql" else None
    db = migrated(database_url(request.param, tmp_path, cluster))
    clock = Clock()
    try:
        yield clock, Controller(db, heartbeat_interval=INTERVAL, clock=clock)
    finally:
        db.dispose()


@pytest.fixture
def ctl(clock_ctl: tuple[Clock, Controller]) -> Controller:
    return clock_ctl[1]


def _random_config(**top: Any) -> Any:
    raw: dict[str, Any] = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
            "layers": {"values": [1, 2, 3]},
        },
    }
    raw.update(top)
    return load_config(raw)


def test_create_get_list_locate(ctl: Controller) -> None:
    config = grid_config(name="lr search", description="first try")
    sweep = ctl.create("alice", "mnist", config, created_by="alice", seed=7)
    assert sweep["name"] == "lr search"
    assert sweep["description"] == "first try"
    assert sweep["state"] == "running"
    assert sweep["seed"] == 7
    assert sweep["method"] == "grid"
    assert sweep["config"] == config.raw
    assert sweep["grid_size"] == 12
    assert sweep["metric"] == {"name": "loss", "goal": "minimize", "target": None}
    assert sweep["counts"]["total"] == 0
    assert sweep["best"] is None
    assert [p["name"] for p in sweep["parameters"]] == ["a", "b"]
    assert sweep["parameters"][1]["values"] == ["b0", "b1", "b2"]
    assert len(sweep["id"]) == 8
    assert sweep["id"].isalnum()

    other = ctl.create("alice", "mnist", _random_config())
    assert other["name"] == other["id"]  # no name: the id, as W&B names it
    ctl.create("alice", "cifar", _random_config())
    assert {s["id"] for s in ctl.list("alice", "mnist")} == {sweep["id"], other["id"]}
    assert ctl.list("bob", "mnist") == []
    assert ctl.get(sweep["id"]) == sweep
    assert ctl.locate(sweep["id"]) == ("alice", "mnist")
    with pytest.raises(SweepNotFoundError, match="zzzzzzzz"):
        ctl.get("zzzzzzzz")
    with pytest.raises(SweepNotFoundError):
        ctl.locate("zzzzzzzz")
    with pytest.raises(SweepNotFoundError):
        ctl.trials("zzzzzzzz")
    with pytest.raises(SweepNotFoundError, match="agent"):
        ctl.next_trial(sweep["id"], 12345)


def test_the_seed_comes_from_the_argument_then_the_config(ctl: Controller) -> None:
    config = _random_config(fwtrack={"seed": 42})
    assert ctl.create("e", "p", config)["seed"] == 42
    assert ctl.create("e", "p", config, seed=5)["seed"] == 5


def test_a_grid_runs_every_point_once_in_order_then_is_exhausted(ctl: Controller) -> None:
    config = grid_config()
    sweep_id = ctl.create("e", "p", config)["id"]
    agent = ctl.register_agent(sweep_id, "host", 1)
    assert agent["heartbeat_interval"] == INTERVAL
    seen = []
    for i in range(12):
        trial = run_trial(ctl, sweep_id, agent["agent_id"], float(i))
        assert trial["number"] == i
        assert trial["state"] == "finished"
        seen.append(trial["params"])
    assert seen == grid_points(config)
    assert ctl.next_trial(sweep_id, agent["agent_id"]) == {"done": "exhausted"}
    sweep = ctl.get(sweep_id)
    assert sweep["state"] == "finished"
    assert sweep["counts"]["finished"] == sweep["counts"]["total"] == 12
    assert sweep["best"]["value"] == 0.0
    assert sweep["agents"][0]["state"] == "done"
    run_ids = [t["run_id"] for t in ctl.trials(sweep_id)]
    assert len(set(run_ids)) == 12


def test_the_grid_key_is_unique_per_sweep(ctl: Controller) -> None:
    """The constraint that makes a duplicate grid point impossible, whatever the locking."""
    sweep_id = ctl.create("e", "p", grid_config())["id"]
    agent = ctl.register_agent(sweep_id, "host", 1)["agent_id"]
    first = ctl.next_trial(sweep_id, agent)["trial"]
    key = canonical_key(first["params"])
    with pytest.raises(IntegrityError), ctl.db.write() as s:
        s.add(
            SweepTrial(
                sweep_id=sweep_id,
                number=99,
                run_id="dupl1cat",
                params=first["params"],
                grid_key=key,
                history=[],
                past_run_ids=[],
            )
        )
    with ctl.db.read() as s:
        keys = s.scalars(sa.select(SweepTrial.grid_key)).all()
    assert keys == [key]


def test_a_next_whose_answer_was_lost_hands_the_same_trial_again(ctl: Controller) -> None:
    """An agent that asks again (its first answer lost in transit) gets the trial it already
    holds, not a second one, so nothing is left running under a live agent."""
    sweep_id = ctl.create("e", "p", grid_config())["id"]
    agent = ctl.register_agent(sweep_id, "host", 1)["agent_id"]
    first = ctl.next_trial(sweep_id, agent)["trial"]
    again = ctl.next_trial(sweep_id, agent)["trial"]
    assert (again["id"], again["run_id"], again["params"]) == (
        first["id"],
        first["run_id"],
        first["params"],
    )
    assert ctl.get(sweep_id)["counts"]["running"] == 1
    ctl.finish_trial(sweep_id, agent, first["id"], "finished", 1.0, [1.0], 0)
    assert ctl.next_trial(sweep_id, agent)["trial"]["number"] == 1


def test_run_cap_is_exact_and_others_wait_while_trials_run(ctl: Controller) -> None:
    sweep_id = ctl.create("e", "p", _random_config(run_cap=3))["id"]
    a = ctl.register_agent(sweep_id, "a", 1)["agent_id"]
    b = ctl.register_agent(sweep_id, "b", 2)["agent_id"]
    run_trial(ctl, sweep_id, a, 1.0)
    held = ctl.next_trial(sweep_id, b)["trial"]
    run_trial(ctl, sweep_id, a, 2.0)
    # The cap is reached while b's trial runs (it might still be queued again): wait.
    assert ctl.next_trial(sweep_id, a) == {"wait": INTERVAL}
    assert ctl.get(sweep_id)["state"] == "running"
    ctl.finish_trial(sweep_id, b, held["id"], "failed", None, [], 0)
    assert ctl.next_trial(sweep_id, a) == {"done": "run_cap"}
    sweep = ctl.get(sweep_id)
    assert sweep["state"] == "finished"
    assert sweep["counts"] == {
        "queued": 0,
        "running": 0,
        "finished": 2,
        "failed": 1,
        "stopped": 0,
        "crashed": 0,
        "total": 3,
    }
    assert ctl.next_trial(sweep_id, b) == {"done": "run_cap"}


def test_random_suggestions_are_seeded(ctl: Controller) -> None:
    def params(seed: int) -> list[Any]:
        sweep_id = ctl.create("e", "p", _random_config(run_cap=5), seed=seed)["id"]
        agent = ctl.register_agent(sweep_id, "h", 1)["agent_id"]
        return [run_trial(ctl, sweep_id, agent, 1.0)["params"] for _ in range(5)]

    first = params(3)
    assert params(3) == first
    assert params(4) != first
    assert len({p["lr"] for p in first}) == 5


def test_bayes_suggestions_are_seeded(ctl: Controller) -> None:
    config = load_config(
        {
            "method": "bayes",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {
                "x": {"min": -5.0, "max": 5.0},
                "opt": {"values": ["adam", "sgd"]},
            },
            "run_cap": 8,
        }
    )

    def params(seed: int) -> list[Any]:
        sweep_id = ctl.create("e", "p", config, seed=seed)["id"]
        agent = ctl.register_agent(sweep_id, "h", 1)["agent_id"]
        out = []
        for _ in range(8):
            trial = ctl.next_trial(sweep_id, agent)["trial"]
            x = trial["params"]["x"]
            value = (x - 1.0) ** 2 + (trial["params"]["opt"] == "sgd")
            ctl.finish_trial(sweep_id, agent, trial["id"], "finished", value, [value], 0)
            out.append(trial["params"])
        assert ctl.next_trial(sweep_id, agent) == {"done": "run_cap"}
        return out

    first = params(11)
    assert params(11) == first
    assert all(-5.0 <= p["x"] <= 5.0 and p["opt"] in ("adam", "sgd") for p in first)


def test_a_lost_agents_trial_is_queued_again_with_a_new_run_then_crashed(
    clock_ctl: tuple[Clock, Controller],
) -> None:
    clock, ctl = clock_ctl
    config = grid_config(2, 1, fwtrack={"max_attempts": 2})
    sweep_id = ctl.create("e", "p", config)["id"]
    lost = ctl.register_agent(sweep_id, "lost", 1)["agent_id"]
    alive = ctl.register_agent(sweep_id, "alive", 2)["agent_id"]
    first = ctl.next_trial(sweep_id, lost)["trial"]
    ctl.heartbeat(sweep_id, lost, [{"id": first["id"], "history": [5.0], "offset": 0}])

    # Within two intervals the agent is alive: the other agent gets the next point.
    clock.advance(2 * INTERVAL)
    ctl.heartbeat(sweep_id, alive, [])
    second = ctl.next_trial(sweep_id, alive)["trial"]
    assert second["number"] == 1
    ctl.finish_trial(sweep_id, alive, second["id"], "finished", 1.0, [1.0], 0)
    assert ctl.next_trial(sweep_id, alive) == {"wait": INTERVAL}

    # Past two intervals of silence the agent is lost; its trial runs again as a new run.
    clock.advance(1.0)
    again = ctl.next_trial(sweep_id, alive)["trial"]
    assert again["id"] == first["id"]
    assert again["number"] == 0
    assert again["attempt"] == 1
    assert again["past_run_ids"] == [first["run_id"]]
    assert again["run_id"] != first["run_id"]
    assert again["history_len"] == 0
    assert again["agent_id"] == alive
    agents = {a["id"]: a["state"] for a in ctl.get(sweep_id)["agents"]}
    assert agents == {lost: "lost", alive: "running"}

    # The lost agent comes back: its old trial is no longer its own, it is told to stop it,
    # and its late finish changes nothing.
    answer = ctl.heartbeat(sweep_id, lost, [{"id": first["id"], "history": [4.0], "offset": 1}])
    assert answer == {"stop": [first["id"]], "state": "running"}
    late = ctl.finish_trial(sweep_id, lost, first["id"], "finished", 4.0, [], 1)
    assert late["state"] == "running"
    assert late["agent_id"] == alive
    assert late["value"] is None

    # Lost again: the second attempt was the last one (max_attempts 2): crashed.
    clock.advance(2 * INTERVAL + 1)
    ctl.heartbeat(sweep_id, lost, [])
    ctl.next_trial(sweep_id, lost)  # reaps `alive`; nothing left to hand out
    trial = ctl.trials(sweep_id)[0]
    assert trial["state"] == "crashed"
    assert trial["attempt"] == 1
    assert trial["ended_at"] == clock.t
    assert ctl.next_trial(sweep_id, lost) == {"done": "exhausted"}
    assert ctl.get(sweep_id)["counts"]["crashed"] == 1


def test_pause_resume_stop_cancel(ctl: Controller) -> None:
    sweep_id = ctl.create("e", "p", _random_config())["id"]
    agent = ctl.register_agent(sweep_id, "h", 1)["agent_id"]
    running = ctl.next_trial(sweep_id, agent)["trial"]

    assert ctl.control(sweep_id, "pause")["state"] == "paused"
    assert ctl.next_trial(sweep_id, agent) == {"wait": INTERVAL}
    with pytest.raises(SweepStateError, match="paused"):
        ctl.control(sweep_id, "pause")
    assert ctl.control(sweep_id, "resume")["state"] == "running"
    with pytest.raises(SweepStateError, match="running"):
        ctl.control(sweep_id, "resume")
    other = ctl.register_agent(sweep_id, "h", 2)["agent_id"]
    second = ctl.next_trial(sweep_id, other)["trial"]
    assert second["id"] != running["id"]

    assert ctl.control(sweep_id, "stop")["state"] == "stopped"
    assert ctl.next_trial(sweep_id, agent) == {"done": "stopped"}
    # Stopping lets running trials finish: no stop decision.
    assert ctl.heartbeat(sweep_id, agent, []) == {"stop": [], "state": "stopped"}
    with pytest.raises(SweepStateError):
        ctl.control(sweep_id, "resume")
    with pytest.raises(SweepStateError, match="unknown"):
        ctl.control(sweep_id, "restart")  # type: ignore[arg-type]

    assert ctl.control(sweep_id, "cancel")["state"] == "cancelled"
    answer = ctl.heartbeat(sweep_id, agent, [])
    assert answer["state"] == "cancelled"
    assert answer["stop"] == [running["id"]]
    assert ctl.heartbeat(sweep_id, other, [])["stop"] == [second["id"]]
    assert ctl.next_trial(sweep_id, agent) == {"done": "cancelled"}
    for action in ("pause", "resume", "stop", "cancel"):
        with pytest.raises(SweepStateError, match="cancelled"):
            ctl.control(sweep_id, action)  # type: ignore[arg-type]
    stopped = ctl.finish_trial(sweep_id, agent, running["id"], "stopped", None, [3.0, 2.0], 0)
    assert stopped["state"] == "stopped"
    assert stopped["value"] == 2.0


def test_heartbeats_store_each_value_once(ctl: Controller) -> None:
    sweep_id = ctl.create("e", "p", _random_config())["id"]
    agent = ctl.register_agent(sweep_id, "h", 1)["agent_id"]
    trial = ctl.next_trial(sweep_id, agent)["trial"]
    report = {"id": trial["id"], "history": [3.0, 2.5], "offset": 0}
    ctl.heartbeat(sweep_id, agent, [report])
    ctl.heartbeat(sweep_id, agent, [report])  # a retry
    ctl.heartbeat(sweep_id, agent, [{"id": trial["id"], "history": [2.5, 2.0], "offset": 1}])
    ctl.heartbeat(sweep_id, agent, [{"id": trial["id"], "history": [9.0], "offset": 7}])  # gap
    assert ctl.trials(sweep_id)[0]["history_len"] == 3
    done = ctl.finish_trial(sweep_id, agent, trial["id"], "finished", 1.5, [2.0, 1.5], 2)
    assert done["history_len"] == 4
    assert done["value"] == 1.5
    again = ctl.finish_trial(sweep_id, agent, trial["id"], "failed", 9.0, [7.0], 4)
    assert again == done  # finishing twice changes nothing
    with ctl.db.read() as s:
        assert s.scalars(sa.select(SweepTrial.history)).one() == [3.0, 2.5, 2.0, 1.5]
    with pytest.raises(SweepStateError, match="crashed"):
        ctl.finish_trial(sweep_id, agent, trial["id"], "crashed", None, [], 0)
    with pytest.raises(SweepNotFoundError):
        ctl.finish_trial(sweep_id, agent, 424242, "finished", 1.0, [], 0)


def test_hyperband_stops_running_trials_below_the_bands_quantile(ctl: Controller) -> None:
    """min_iter 2, eta 2 (bands 2, 4, ...): at band 2 the threshold is the value of rank
    int(n / 2) among every trial that reached it."""
    config = _random_config(early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2})
    sweep_id = ctl.create("e", "p", config)["id"]
    agents = [ctl.register_agent(sweep_id, f"h{i}", i)["agent_id"] for i in range(3)]
    for value in (1.0, 2.0, 3.0):
        run_trial(ctl, sweep_id, agents[0], value, [value, value])
    bad = ctl.next_trial(sweep_id, agents[1])["trial"]
    good = ctl.next_trial(sweep_id, agents[2])["trial"]
    early = ctl.next_trial(sweep_id, agents[0])["trial"]

    # Before any running trial reached band 2 nothing stops.
    answer = ctl.heartbeat(sweep_id, agents[1], [{"id": bad["id"], "history": [10.0], "offset": 0}])
    assert answer == {"stop": [], "state": "running"}
    # At band 2: values [0.5, 1, 2, 3, 10] → threshold 2; 10 stops, 0.5 goes on, and the
    # trial with a single value is not judged yet.
    ctl.heartbeat(sweep_id, agents[2], [{"id": good["id"], "history": [0.5, 0.5], "offset": 0}])
    ctl.heartbeat(sweep_id, agents[0], [{"id": early["id"], "history": [50.0], "offset": 0}])
    answer = ctl.heartbeat(sweep_id, agents[1], [{"id": bad["id"], "history": [10.0], "offset": 1}])
    assert answer == {"stop": [bad["id"]], "state": "running"}
    assert ctl.heartbeat(sweep_id, agents[2], [])["stop"] == []
    assert ctl.heartbeat(sweep_id, agents[0], [])["stop"] == []
    trials = {t["id"]: t for t in ctl.trials(sweep_id)}
    assert trials[bad["id"]]["stop_requested"] is True
    assert not trials[good["id"]]["stop_requested"]
    assert not trials[early["id"]]["stop_requested"]
    stopped = ctl.finish_trial(sweep_id, agents[1], bad["id"], "stopped", None, [], 2)
    assert stopped["state"] == "stopped"
    assert stopped["value"] == 10.0


def test_reaching_the_target_finishes_the_sweep(ctl: Controller) -> None:
    config = _random_config(metric={"name": "acc", "goal": "maximize", "target": 0.9})
    sweep_id = ctl.create("e", "p", config)["id"]
    a = ctl.register_agent(sweep_id, "a", 1)["agent_id"]
    b = ctl.register_agent(sweep_id, "b", 2)["agent_id"]
    other = ctl.next_trial(sweep_id, b)["trial"]
    run_trial(ctl, sweep_id, a, 0.5)
    assert ctl.get(sweep_id)["state"] == "running"
    run_trial(ctl, sweep_id, a, 0.95)
    sweep = ctl.get(sweep_id)
    assert sweep["state"] == "finished"
    assert sweep["best"]["value"] == 0.95
    assert ctl.next_trial(sweep_id, a) == {"done": "target"}
    # The trial still running may finish; nothing new starts.
    ctl.finish_trial(sweep_id, b, other["id"], "finished", 0.1, [0.1], 0)
    assert ctl.next_trial(sweep_id, b) == {"done": "target"}
    assert ctl.get(sweep_id)["counts"]["total"] == 3


def test_importance_and_correlation(ctl: Controller) -> None:
    config = load_config(
        {
            "method": "grid",
            "metric": {"name": "loss"},
            "parameters": {
                "x": {"values": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]},
                "noise": {"values": [True, False]},
                "opt": {"values": ["adam", "sgd"]},
                "fixed": {"value": 3},
            },
        }
    )
    sweep_id = ctl.create("e", "p", config)["id"]
    agent = ctl.register_agent(sweep_id, "h", 1)["agent_id"]
    few = ctl.importance(sweep_id)
    assert few["count"] == 0
    assert "at least 3" in few["detail"]
    assert [p["importance"] for p in few["params"]] == [None] * 4
    for _ in range(24):
        trial = ctl.next_trial(sweep_id, agent)["trial"]
        p = trial["params"]
        value = -2.0 * p["x"] + (0.5 if p["opt"] == "sgd" else 0.0)
        ctl.finish_trial(sweep_id, agent, trial["id"], "finished", value, [value], 0)
    result = ctl.importance(sweep_id)
    assert result["metric"] == "loss"
    assert result["count"] == 24
    assert result["detail"] is None
    by_name = {p["name"]: p for p in result["params"]}
    assert set(by_name) == {"x", "noise", "opt", "fixed"}
    assert (
        by_name["x"]["importance"] > by_name["opt"]["importance"] > by_name["noise"]["importance"]
    )
    assert sum(p["importance"] for p in result["params"]) == pytest.approx(1.0)
    assert by_name["x"]["correlation"] < -0.95
    assert by_name["noise"]["correlation"] == pytest.approx(0.0, abs=1e-9)
    assert by_name["opt"]["correlation"] is None  # categorical
    assert by_name["fixed"]["correlation"] is None  # constant
    assert by_name["fixed"]["importance"] == 0.0
    assert ctl.importance(sweep_id) == result  # kept until a trial's value changes


def test_the_local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`open_local` creates just the sweep tables beside the runs, shared by every opener,
    with the heartbeat interval of FWTRACK_SWEEP_HEARTBEAT."""
    monkeypatch.setenv("FWTRACK_SWEEP_HEARTBEAT", "2.5")
    root = tmp_path / "fwtrack"
    first = open_local(root)
    second = open_local(root)
    try:
        assert first.heartbeat_interval == 2.5
        assert local_database(root) == root / ".sweeps" / "sweeps.db"
        assert local_database(root).is_file()
        with first.db.read() as s:
            tables = set(sa.inspect(s.connection()).get_table_names())
        assert tables == {"sweeps", "sweep_agents", "sweep_trials"}
        sweep_id = first.create("local", "p", grid_config(2, 1))["id"]
        a = second.register_agent(sweep_id, "h", 1)
        assert a["heartbeat_interval"] == 2.5
        run_trial(second, sweep_id, a["agent_id"], 1.0)
        run_trial(first, sweep_id, a["agent_id"], 2.0)
        assert first.next_trial(sweep_id, a["agent_id"]) == {"done": "exhausted"}
        assert second.get(sweep_id)["counts"]["finished"] == 2
    finally:
        first.db.dispose()
        second.db.dispose()
    monkeypatch.setenv("FWTRACK_SWEEP_HEARTBEAT", "soon")
    with pytest.raises(ValueError, match="FWTRACK_SWEEP_HEARTBEAT"):
        open_local(root)


def test_a_grid_point_taken_behind_the_locks_back_is_skipped(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    """Locking aside, the unique grid key decides: a grid point another connection inserts
    between the controller's look at the taken points and its own insert (PostgreSQL, where
    the sweep's lock lets such an insert through) makes the controller take the next point."""
    url = database_url("postgresql", tmp_path, cluster)
    db = migrated(url)
    intruder = sa.create_engine(url)
    try:
        ctl = Controller(db, heartbeat_interval=INTERVAL)
        config = grid_config(2, 1)
        points = grid_points(config)
        sweep_id = ctl.create("e", "p", config)["id"]
        agent = ctl.register_agent(sweep_id, "h", 1)["agent_id"]
        intrusions: list[str] = []

        def intrude(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if intrusions or not statement.startswith("INSERT INTO sweep_trials"):
                return
            intrusions.append(statement)
            with intruder.begin() as c:
                c.execute(
                    sa.text(
                        "INSERT INTO sweep_trials (sweep_id, number, attempt, run_id, "
                        "past_run_ids, params, grid_key, state, history, stop_requested, "
                        "created_at) VALUES (:sweep, 1000, 0, 'intruder', '[]', :params, "
                        ":key, 'finished', '[]', false, 0)"
                    ),
                    {
                        "sweep": sweep_id,
                        "params": json.dumps(points[0]),
                        "key": canonical_key(points[0]),
                    },
                )

        sa.event.listen(db.engine, "before_cursor_execute", intrude)
        trial = ctl.next_trial(sweep_id, agent)["trial"]
        sa.event.remove(db.engine, "before_cursor_execute", intrude)
        assert len(intrusions) == 1
        assert trial["number"] == 0
        assert trial["params"] == points[1]
        ctl.finish_trial(sweep_id, agent, trial["id"], "finished", 1.0, [1.0], 0)
        assert ctl.next_trial(sweep_id, agent) == {"done": "exhausted"}
        keys = sorted(t["params"]["a"] for t in ctl.trials(sweep_id))
        assert keys == [0, 1]
    finally:
        intruder.dispose()
        db.dispose()
