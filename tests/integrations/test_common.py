"""The pieces every integration shares."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

import fwtrack
from fwtrack.integrations._common import active_or_new_run, metric_key, require, to_config

pytestmark = pytest.mark.usefixtures("tmp_dir")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("loss", "train/loss"),
        ("val_loss", "eval/loss"),
        ("eval_accuracy", "eval/accuracy"),
        ("validation_0-logloss", "eval/0-logloss"),
        ("test_f1", "test/f1"),
        ("train_runtime", "train/runtime"),
        ("eval/accuracy", "eval/accuracy"),
        ("val_", "train/val_"),
    ],
)
def test_metric_key(key: str, expected: str) -> None:
    assert metric_key(key) == expected


def test_metric_key_default_section() -> None:
    assert metric_key("lr", default_section="") == "lr"


def test_to_config() -> None:
    @dataclasses.dataclass
    class Opt:
        lr: float = 0.1
        betas: tuple[float, float] = (0.9, 0.99)

    ns = argparse.Namespace(opt=Opt(), layers=[1, 2], nested={"a": argparse.Namespace(b=1)})
    assert to_config(ns) == {
        "opt": {"lr": 0.1, "betas": [0.9, 0.99]},
        "layers": [1, 2],
        "nested": {"a": {"b": 1}},
    }
    assert to_config(None) == {}
    with pytest.raises(TypeError, match="cannot use a int as a config"):
        to_config(3)


def test_active_or_new_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_PROJECT", "from-env")
    run, owned = active_or_new_run("fallback")
    assert owned
    assert run.project == "from-env"
    again, owned_again = active_or_new_run("fallback")
    assert again is run
    assert not owned_again
    run.finish()
    monkeypatch.delenv("FWTRACK_PROJECT")
    run, owned = active_or_new_run("fallback")
    assert owned
    assert run.project == "fallback"
    assert fwtrack.run is run


def test_require_names_the_extra() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'fwtrack\[keras\]'"):
        require("no_such_module_xyz", "keras")
