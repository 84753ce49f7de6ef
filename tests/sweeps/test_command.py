"""The trial command: W&B's default and its macros, expanded as W&B's own agent expands them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from fwtrack.errors import SweepConfigError
from fwtrack.sweeps.command import args_json, build_command, macro_values
from fwtrack.sweeps.config import load_config

ENV = [] if sys.platform == "win32" else ["/usr/bin/env"]

PARAMS: dict[str, Any] = {
    "lr": 0.001,
    "batch_size": 32,
    "optimizer": "adam",
    "amsgrad": True,
    "nesterov": False,
    "layers": [64, 32],
    "none": None,
    "sched": {"name": "cosine", "warmup": 0.1},
}


def config(**changes: Any) -> Any:
    raw: dict[str, Any] = {
        "method": "random",
        "program": "train.py",
        "parameters": {"lr": {"min": 0.0001, "max": 0.1}},
    }
    raw.update(changes)
    return load_config(raw)


def test_default_command() -> None:
    out = build_command(config(), {"lr": 0.01, "epochs": 3}, args_json_file="/tmp/p.json")
    assert out == [*ENV, "python", "train.py", "--lr=0.01", "--epochs=3"]


def test_args_format_values_as_python_str() -> None:
    out = build_command(config(), PARAMS, args_json_file="/tmp/p.json")
    assert out[len(ENV) + 2 :] == [
        "--lr=0.001",
        "--batch_size=32",
        "--optimizer=adam",
        "--amsgrad=True",
        "--nesterov=False",
        "--layers=[64, 32]",
        "--none=None",
        "--sched={'name': 'cosine', 'warmup': 0.1}",
    ]


def test_every_macro() -> None:
    cmd = [
        "${env}",
        "${interpreter}",
        "${program}",
        "${args_no_hyphens}",
        "--",
        "${args_no_boolean_flags}",
        "--",
        "${args_json}",
        "${args_json_file}",
        "${args_no_equals}",
        "${args_append_hydra}",
        "${args_override_hydra}",
    ]
    params = {"a": 1, "flag": True, "off": False}
    out = build_command(config(command=cmd), params, args_json_file="/x/args.json")
    assert out == [
        *ENV,
        "python",
        "train.py",
        "a=1",
        "flag=True",
        "off=False",
        "--",
        "--a=1",
        "--flag",
        "--",
        '{"a": 1, "flag": true, "off": false}',
        "/x/args.json",
        "--a",
        "1",
        "--flag",
        "True",
        "--off",
        "False",
        "+a=1",
        "+flag=True",
        "+off=False",
        "++a=1",
        "++flag=True",
        "++off=False",
    ]


def test_args_json_is_one_argument_that_parses_back() -> None:
    out = build_command(config(command=["${args_json}"]), PARAMS, args_json_file="f")
    assert len(out) == 1
    assert json.loads(out[0]) == PARAMS
    assert args_json(PARAMS) == out[0]


def test_fixed_arguments_and_a_hardcoded_interpreter_pass_through() -> None:
    # W&B's documented variants: "python3" instead of ${interpreter}, extra arguments
    cmd = ["${env}", "python3", "${program}", "--config", "your-training-config.json", "${args}"]
    out = build_command(config(command=cmd), {"lr": 0.1}, args_json_file="f")
    assert out == [*ENV, "python3", "train.py", "--config", "your-training-config.json", "--lr=0.1"]


def test_omitting_args() -> None:
    cmd = ["${env}", "${interpreter}", "${program}"]
    assert build_command(config(command=cmd), PARAMS, args_json_file="f") == [
        *ENV,
        "python",
        "train.py",
    ]


def test_envvar_macro() -> None:
    cmd = ["${envvar:DATA_DIR}", "--data=${envvar:DATA_DIR}/train", "--x=${envvar:UNSET_VAR}"]
    out = build_command(config(command=cmd), {}, args_json_file="f", env={"DATA_DIR": "/data/x"})
    assert out == ["/data/x", "--data=/data/x/train", "--x=UNSET_VAR"]


def test_envvar_macro_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEP_TEST_VAR", "value-1")
    out = build_command(config(command=["${envvar:SWEEP_TEST_VAR}"]), {}, args_json_file="f")
    assert out == ["value-1"]


def test_macros_inside_an_argument_stay_as_written() -> None:
    # W&B's documentation example "Macro and custom command arguments": W&B expands whole
    # arguments only, so these reach the program unchanged.
    example = Path(__file__).parent / "wandb_examples" / "macro_custom_args.yaml"
    out = build_command(load_config(example), {"learning_rate": 0.01}, args_json_file="f")
    assert out == [
        *ENV,
        "python",
        "run.py",
        "--batch_size=${batch_size}",
        "--optimizer=${optimizer}",
        "--test=True",
    ]


def test_program_macro_without_program() -> None:
    no_program = load_config({"method": "grid", "parameters": {"a": {"value": 1}}})
    with pytest.raises(SweepConfigError, match=r"program: missing.*\$\{program\}"):
        build_command(no_program, {"a": 1}, args_json_file="f")
    # without ${program} no program is needed
    other = load_config(
        {"method": "grid", "parameters": {"a": {"value": 1}}, "command": ["run.sh", "${args}"]}
    )
    assert build_command(other, {"a": 1}, args_json_file="f") == ["run.sh", "--a=1"]


def test_nested_example_passes_groups_as_one_argument() -> None:
    example = Path(__file__).parent / "wandb_examples" / "nested_grid_cli.yaml"
    from fwtrack.sweeps.params import grid_points

    cfg = load_config(example)
    out = build_command(cfg, grid_points(cfg)[0], args_json_file="f")
    assert out == [
        *ENV,
        "python",
        "train-nested-cli.py",
        "--batch_size=32",
        "--optimizer={'lr': 0.001, 'nadam': {'beta': 0.9}}",
    ]


@pytest.mark.parametrize(
    "params",
    [
        PARAMS,
        {"a": 1},
        {},
        {"x": 1e-05, "y": -0.0, "z": 10**20, "s": "with space", "u": "ünï"},
        {"o": {"p": {"q": [True, None, 1.5]}}, "b": False},
    ],
)
def test_macros_match_wandbs_own_expansion(params: dict[str, Any]) -> None:
    from wandb.sdk.launch.sweeps import utils as wandb_sweep_utils

    theirs = wandb_sweep_utils.create_sweep_command_args(
        {"args": {k: {"value": v} for k, v in params.items()}}
    )
    ours = macro_values(params)
    for name in ours:
        assert ours[name] == theirs[name], name
    assert set(ours) == set(theirs) - {"args_dict"}


def test_default_command_matches_wandbs() -> None:
    from wandb.sdk.launch.sweeps import utils as wandb_sweep_utils

    assert list(config().command) == wandb_sweep_utils.create_sweep_command(None)
