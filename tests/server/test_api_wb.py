"""The public API as W&B users call it, against a real `fwtrack server` on SQLite and on
PostgreSQL: the same W&B filters and orders give the same runs as the local run directory
(parity), history and scan_history agree with the local reader, and summary, config, tags,
name and notes edits are saved through the server (kept over what the run logs later) with
the permission an upload needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import fwtrack
from fwtrack.api import Api, PermissionDeniedError
from test_api_wb import CASES, PROJECT, make_runs

from .apputil import BACKENDS, frame_boundaries, upload
from .conftest import ServerFactory

ENTITY = "admin"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runs of tests/test_api_wb.py, logged offline, uploaded to each server."""
    root = tmp_path_factory.mktemp("wbclient") / "fwtrack"
    make_runs(root)
    return root


class Remote:
    def __init__(self, url: str, key: str, http: httpx.Client) -> None:
        self.url = url
        self.key = key
        self.http = http

    def api(self, key: str | None = None) -> Api:
        return Api(base_url=self.url, api_key=key or self.key)


@pytest.fixture(params=BACKENDS)
def remote(
    request: pytest.FixtureRequest,
    server_factory: ServerFactory,
    local: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Remote]:
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(tmp_path / "cache"))
    db_url = request.getfixturevalue("fresh_postgres_db") if request.param == "postgresql" else None
    srv = server_factory(db_url=db_url)
    with httpx.Client(base_url=srv.url, headers=srv.headers, timeout=60) as http:
        for run_dir in sorted((local / PROJECT).iterdir()):
            data = (run_dir / "run.fwlog").read_bytes()
            upload(http, ENTITY, PROJECT, run_dir.name, data)  # type: ignore[arg-type]
        yield Remote(srv.url, srv.admin_key, http)


def test_same_filters_give_the_same_runs_locally_and_remotely(remote: Remote, local: Path) -> None:
    here, there = Api(local), remote.api()
    for filters, expected in CASES:
        mine = [r.id for r in here.runs(PROJECT, filters=filters)]
        theirs = [r.id for r in there.runs(f"{ENTITY}/{PROJECT}", filters=filters)]
        assert set(mine) == expected, filters
        assert theirs == mine, filters  # the same runs in the same order
        assert [r.id for r in there.runs(PROJECT, filters=filters, per_page=1)] == mine
    for order in ("+config.lr", "-summary_metrics.loss", "+created_at", "display_name"):
        mine = [r.id for r in here.runs(PROJECT, order=order)]
        assert [r.id for r in there.runs(PROJECT, order=order)] == mine, order


def test_unsupported_operators_fail_before_any_request(remote: Remote) -> None:
    api = remote.api()
    with pytest.raises(ValueError, match=r"unsupported filter operator '\$elemMatch'.*\$in"):
        api.runs(PROJECT, filters={"tags": {"$elemMatch": {"$eq": "a"}}})
    with pytest.raises(ValueError, match="unknown run filter 'bogus'"):
        api.runs(PROJECT, filters={"bogus": 1})


def test_history_and_scan_history_agree_with_the_local_reader(remote: Remote, local: Path) -> None:
    mine = Api(local).run(f"{PROJECT}/rb")
    theirs = remote.api().run(f"{ENTITY}/{PROJECT}/rb")
    for kwargs in ({}, {"samples": 4}, {"keys": ["loss"], "x_axis": "acc"}):
        a = mine.history(pandas=False, **kwargs)
        b = theirs.history(pandas=False, **kwargs)
        assert b == a, kwargs
    keyed = list(theirs.scan_history(keys=["acc", "loss"], min_step=1, max_step=9))
    assert [r["_step"] for r in keyed] == [2, 4, 6, 8]
    assert keyed == list(mine.scan_history(keys=["acc", "loss"], min_step=1, max_step=9))
    frame = remote.api().runs(PROJECT, filters={"group": "g1"}).histories(format="pandas")
    assert sorted(set(frame["run_id"])) == ["ra", "rb"]


def test_summary_edits_are_saved_and_seen_by_every_reader(remote: Remote) -> None:
    api = remote.api()
    run = api.run(f"{ENTITY}/{PROJECT}/ra")
    run.summary["best_acc"] = 0.97
    run.summary["nan"] = float("nan")
    del run.summary["acc"]
    run.summary.update()
    again = remote.api().run(f"{ENTITY}/{PROJECT}/ra")
    assert again.summary["best_acc"] == 0.97
    assert again.summary["nan"] != again.summary["nan"]
    assert "acc" not in again.summary
    assert again.summary["loss"] == pytest.approx(0.1)  # untouched keys stay
    # the server filters on the edited value (both in SQL and on the client)
    found = api.runs(PROJECT, filters={"summary_metrics.best_acc": {"$gt": 0.9}})
    assert [r.id for r in found] == ["ra"]
    listed = remote.http.get(
        f"/api/v1/runs/{ENTITY}/{PROJECT}", params={"filter": "summary.best_acc > 0.9"}
    ).json()
    assert [r["id"] for r in listed["runs"]] == ["ra"]
    # W&B's other form: update() with the values to set
    again.summary.update({"note": "good"})
    assert remote.api().run(f"{ENTITY}/{PROJECT}/ra").summary["note"] == "good"


