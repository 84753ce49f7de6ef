"""`run.alert` / `fwtrack.sdk.alerts.alert` as wandb's: levels (str or AlertLevel), the alert
recorded in the run log, and W&B's rate limit (same title within `wait_duration` dropped)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import fwtrack
from fwtrack import _core
from fwtrack.errors import NoActiveRunError, RunFinishedError
from fwtrack.sdk import alerts
from fwtrack.sdk.alerts import AlertLevel


def _alerts(run: fwtrack.Run) -> list[dict[str, Any]]:
    return list(_core.RunReader(run.dir).alerts())


def _run() -> fwtrack.Run:
    return fwtrack.init(project="alerts", settings={"save_code": False, "capture_env": False})


def test_alert_is_recorded_with_its_level_and_time(tmp_dir: Path) -> None:
    run = _run()
    before = time.time()
    run.alert("Low accuracy", "accuracy 0.31 is below 0.5")
    run.alert("Loss rising", "loss went up 3 epochs in a row", level="WARN")
    run.alert("NaN", "loss is NaN", level=AlertLevel.ERROR)
    run.finish()
    got = _alerts(run)
    assert [(a["title"], a["text"], a["level"]) for a in got] == [
        ("Low accuracy", "accuracy 0.31 is below 0.5", "INFO"),
        ("Loss rising", "loss went up 3 epochs in a row", "WARN"),
        ("NaN", "loss is NaN", "ERROR"),
    ]
    assert all(before <= a["ts"] <= time.time() for a in got)


def test_module_alert_needs_an_active_run(tmp_dir: Path) -> None:
    with pytest.raises(NoActiveRunError, match=r"fwtrack\.init"):
        alerts.alert("t", "x")
    run = _run()
    alerts.alert("From the module", "text", level="INFO")
    run.finish()
    assert [a["title"] for a in _alerts(run)] == ["From the module"]


def test_bad_arguments_name_the_fix(tmp_dir: Path) -> None:
    run = _run()
    with pytest.raises(ValueError, match="'INFO', 'WARN' or 'ERROR'"):
        run.alert("t", "x", level="CRITICAL")
    with pytest.raises(TypeError, match="timedelta"):
        run.alert("t", "x", wait_duration="1m")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0 seconds"):
        run.alert("t", "x", wait_duration=-1)
    with pytest.raises(TypeError, match="title"):
        run.alert("", "x")
    with pytest.raises(TypeError, match="text"):
        run.alert("t", None)  # type: ignore[arg-type]
    run.finish()
    assert _alerts(run) == []
    with pytest.raises(RunFinishedError, match=r"fwtrack\.init"):
        run.alert("late", "after finish")


def test_same_title_within_wait_duration_is_suppressed(tmp_dir: Path) -> None:
    run = _run()
    run.alert("Slow", "first", wait_duration=300)
    run.alert("Slow", "second: within 300 s, dropped", wait_duration=300)
    run.alert("Other", "another title is not limited", wait_duration=300)
    # The default wait is one minute, and 0 means the default (as in wandb).
    run.alert("Default", "first")
    run.alert("Default", "dropped by the default minute")
    run.alert("Default", "dropped: 0 is the default", wait_duration=0)
    run.alert("Delta", "first", wait_duration=timedelta(minutes=5))
    run.alert("Delta", "dropped", wait_duration=timedelta(minutes=5))
    run.finish()
    assert [(a["title"], a["text"]) for a in _alerts(run)] == [
        ("Slow", "first"),
        ("Other", "another title is not limited"),
        ("Default", "first"),
        ("Delta", "first"),
    ]


def test_same_title_goes_again_once_wait_duration_passed(tmp_dir: Path) -> None:
    run = _run()
    run.alert("Tick", "first", wait_duration=0.05)
    time.sleep(0.2)  # longer than the wait: the next one goes
    run.alert("Tick", "second", wait_duration=0.05)
    run.finish()
    assert [a["text"] for a in _alerts(run)] == ["first", "second"]


def test_disabled_run_checks_arguments_and_records_nothing(tmp_dir: Path) -> None:
    run = fwtrack.init(project="alerts", mode="disabled")
    run.alert("t", "x")
    with pytest.raises(ValueError, match="'INFO', 'WARN' or 'ERROR'"):
        run.alert("t", "x", level="LOUD")
    run.finish()
    assert not (tmp_dir / "fwtrack").exists()


def test_alert_levels_match_wandb() -> None:
    from wandb.sdk.wandb_alerts import AlertLevel as WandbAlertLevel

    assert [(m.name, m.value) for m in AlertLevel] == [(m.name, m.value) for m in WandbAlertLevel]


def test_module_shortcuts_alert_alertlevel_save_log_code(tmp_dir: Path) -> None:
    (tmp_dir / "train.py").write_text("print('hi')\n")
    with pytest.raises(NoActiveRunError):
        fwtrack.alert("t", "x")
    run = _run()
    fwtrack.alert("Shortcut", "from fwtrack.alert", level=fwtrack.AlertLevel.WARN)
    assert fwtrack.save("train.py", policy="now") == [str(Path(run.dir, "files", "train.py"))]
    art = fwtrack.log_code(".", name="shortcut-code")
    assert art is not None
    assert art.type == "code"
    run.finish()
    assert [(a["title"], a["level"]) for a in _alerts(run)] == [("Shortcut", "WARN")]
