"""`fwtrack.sweep` + `fwtrack.agent(sweep_id, function=train)`: trials run in this process, each
in a thread, training a real (tiny) torch model; a trial the sweep stops ends in its thread and
its run reads `stopped`, with the history kept."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import torch

import fwtrack
from fwtrack.api import Api
from fwtrack.sweeps import TrialStopped
from fwtrack.sweeps.client import LocalSweeps
from sweeps.agentutil import wait_for

QUIET = {"capture_env": False, "save_code": False, "console": False, "system_interval": 0}


@pytest.fixture(autouse=True)
def _short_heartbeat(tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_SWEEP_HEARTBEAT", "0.3")


def _model_and_data() -> tuple[Any, Any, Any]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    x = torch.randn(64, 4)
    y = x.sum(dim=1, keepdim=True)
    return model, x, y


def test_function_trials_train_a_torch_model(tmp_dir: Path) -> None:
    seen: list[dict[str, Any]] = []

    def train() -> None:
        run = fwtrack.init(config={"epochs": 1}, settings=QUIET)
        seen.append(dict(run.config))
        model, x, y = _model_and_data()
        optimizer = torch.optim.SGD(model.parameters(), lr=run.config["optimizer"]["lr"])
        for _ in range(run.config["epochs"]):
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            fwtrack.log({"val/loss": loss.item()})
        # left open: the agent finishes the run

    sweep_id = fwtrack.sweep(
        {
            "method": "grid",
            "metric": {"name": "val/loss", "goal": "minimize"},
            "parameters": {
                "optimizer": {"parameters": {"lr": {"values": [0.05, 0.01]}}},
                "epochs": {"value": 5},
            },
        },
        project="torch",
    )
    assert fwtrack.agent(sweep_id, function=train) == 2
    assert fwtrack.run is None

    assert sorted(c["optimizer"]["lr"] for c in seen) == [0.01, 0.05]
    assert all(c["epochs"] == 5 for c in seen)
    api = Api()
    runs = {r.id: r for r in api.runs("torch")}
    assert len(runs) == 2
    sweep = api.sweep(sweep_id)
    assert sweep.state == "finished"
    for trial in sweep.trials:
        run = runs[trial["run_id"]]
        assert run.state == "finished"
        assert run.config["optimizer"]["lr"] == trial["params"]["optimizer"]["lr"]
        assert run.row_count == 5
        assert trial["value"] == pytest.approx(run.summary["val/loss"])
        assert trial["history_len"] == 5
    best = sweep.best_run()
    assert best is not None
    assert best.summary["val/loss"] == min(r.summary["val/loss"] for r in runs.values())


def test_a_stopped_function_trial_ends_in_its_thread(tmp_dir: Path) -> None:
    stopped: list[str] = []

    def train() -> None:
        run = fwtrack.init(settings=QUIET)
        model, x, y = _model_and_data()
        optimizer = torch.optim.SGD(model.parameters(), lr=run.config["lr"])
        try:
            while True:  # until the sweep stops it
                loss = torch.nn.functional.mse_loss(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                fwtrack.log({"loss": loss.item()})
                run.flush()
        except TrialStopped:
            stopped.append(run.id)
            raise

    sweep_id = fwtrack.sweep(
        {"method": "grid", "metric": {"name": "loss"}, "parameters": {"lr": {"values": [0.01]}}},
        project="stop",
    )

    def cancel_once_training() -> None:
        api = Api()
        wait_for(
            "rows of the trial's run", lambda: [r for r in api.runs("stop") if r.row_count >= 3]
        )
        LocalSweeps(api.dir).control(sweep_id, "cancel")

    canceller = threading.Thread(target=cancel_once_training)
    canceller.start()
    assert fwtrack.agent(sweep_id, function=train) == 1
    canceller.join(timeout=60)

    (run,) = Api().runs("stop")
    assert stopped == [run.id]
    assert run.state == "stopped"
    assert run.row_count >= 3
    (trial,) = Api().sweep(sweep_id).trials
    assert trial["state"] == "stopped"
    assert trial["value"] == pytest.approx(run.summary["loss"])
    assert Api().sweep(sweep_id).state == "cancelled"


def test_a_failing_function_trial_fails_and_the_agent_goes_on(
    tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def train() -> None:
        run = fwtrack.init(settings=QUIET)
        fwtrack.log({"loss": float(run.config["a"])})
        if run.config["a"] == 1:
            raise ValueError("diverged")

    sweep_id = fwtrack.sweep(
        {"method": "grid", "metric": {"name": "loss"}, "parameters": {"a": {"values": [1, 2]}}},
        project="fail",
    )
    assert fwtrack.agent(sweep_id, function=train) == 2
    assert "ValueError: diverged" in capsys.readouterr().err
    runs = {r.config["a"]: r for r in Api().runs("fail")}
    assert {a: r.state for a, r in runs.items()} == {1: "failed", 2: "finished"}
    trials = {t["params"]["a"]: t for t in Api().sweep(sweep_id).trials}
    assert {a: (t["state"], t["value"]) for a, t in trials.items()} == {
        1: ("failed", 1.0),
        2: ("finished", 2.0),
    }