def test_run_update_saves_config_tags_name_and_notes(remote: Remote) -> None:
    run = remote.api().run(f"{PROJECT}/rb")
    run.config["lr"] = 0.5
    run.config["new"] = {"nested": True}
    del run.config["layers"]
    run.tags.append("edited")
    run.name = "renamed"
    run.notes = "a note"
    run.summary["extra"] = 1
    run.update()
    assert (run.name, run.notes, run.config["lr"]) == ("renamed", "a note", 0.5)
    fresh = remote.api().run(f"{ENTITY}/{PROJECT}/rb")
    assert fresh.config == {"lr": 0.5, "opt": {"name": "sgd"}, "new": {"nested": True}}
    assert fresh.tags == ["base", "edited"]
    assert (fresh.name, fresh.display_name, fresh.notes) == ("renamed", "renamed", "a note")
    assert fresh.summary["extra"] == 1
    ids = [r.id for r in remote.api().runs(PROJECT, filters={"config.lr": {"$gte": 0.5}})]
    assert ids == ["rb"]
    fresh.update()  # nothing changed: nothing sent, nothing lost
    assert remote.api().run(f"{ENTITY}/{PROJECT}/rb").config["lr"] == 0.5


def test_edits_need_the_upload_permission(remote: Remote) -> None:
    """A key that may not upload to the entity may not edit its runs either."""
    _user, key = remote.api().create_user("outsider")
    outsider = remote.api(key.api_key)
    with pytest.raises(PermissionDeniedError):
        outsider.run(f"{ENTITY}/{PROJECT}/rc")
    answer = remote.http.patch(
        f"/api/v1/runs/{ENTITY}/{PROJECT}/rc",
        json={"summary": {"x": 1}},
        headers={"Authorization": f"Bearer {key.api_key}"},
    )
    assert answer.status_code == 403
    assert "x" not in remote.api().run(f"{ENTITY}/{PROJECT}/rc").summary
    bad = remote.http.patch(
        f"/api/v1/runs/{ENTITY}/{PROJECT}/rc", json={"summary": {"x": 1}, "summary_delete": ["x"]}
    )
    assert bad.status_code == 400
    assert "both set and deleted" in bad.json()["detail"]


def test_edits_are_kept_over_what_the_log_says_later(remote: Remote, tmp_path: Path) -> None:
    """A summary key and a config key edited while the run is still uploading stay as
    edited when the rest of its log (which sets them again) arrives."""
    root = tmp_path / "live"
    run = fwtrack.init(
        project=PROJECT, id="live", dir=root, config={"lr": 1}, mode="offline",
        settings={"console": False, "capture_env": False, "save_code": False},
    )  # fmt: skip
    fwtrack.log({"loss": 1.0, "acc": 0.1})
    run.flush()
    first = (root / PROJECT / "live" / "run.fwlog").read_bytes()
    fwtrack.log({"loss": 0.5, "acc": 0.2})
    run.config.update({"lr": 2, "late": 3}, allow_val_change=True)
    run.finish()
    data = (root / PROJECT / "live" / "run.fwlog").read_bytes()
    cut = frame_boundaries(first)[-1]
    upload(remote.http, ENTITY, PROJECT, "live", data[:cut], chunks=1)  # type: ignore[arg-type]
    handle = remote.api().run(f"{ENTITY}/{PROJECT}/live")
    assert handle.state == "running"
    handle.summary["loss"] = 42.0
    del handle.summary["acc"]
    handle.config["lr"] = 10
    handle.update()
    upload(remote.http, ENTITY, PROJECT, "live", data, start=cut)  # type: ignore[arg-type]
    done = remote.api().run(f"{ENTITY}/{PROJECT}/live")
    assert done.state == "finished"
    assert done.summary["loss"] == 42.0  # edited: kept
    assert "acc" not in done.summary  # removed: stays removed
    assert done.config == {"lr": 10, "late": 3}  # lr edited; late from the log
    assert len(done.history()) == 2


def test_delete_removes_the_run(remote: Remote) -> None:
    api = remote.api()
    run = api.run(f"{ENTITY}/{PROJECT}/rd")
    with pytest.raises(ValueError, match="delete_artifacts=True"):
        run.delete(delete_artifacts=True)
    run.delete()
    assert [r.id for r in remote.api().runs(PROJECT, order="name")] == ["ra", "rb", "rc"]
