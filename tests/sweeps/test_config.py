"""Sweep configs: W&B's keys accepted unchanged, every mistake named with its key, value and fix."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from fwtrack.errors import SweepConfigError
from fwtrack.sweeps.config import (
    BAYES_DISTRIBUTIONS,
    DEFAULT_COMMAND,
    DISTRIBUTIONS,
    GRID_DISTRIBUTIONS,
    Hyperband,
    Metric,
    load_config,
)

EXAMPLES = sorted((Path(__file__).parent / "wandb_examples").glob("*.yaml"))


def base(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "method": "random",
        "metric": {"name": "loss"},
        "parameters": {"lr": {"min": 0.001, "max": 0.1}},
    }
    config.update(changes)
    return config


# ---------------------------------------------------------------------------------------------
# W&B's own examples


def test_there_are_enough_wandb_examples() -> None:
    assert len(EXAMPLES) >= 8
    methods = {load_config(p).method for p in EXAMPLES}
    assert methods == {"grid", "random", "bayes"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_wandb_example_is_accepted_unchanged(path: Path) -> None:
    config = load_config(path)
    with open(path, encoding="utf-8") as f:
        as_written = yaml.safe_load(f)
    assert config.raw == as_written
    assert config.to_json() == as_written
    assert config.params
    # the same config given as a dict loads to the same thing
    assert load_config(as_written) == config


def test_wandb_examples_cover_nesting_early_terminate_and_macros() -> None:
    configs = [load_config(p) for p in EXAMPLES]
    assert any(len(p.path) == 3 for c in configs for p in c.params)
    assert any(c.early_terminate and c.early_terminate.min_iter for c in configs)
    assert any(c.early_terminate and c.early_terminate.max_iter for c in configs)
    commands = {arg for c in configs for arg in (c.command or ())}
    assert {"${env}", "${interpreter}", "${program}", "${args}", "${args_no_hyphens}"} <= commands
    families = {p.distribution for c in configs for p in c.params}
    assert {"constant", "categorical", "uniform", "q_uniform", "normal"} <= families
    assert "q_log_uniform_values" in families


def test_the_sweepdemo_example_reads_as_documented() -> None:
    config = load_config(Path(__file__).parent / "wandb_examples" / "sweepdemo_bayes.yaml")
    assert config.method == "bayes"
    assert config.name == "sweepdemo"
    assert config.program == "train.py"
    assert config.metric == Metric(name="validation_loss", goal="minimize")
    assert [(p.path, p.distribution) for p in config.params] == [
        (("learning_rate",), "uniform"),
        (("batch_size",), "categorical"),
        (("epochs",), "categorical"),
        (("optimizer",), "categorical"),
    ]
    assert config.params[1].values == (16, 32, 64)
    assert config.command == DEFAULT_COMMAND
    assert config.early_terminate is None
    assert config.seed is None
    assert config.sampler == "tpe"
    assert config.max_attempts == 3


def test_documented_hyperband_brackets() -> None:
    # "The brackets for this example are [3, 3*eta, 3*eta*eta, 3*eta*eta*eta]" and
    # "[27/eta, 27/eta/eta]" (W&B's documentation)
    with_min = load_config(base(early_terminate={"type": "hyperband", "min_iter": 3}))
    assert with_min.early_terminate is not None
    assert with_min.early_terminate.bands()[:4] == [3, 9, 27, 81]
    assert len(with_min.early_terminate.bands()) == 31  # 3^31 ≤ 1e15 < 3^32
    with_max = load_config(base(early_terminate={"type": "hyperband", "max_iter": 27, "s": 2}))
    assert with_max.early_terminate is not None
    assert with_max.early_terminate.bands() == [3, 9]
    assert with_max.early_terminate.eta == 3
    assert with_max.early_terminate.strict is False


def test_hyperband_bands_follow_wandbs_rule() -> None:
    assert Hyperband(min_iter=None, max_iter=5, s=2, eta=2).bands() == [1, 2]
    assert Hyperband(min_iter=None, max_iter=10, s=5, eta=3).bands() == [1, 3]
    assert Hyperband(min_iter=2, max_iter=None, s=None, eta=1.5).bands()[:4] == [2, 3, 4, 6]
    # bands no run can reach are left out (W&B computes 100 of them)
    huge = load_config(base(early_terminate={"type": "hyperband", "min_iter": 1, "eta": 1e10}))
    assert huge.early_terminate is not None
    assert huge.early_terminate.bands() == [1, 10**10]


# ---------------------------------------------------------------------------------------------
# parameters


@pytest.mark.parametrize(
    ("spec", "distribution"),
    [
        ({"value": 3}, "constant"),
        ({"value": [1, 2]}, "constant"),
        ({"values": [1, "a", None]}, "categorical"),
        ({"values": [1, 2], "probabilities": [0.5, 0.5]}, "categorical_w_probabilities"),
        (
            {"distribution": "categorical", "values": [1, 2], "probabilities": [0.2, 0.8]},
            "categorical_w_probabilities",
        ),
        ({"min": 1, "max": 10}, "int_uniform"),
        ({"min": 1.0, "max": 10.0}, "uniform"),
        ({"min": 1, "max": 10.5}, "uniform"),
        ({"min": 0, "max": 0.1}, "uniform"),
        ({"distribution": "uniform", "min": 1, "max": 10}, "uniform"),
    ],
)
def test_distribution_is_inferred_as_wandb_does(spec: dict[str, Any], distribution: str) -> None:
    config = load_config(base(parameters={"p": spec}))
    assert config.params[0].distribution == distribution


def test_distributions_are_wandbs_eighteen() -> None:
    assert len(DISTRIBUTIONS) == 18
    assert len(set(DISTRIBUTIONS)) == 18
    assert set(GRID_DISTRIBUTIONS) < set(DISTRIBUTIONS)
    assert set(BAYES_DISTRIBUTIONS) < set(DISTRIBUTIONS)


ALL_DISTRIBUTIONS: dict[str, dict[str, Any]] = {
    "constant": {"distribution": "constant", "value": 1},
    "categorical": {"distribution": "categorical", "values": [1, 2]},
    "categorical_w_probabilities": {
        "distribution": "categorical_w_probabilities",
        "values": [1, 2],
        "probabilities": [0.25, 0.75],
    },
    "int_uniform": {"distribution": "int_uniform", "min": 1, "max": 4},
    "uniform": {"distribution": "uniform", "min": 0.0, "max": 1.0},
    "q_uniform": {"distribution": "q_uniform", "min": 0, "max": 10},
    "log_uniform": {"distribution": "log_uniform", "min": -5, "max": 0},
    "log_uniform_values": {"distribution": "log_uniform_values", "min": 0.001, "max": 1},
    "inv_log_uniform": {"distribution": "inv_log_uniform", "min": 0, "max": 3},
    "inv_log_uniform_values": {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 1},
    "q_log_uniform": {"distribution": "q_log_uniform", "min": 0, "max": 5},
    "q_log_uniform_values": {"distribution": "q_log_uniform_values", "min": 1, "max": 100},
    "normal": {"distribution": "normal"},
    "q_normal": {"distribution": "q_normal", "mu": 10, "sigma": 2, "q": 0.5},
    "log_normal": {"distribution": "log_normal", "mu": 1},
    "q_log_normal": {"distribution": "q_log_normal"},
    "beta": {"distribution": "beta", "a": 2, "b": 5},
    "q_beta": {"distribution": "q_beta", "q": 0.1},
}


def test_every_distribution_loads_with_wandbs_defaults() -> None:
    assert set(ALL_DISTRIBUTIONS) == set(DISTRIBUTIONS)
    config = load_config(base(parameters=ALL_DISTRIBUTIONS))
    by_name = {p.name: p for p in config.params}
    assert [p.distribution for p in config.params] == list(ALL_DISTRIBUTIONS)
    assert by_name["q_uniform"].q == 1.0
    assert (by_name["normal"].mu, by_name["normal"].sigma) == (0.0, 1.0)
    assert (by_name["log_normal"].mu, by_name["log_normal"].sigma) == (1, 1.0)
    assert (by_name["q_normal"].mu, by_name["q_normal"].sigma, by_name["q_normal"].q) == (
        10,
        2,
        0.5,
    )
    assert (by_name["q_log_normal"].q, by_name["q_log_normal"].sigma) == (1.0, 1.0)
    assert (by_name["beta"].a, by_name["beta"].b) == (2, 5)
    assert (by_name["q_beta"].a, by_name["q_beta"].b, by_name["q_beta"].q) == (1.0, 1.0, 0.1)
    assert by_name["categorical_w_probabilities"].probabilities == (0.25, 0.75)
    assert by_name["constant"].value == 1


def test_nested_parameters_flatten_in_config_order() -> None:
    config = load_config(
        base(
            parameters={
                "z": {"value": 1},
                "optimizer": {
                    "parameters": {
                        "name": {"values": ["adam", "sgd"]},
                        "adam": {"parameters": {"beta1": {"min": 0.8, "max": 0.99}}},
                    }
                },
                "a": {"values": [1]},
            }
        )
    )
    assert [p.path for p in config.params] == [
        ("z",),
        ("optimizer", "name"),
        ("optimizer", "adam", "beta1"),
        ("a",),
    ]
    assert config.params[2].name == "optimizer.adam.beta1"
    assert [p.name for p in config.searchable()] == ["optimizer.name", "optimizer.adam.beta1", "a"]


def test_top_level_keys_wandb_documents() -> None:
    config = load_config(
        base(
            name="n",
            description="d",
            project="p",
            entity="e",
            program="train.py",
            command=["${env}", "python3", "${program}", "${args}"],
            run_cap=5,
            apiVersion="v1",
            kind="sweep",
            controller={"type": "local"},
            job="entity/project/job:v0",
            image_uri="docker.io/x:1",
            metric={
                "name": "acc",
                "goal": "maximize",
                "target": 0.9,
                "impute": "worst",
                "impute_while_running": "false",
            },
        )
    )
    assert (config.name, config.description, config.project, config.entity) == ("n", "d", "p", "e")
    assert config.program == "train.py"
    assert config.command == ("${env}", "python3", "${program}", "${args}")
    assert config.run_cap == 5
    assert config.metric == Metric(name="acc", goal="maximize", target=0.9)


def test_command_arguments_that_are_numbers_become_strings() -> None:
    config = load_config(base(command=["${env}", "python", "train.py", "--epochs", 3, 0.5]))
    assert config.command == ("${env}", "python", "train.py", "--epochs", "3", "0.5")


def test_an_empty_command_is_wandbs_default() -> None:
    assert load_config(base(command=[])).command == DEFAULT_COMMAND


def test_envvar_macros_and_macros_inside_arguments_are_accepted() -> None:
    config = load_config(
        base(command=["${envvar:DATA_DIR}", "--data=${envvar:DATA_DIR}/x", "--b=${batch_size}"])
    )
    assert config.command == (
        "${envvar:DATA_DIR}",
        "--data=${envvar:DATA_DIR}/x",
        "--b=${batch_size}",
    )


def test_fwtrack_extension() -> None:
    config = load_config(
        base(
            method="bayes",
            fwtrack={"seed": 7, "sampler": "gp", "max_attempts": 5},
        )
    )
    assert (config.seed, config.sampler, config.max_attempts) == (7, "gp", 5)
    assert config.raw["fwtrack"] == {"seed": 7, "sampler": "gp", "max_attempts": 5}


def test_config_is_frozen_and_raw_is_a_copy() -> None:
    given = base(parameters={"a": {"values": [1, 2]}})
    config = load_config(given)
    given["parameters"]["a"]["values"].append(3)
    assert config.raw["parameters"]["a"]["values"] == [1, 2]
    out = config.to_json()
    out["method"] = "grid"
    assert config.raw["method"] == "random"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.method = "grid"  # type: ignore[misc]


def test_yaml_file_and_pathlike(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("method: grid\nparameters:\n  a:\n    values: [1, 2]\n", encoding="utf-8")
    assert load_config(path).params[0].values == (1, 2)
    assert load_config(str(path)) == load_config(path)


def test_a_json_file_is_yaml_too(tmp_path: Path) -> None:
    path = tmp_path / "sweep.json"
    path.write_text('{"method": "grid", "parameters": {"a": {"value": 1}}}', encoding="utf-8")
    assert load_config(path).params[0].distribution == "constant"


# ---------------------------------------------------------------------------------------------
# errors: each names the key path, the value and what is allowed


def hb(**kw: Any) -> dict[str, Any]:
    return {"type": "hyperband", **kw}


ERRORS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unknown top key", base(methods="grid"), ["methods", "unknown key", "allowed keys", "method"]),
    (
        "unknown key in a parameter",
        base(parameters={"lr": {"min": 0.1, "max": 1.0, "mean": 3}}),
        ["parameters.lr.mean", "'mean'", "allowed keys", "min, max"],
    ),
    (
        "unknown key in a nested parameter",
        base(parameters={"o": {"parameters": {"lr": {"values": [1], "prob": [1]}}}}),
        ["parameters.o.parameters.lr.prob", "'prob'", "values"],
    ),
    (
        "extra key next to nested parameters",
        base(parameters={"o": {"parameters": {"a": {"value": 1}}, "value": 2}}),
        ["parameters.o.value", "only `parameters`"],
    ),
    (
        "unknown key in early_terminate",
        base(early_terminate=hb(min_iter=3, brackets=2)),
        ["early_terminate.brackets", "allowed keys", "min_iter"],
    ),
    (
        "unknown key in metric",
        base(metric={"name": "loss", "mode": "min"}),
        ["metric.mode", "allowed keys", "goal"],
    ),
    (
        "unknown key in fwtrack",
        base(fwtrack={"seeds": 1}),
        ["fwtrack.seeds", "seed, sampler, max_attempts"],
    ),
    ("bad method", base(method="hyperopt"), ["method", "'hyperopt'", "grid, random, bayes"]),
    (
        "custom method",
        base(method="custom"),
        ["method", "'custom'", "custom method is not supported"],
    ),
    ("scheduler", base(scheduler={"engine": "optuna"}), ["scheduler", "not supported"]),
    ("metrics", base(metrics=[{"name": "a"}, {"name": "b"}]), ["metrics", "not supported"]),
    (
        "missing method",
        {"parameters": {"a": {"value": 1}}},
        ["method", "missing", "grid, random, bayes"],
    ),
    (
        "bad goal",
        base(metric={"name": "loss", "goal": "min"}),
        ["metric.goal", "'min'", "minimize, maximize"],
    ),
    ("metric without name", base(metric={"goal": "minimize"}), ["metric.name", "missing"]),
    (
        "metric target not a number",
        base(metric={"name": "l", "target": "high"}),
        ["metric.target", "'high'", "number"],
    ),
    (
        "bad impute",
        base(metric={"name": "l", "impute": "mean"}),
        ["metric.impute", "'mean'", "latest, best, worst"],
    ),
    (
        "bad distribution",
        base(parameters={"lr": {"distribution": "gaussian", "mu": 0}}),
        ["parameters.lr.distribution", "'gaussian'", "normal", "log_uniform_values"],
    ),
    (
        "probabilities of the wrong length",
        base(parameters={"a": {"values": [1, 2, 3], "probabilities": [0.5, 0.5]}}),
        ["parameters.a.probabilities", "2 probabilities for 3 values", "one probability per value"],
    ),
    (
        "probabilities not summing to 1",
        base(parameters={"a": {"values": [1, 2], "probabilities": [0.5, 0.6]}}),
        ["parameters.a.probabilities", "[0.5, 0.6]", "sums to 1.1", "must sum to 1"],
    ),
    (
        "negative probability",
        base(parameters={"a": {"values": [1, 2], "probabilities": [-0.5, 1.5]}}),
        ["parameters.a.probabilities", "numbers >= 0"],
    ),
    (
        "min equal to max",
        base(parameters={"lr": {"min": 0.1, "max": 0.1}}),
        ["parameters.lr.min", "0.1", "not less than max 0.1"],
    ),
    (
        "min above max",
        base(parameters={"n": {"min": 10, "max": 2}}),
        ["parameters.n.min", "10", "not less than max 2"],
    ),
    (
        "int_uniform with floats",
        base(parameters={"n": {"distribution": "int_uniform", "min": 1.5, "max": 4}}),
        ["parameters.n.min", "1.5", "an integer"],
    ),
    (
        "log_uniform_values from 0",
        base(parameters={"lr": {"distribution": "log_uniform_values", "min": 0, "max": 1}}),
        ["parameters.lr.min", "0", "> 0"],
    ),
    (
        "uniform without max",
        base(parameters={"lr": {"distribution": "uniform", "min": 0}}),
        ["parameters.lr.max", "missing", "uniform needs max"],
    ),
    (
        "categorical without values",
        base(parameters={"c": {"distribution": "categorical"}}),
        ["parameters.c.values", "missing"],
    ),
    (
        "empty values",
        base(parameters={"c": {"values": []}}),
        ["parameters.c.values", "[]", "non-empty list"],
    ),
    (
        "negative sigma",
        base(parameters={"x": {"distribution": "normal", "sigma": -1}}),
        ["parameters.x.sigma", "-1", ">= 0"],
    ),
    (
        "zero q",
        base(parameters={"x": {"distribution": "q_uniform", "min": 0, "max": 4, "q": 0}}),
        ["parameters.x.q", "0", "> 0"],
    ),
    (
        "negative beta a",
        base(parameters={"x": {"distribution": "beta", "a": -1}}),
        ["parameters.x.a", ">= 0"],
    ),
    (
        "mu not a number",
        base(parameters={"x": {"distribution": "normal", "mu": "zero"}}),
        ["parameters.x.mu", "'zero'", "number"],
    ),
    (
        "nothing to search",
        base(parameters={"x": {"distribution_": 1}}),
        ["parameters.x", "does not say what to search"],
    ),
    (
        "parameter not a mapping",
        base(parameters={"x": 3}),
        ["parameters.x", "3", "a parameter is a mapping"],
    ),
    (
        "bad parameter name",
        base(parameters={"1st": {"value": 1}}),
        ["parameters.1st", "starts with a letter"],
    ),
    (
        "dotted name colliding with a nested one",
        base(parameters={"a.b": {"value": 1}, "a": {"parameters": {"b": {"value": 2}}}}),
        ["parameters", "'a.b'", "names two parameters"],
    ),
    ("empty parameters", base(parameters={}), ["parameters", "empty", "at least one parameter"]),
    (
        "empty nested parameters",
        base(parameters={"o": {"parameters": {}}}),
        ["parameters.o.parameters", "empty"],
    ),
    ("missing parameters", {"method": "grid"}, ["parameters", "missing"]),
    (
        "bayes without metric",
        {"method": "bayes", "parameters": {"a": {"min": 0.0, "max": 1.0}}},
        ["metric", "missing", "method bayes needs a metric"],
    ),
    (
        "bayes with normal",
        base(method="bayes", parameters={"x": {"distribution": "normal"}}),
        [
            "parameters.x.distribution",
            "'normal'",
            "not supported by method bayes",
            "log_uniform_values",
        ],
    ),
    (
        "bayes with a nested beta",
        base(method="bayes", parameters={"o": {"parameters": {"x": {"distribution": "beta"}}}}),
        ["parameters.o.parameters.x.distribution", "'beta'", "bayes accepts"],
    ),
    (
        "grid with uniform",
        base(method="grid"),
        ["parameters.lr", "'uniform'", "grid accepts", "int_uniform and q_uniform"],
    ),
    (
        "grid with probabilities",
        base(method="grid", parameters={"a": {"values": [1, 2], "probabilities": [0.5, 0.5]}}),
        ["parameters.a", "categorical_w_probabilities", "without probabilities"],
    ),
    (
        "grid with log_uniform_values",
        base(
            method="grid",
            parameters={"a": {"distribution": "log_uniform_values", "min": 1, "max": 2}},
        ),
        ["parameters.a", "log_uniform_values", "grid accepts"],
    ),
    (
        "hyperband without metric",
        {"method": "random", "parameters": {"a": {"value": 1}}, "early_terminate": hb(min_iter=3)},
        ["early_terminate", "needs a `metric`"],
    ),
    (
        "hyperband without min_iter",
        base(early_terminate=hb(max_iter=27)),
        ["early_terminate", "min_iter, or max_iter and s"],
    ),
    (
        "hyperband with s only",
        base(early_terminate=hb(s=2)),
        ["early_terminate", "min_iter, or max_iter and s"],
    ),
    (
        "hyperband of another type",
        base(early_terminate={"type": "median", "min_iter": 3}),
        ["early_terminate.type", "'median'", "hyperband"],
    ),
    (
        "hyperband min_iter 0",
        base(early_terminate=hb(min_iter=0)),
        ["early_terminate.min_iter", "0", ">= 1"],
    ),
    (
        "hyperband eta 1",
        base(early_terminate=hb(min_iter=3, eta=1)),
        ["early_terminate.eta", "1", "> 1"],
    ),
    (
        "hyperband strict not a bool",
        base(early_terminate=hb(min_iter=3, strict="yes")),
        ["early_terminate.strict", "'yes'", "true or false"],
    ),
    (
        "hyperband without a band",
        base(early_terminate=hb(max_iter=2, s=1, eta=3)),
        ["early_terminate", "no band", "increase max_iter"],
    ),
    ("run_cap 0", base(run_cap=0), ["run_cap", "0", "integer >= 1"]),
    ("run_cap true", base(run_cap=True), ["run_cap", "True", "integer >= 1"]),
    ("run_cap float", base(run_cap=2.5), ["run_cap", "2.5", "integer >= 1"]),
    (
        "unknown macro",
        base(command=["${env}", "${python}", "${args}"]),
        ["command[1]", "'${python}'", "${interpreter}", "${args_json_file}"],
    ),
    ("command not a list", base(command="python train.py"), ["command", "list of arguments"]),
    ("program not a string", base(program=["train.py"]), ["program", "expected a string"]),
    ("kind not sweep", base(kind="job"), ["kind", "'job'", "sweep"]),
    (
        "controller type",
        base(controller={"type": "remote"}),
        ["controller.type", "'remote'", "local, cloud"],
    ),
    (
        "sampler for random",
        base(fwtrack={"sampler": "tpe"}),
        ["fwtrack.sampler", "only to method bayes"],
    ),
    (
        "unknown sampler",
        base(method="bayes", fwtrack={"sampler": "cmaes"}),
        ["fwtrack.sampler", "'cmaes'", "tpe, gp"],
    ),
    (
        "gp with many parameters",
        base(
            method="bayes",
            fwtrack={"sampler": "gp"},
            parameters={f"p{i}": {"min": 0.0, "max": 1.0} for i in range(11)},
        ),
        ["fwtrack.sampler", "at most 10", "searches 11", "sampler: tpe"],
    ),
    ("negative seed", base(fwtrack={"seed": -1}), ["fwtrack.seed", "-1", ">= 0"]),
    ("max_attempts 0", base(fwtrack={"max_attempts": 0}), ["fwtrack.max_attempts", "0", ">= 1"]),
    ("NaN", base(parameters={"x": {"min": 0.0, "max": math.nan}}), ["JSON-safe", "NaN"]),
]


@pytest.mark.parametrize(("config", "needles"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_invalid_config_names_key_value_and_fix(config: dict[str, Any], needles: list[str]) -> None:
    before = copy.deepcopy(config)
    with pytest.raises(SweepConfigError) as info:
        load_config(config)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    assert isinstance(info.value, ValueError)
    assert config == before  # the caller's dict is not touched


def test_yaml_exponent_without_a_dot_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "method: random\nparameters:\n  lr:\n    min: 1e-5\n    max: 0.1\n", encoding="utf-8"
    )
    with pytest.raises(SweepConfigError) as info:
        load_config(path)
    assert "parameters.lr.min" in str(info.value)
    assert "'1e-5'" in str(info.value)
    assert "!!float 1e-5" in str(info.value)
    # written as W&B's documentation suggests, it loads
    path.write_text(
        "method: random\nparameters:\n  lr:\n    min: !!float 1e-5\n    max: 0.1\n",
        encoding="utf-8",
    )
    assert load_config(path).params[0].min == 1e-5


def test_not_a_mapping() -> None:
    with pytest.raises(SweepConfigError, match="YAML file path or a dict"):
        load_config(42)  # type: ignore[arg-type]


def test_a_yaml_file_that_is_a_list(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("- method: grid\n", encoding="utf-8")
    with pytest.raises(SweepConfigError, match="a sweep config is a mapping"):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SweepConfigError, match="cannot read the sweep config"):
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("method: [grid\n", encoding="utf-8")
    with pytest.raises(SweepConfigError, match="is not valid YAML"):
        load_config(path)


def test_the_search_core_imports_no_optional_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import fwtrack.sweeps.config, fwtrack.sweeps.params, fwtrack.sweeps.bayes\n"
        "import fwtrack.sweeps.hyperband, fwtrack.sweeps.command\n"
        "print(sorted(m for m in ('optuna', 'sklearn', 'yaml', 'numpy', 'scipy')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
