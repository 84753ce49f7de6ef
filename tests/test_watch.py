"""`fwtrack.watch` / `unwatch` on a real PyTorch model (CPU): the histograms logged, their
keys, steps and values, the hooks' lifetime and every argument error."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

import fwtrack
from fwtrack.errors import FwTrackWarning, NoActiveRunError

pytestmark = pytest.mark.usefixtures("tmp_dir")

SETTINGS = {"console": False, "system_interval": 0}
KEYS = ["0.bias", "0.weight", "2.bias", "2.weight"]


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    if fwtrack.run is not None:
        fwtrack.finish()


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def train(
    model: torch.nn.Module, steps: int, run: fwtrack.Run | None = None
) -> list[dict[str, dict[str, np.ndarray]]]:
    """`steps` SGD steps, each ending with `log({"loss": ...})`; returns per step the
    gradients (after backward) and the parameters (at the forward pass) as numpy arrays."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        params = {n: p.detach().clone().numpy() for n, p in model.named_parameters()}
        loss = model(torch.randn(5, 4, generator=gen)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        grads = {
            n: p.grad.detach().clone().numpy()
            for n, p in model.named_parameters()
            if p.grad is not None
        }
        opt.step()
        if run is not None:
            run.log({"loss": loss.item()})
        seen.append({"gradients": grads, "parameters": params})
    return seen


def stored(run: fwtrack.Run) -> fwtrack.Api:
    return fwtrack.Api().run(run.id)


def assert_histogram(entry: Any, values: np.ndarray) -> None:
    expected = fwtrack.Histogram(values)
    assert entry.counts.tolist() == expected.counts.tolist()
    np.testing.assert_array_equal(entry.edges, expected.edges)
    assert int(entry.counts.sum()) == values.size


def test_all_every_log_freq_steps_in_the_users_rows() -> None:
    run = fwtrack.init(project="watch", settings=SETTINGS)
    model = mlp()
    fwtrack.watch(mlp(), idx=0)  # watched in this run only: the next run counts from 0 again
    fwtrack.finish()
    run = fwtrack.init(project="watch", settings=SETTINGS)
    assert fwtrack.watch(model, log="all", log_freq=2) == []
    seen = train(model, 6, run)
    run.finish()

    back = stored(run)
    assert sorted(back.histogram_keys()) == sorted(
        [f"gradients/{k}" for k in KEYS] + [f"parameters/{k}" for k in KEYS]
    )
    for kind in ("gradients", "parameters"):
        for name in KEYS:
            entries = back.histograms(f"{kind}/{name}")
            # Every 2nd batch, in the row the training loop's log() commits.
            assert [e.step for e in entries] == [1, 3, 5]
            for e in entries:
                assert_histogram(e, seen[e.step][kind][name])
    assert back.history()["_step"].tolist() == list(range(6))  # no rows of their own


@pytest.mark.parametrize(
    ("log", "kinds"),
    [("gradients", ["gradients"]), ("parameters", ["parameters"]), (None, [])],
)
def test_log_picks_what_is_logged(log: str | None, kinds: list[str]) -> None:
    run = fwtrack.init(project="watch", settings=SETTINGS)
    model = mlp()
    run.watch(model, log=log, log_freq=1)  # type: ignore[arg-type]
    train(model, 2, run)
    run.finish()
    keys = stored(run).histogram_keys()
    assert sorted(keys) == sorted(f"{kind}/{k}" for kind in kinds for k in KEYS)


def test_default_is_gradients_every_1000_batches() -> None:
    run = fwtrack.init(project="watch", settings=SETTINGS)
    model = mlp()
    fwtrack.watch(model)
    train(model, 999, None)
    run.log({"x": 1})
    assert stored_keys_after(run) == []
    fwtrack.finish()

    run = fwtrack.init(project="watch", settings=SETTINGS)
    model = mlp()
    fwtrack.watch(model)
    train(model, 1000, None)
    run.log({"x": 1})
    assert stored_keys_after(run) == [f"gradients/{k}" for k in KEYS]


def stored_keys_after(run: fwtrack.Run) -> list[str]:
    run.flush()
    return sorted(stored(run).histogram_keys())


def test_frozen_parameters_have_no_gradient_hook() -> None:
    run = fwtrack.init(project="watch", settings=SETTINGS)
    model = mlp()
    model[0].weight.requires_grad_(False)
    fwtrack.watch(model, log="all", log_freq=1)
    train(model, 1, run)
    keys = stored_keys_after(run)
    assert "gradients/0.weight" not in keys
    assert "parameters/0.weight" in keys


def test_second_model_gets_a_graph_prefix_and_idx_picks_it() -> None:
    run = fwtrack.init(project="watch", settings=SETTINGS)
    first, second = mlp(), mlp()
    fwtrack.watch([first, second], log_freq=1, idx=0)
    third = mlp()
    fwtrack.watch(third, log="parameters", log_freq=1, idx=5)
    for m in (first, second, third):
        train(m, 1, None)
    run.log({"x": 1})
    keys = stored_keys_after(run)
    assert keys == sorted(
        [f"gradients/{k}" for k in KEYS]
        + [f"gradients/graph_1{k}" for k in KEYS]  # wandb's key names
        + [f"parameters/graph_5{k}" for k in KEYS]
    )


def test_unwatch_one_model_and_all() -> None:
    run = fwtrack.init(project="watch", settings=SETTINGS)
    a, b = mlp(), mlp()
    fwtrack.watch(a, log="all", log_freq=1, idx=0)
    fwtrack.watch(b, log="all", log_freq=1, idx=0)
    with pytest.raises(ValueError, match="already watched"):
        fwtrack.watch(a)
    fwtrack.unwatch(a)
    train(a, 1, None)
    run.log({"x": 1})
    assert stored_keys_after(run) == []
    fwtrack.watch(a, log="gradients", log_freq=1, idx=0)  # watched again after unwatch
    run.unwatch()
    train(a, 1, None)
    train(b, 1, None)
    run.log({"x": 2})
    assert stored_keys_after(run) == []
    with pytest.warns(FwTrackWarning, match="this Sequential is not watched"):
        fwtrack.unwatch(a)


def test_hooks_end_with_their_run() -> None:
    run = fwtrack.init(project="watch", settings=SETTINGS)
    model = mlp()
    fwtrack.watch(model, log="all", log_freq=1)
    train(model, 1, run)
    run.finish()
    train(model, 2, None)  # training goes on after the run: the hooks do nothing, no error
    assert not model._forward_hooks
    assert all(not p._backward_hooks for p in model.parameters())

    nxt = fwtrack.init(project="watch", settings=SETTINGS)
    train(model, 1, nxt)
    nxt.finish()
    assert stored(nxt).histogram_keys() == []  # not watched in the new run
    assert [e.step for e in stored(run).histograms("gradients/0.weight")] == [0]


def test_a_failing_histogram_warns_once_and_training_goes_on() -> None:
    run = fwtrack.init(project="watch", settings=SETTINGS)
    model = torch.nn.Linear(2, 2)
    model.z = torch.nn.Parameter(torch.randn(3, dtype=torch.cfloat))  # no histogram of complex
    fwtrack.watch(model, log="gradients", log_freq=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            loss = model(torch.ones(1, 2)).sum() + model.z.abs().sum()
            loss.backward()
            run.log({"loss": loss.item()})
    assert [(w.category, str(w.message).split(": ")[0]) for w in caught] == [
        (FwTrackWarning, "fwtrack.watch")
    ]
    assert "histograms of gradients/z not logged" in str(caught[0].message)
    assert "complex" in str(caught[0].message)
    assert stored_keys_after(run) == ["gradients/bias", "gradients/weight"]
    assert [e.step for e in stored(run).histograms("gradients/weight")] == [0, 1, 2]


def test_no_active_run() -> None:
    with pytest.raises(NoActiveRunError, match=r"fwtrack.watch\(\) called with no active run"):
        fwtrack.watch(mlp())
    with pytest.raises(NoActiveRunError, match=r"fwtrack.unwatch\(\)"):
        fwtrack.unwatch()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"log": "grads"}, ValueError, "watch(log='grads') is not valid\nhint: use 'gradients'"),
        ({"log_freq": 0}, ValueError, "watch(log_freq=0) is not valid\nhint: log_freq is"),
        ({"log_freq": True}, ValueError, "watch(log_freq=True) is not valid"),
        ({"log_freq": 1.5}, ValueError, "watch(log_freq=1.5) is not valid"),
        ({"idx": -1}, ValueError, "watch(idx=-1) is not valid"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    fwtrack.init(project="watch", settings=SETTINGS)
    with pytest.raises(error) as info:
        fwtrack.watch(mlp(), **kwargs)
    assert str(info.value).startswith(message)


def test_not_a_torch_module() -> None:
    fwtrack.init(project="watch", settings=SETTINGS)
    with pytest.raises(TypeError, match=r"expects a PyTorch model \(torch.nn.Module\), got "):
        fwtrack.watch(np.zeros(3))
    with pytest.raises(TypeError, match=r"got builtins\.str"):
        fwtrack.watch([mlp(), "model"])


def test_disabled_run_hooks_nothing() -> None:
    fwtrack.init(project="watch", mode="disabled")
    model = mlp()
    fwtrack.watch(model, log="all", log_freq=1)
    assert not model._forward_hooks
    assert all(not p._backward_hooks for p in model.parameters())


def test_finished_run_refuses() -> None:
    run = fwtrack.init(project="watch", settings=SETTINGS)
    run.finish()
    with pytest.raises(fwtrack.errors.RunFinishedError):
        run.watch(mlp())


def test_log_graph_warns_and_the_histograms_are_logged() -> None:
    fwtrack.init(project="watch", settings=SETTINGS)
    model = mlp()
    with pytest.warns(fwtrack.FwTrackWarning, match=r"watch\(log_graph=True\) is ignored"):
        fwtrack.watch(model, log="parameters", log_freq=1, log_graph=True)
    model(torch.zeros(2, model[0].in_features))
    fwtrack.log({"loss": 1.0})
    run = fwtrack.run
    assert run is not None
    run.flush()
    assert any(k.startswith("parameters/") for k in fwtrack.Api().run(run.path).histogram_keys())
