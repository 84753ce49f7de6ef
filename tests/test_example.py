"""`examples/train_torch.py` (what `make demo` runs), end to end in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fwtrack.api import Api
from fwtrack.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tmp_dir")]

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "train_torch.py"
STEPS = 200


def test_train_torch_example(capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--steps", str(STEPS)],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
            ),
        },
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout

    run = Api().runs("demo")[0]
    assert len(Api().runs("demo")) == 1
    assert f"fwtrack run demo/{run.id} ({run.name}) is finished" in out
    assert "best accuracy" in out
    assert "final loss" in out
    assert f"show demo/{run.id}" in out
    assert f"demo/{run.id}" in out.split("saved in")[1].splitlines()[0]

    assert run.state == "finished"
    assert run.config["steps"] == STEPS
    assert run.config["model"] == "mlp"
    history = run.history()
    assert history["_step"].tolist() == list(range(STEPS))
    for key in ("train/loss", "train/lr", "train/grad_norm"):
        assert history[key].notna().all(), key
    evals = history["eval/accuracy"].dropna()
    assert 0 in evals.index
    assert STEPS - 1 in evals.index
    assert len(evals) == len(history["eval/loss"].dropna())
    assert ((evals >= 0) & (evals <= 1)).all()
    best = run.summary["eval/accuracy"]["max"]
    assert best == evals.max()
    assert f"{best:.4f}" in out
    assert history["train/loss"].iloc[-20:].mean() < history["train/loss"].iloc[:20].mean()

    keys = sorted(run.histogram_keys())
    assert keys == ["weights/layer0", "weights/layer1", "weights/layer2"]
    first = run.histograms("weights/layer0")
    assert first[0].step == 0
    assert first[-1].step == STEPS - 1
    assert first[0].total == 16 * 64

    assert run.media_keys() == ["eval/predictions", "weights/layer0_image"]
    images = history["weights/layer0_image"].dropna()
    assert images.index.tolist() == evals.index.tolist()
    assert images.iloc[0].to_numpy().shape == (64, 16)
    predictions = history["eval/predictions"].iloc[-1].to_pandas()
    assert predictions.columns.tolist() == ["example", "label", "predicted", "confidence"]
    assert len(predictions) == 200
    accuracy = (predictions["label"] == predictions["predicted"]).mean()
    assert accuracy > 0.5
    printed = [line for line in run.logs() if line.text.startswith("step ")]
    assert len(printed) == len(evals)

    assert main(["show", f"demo/{run.id}"]) == 0
    shown = capsys.readouterr().out
    assert "eval/accuracy" in shown
    assert f"{STEPS} row(s)" in shown
