"""Sweep configs: W&B's keys, accepted unchanged, loaded and validated once.

`load_config` takes a YAML file or a dict and returns a frozen `SweepConfig`. Every problem is a
`SweepConfigError` whose message names the key path (`parameters.lr.distribution`), the bad value
and what is allowed. The rules follow W&B's schema (`wandb/sweeps`,
`src/sweeps/config/schema.json`):

- a parameter's distribution is inferred when absent, as W&B does: `value` → `constant`;
  `values` → `categorical` (`categorical_w_probabilities` with `probabilities`); `min`/`max` both
  integers → `int_uniform`, otherwise `uniform`; `parameters` → a nested group;
- W&B's defaults are filled in: `q` 1.0, `mu` 0, `sigma` 1, `a` 1, `b` 1, `eta` 3, and hyperband's
  `strict` false (W&B's documented default; the schema of `wandb/sweeps` says true);
- top-level keys W&B documents but fwtrack has no use for (`apiVersion`, `kind`, `controller`,
  `job`, `image_uri`; `metric.impute` and `metric.impute_while_running`) are accepted and ignored;
  W&B's `method: custom` with `scheduler`/`metrics` is refused (fwtrack runs grid, random and
  bayes);
- fwtrack's own options live under the one extension key
  `fwtrack: {seed: int, sampler: tpe | gp, max_attempts: int}`.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from fwtrack.errors import SweepConfigError

__all__ = [
    "BAYES_DISTRIBUTIONS",
    "DEFAULT_COMMAND",
    "DISTRIBUTIONS",
    "GRID_DISTRIBUTIONS",
    "MACROS",
    "Hyperband",
    "Metric",
    "Param",
    "SweepConfig",
    "load_config",
]

DISTRIBUTIONS: tuple[str, ...] = (
    "constant",
    "categorical",
    "categorical_w_probabilities",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
    "q_log_uniform",
    "q_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
    "beta",
    "q_beta",
)

# W&B's grid_search.py: categorical, constant, int_uniform and q_uniform (no probabilities).
GRID_DISTRIBUTIONS: tuple[str, ...] = ("constant", "categorical", "int_uniform", "q_uniform")

# What bayes (Optuna) maps exactly: every distribution but the normal and beta families, which
# Optuna has no counterpart for; see fwtrack.sweeps.bayes for the table.
BAYES_REFUSED: tuple[str, ...] = (
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
    "beta",
    "q_beta",
)
BAYES_DISTRIBUTIONS: tuple[str, ...] = tuple(d for d in DISTRIBUTIONS if d not in BAYES_REFUSED)

DEFAULT_COMMAND: tuple[str, ...] = ("${env}", "${interpreter}", "${program}", "${args}")

# The macros W&B's agent expands (wandb_agent.py and sdk/launch/sweeps/utils.py), each a whole
# argument; `${envvar:NAME}` may also sit inside an argument.
MACROS: tuple[str, ...] = (
    "env",
    "interpreter",
    "program",
    "args",
    "args_no_hyphens",
    "args_json",
    "args_json_file",
    "args_no_boolean_flags",
    "args_no_equals",
    "args_append_hydra",
    "args_override_hydra",
)

_METHODS = ("grid", "random", "bayes")
_GOALS = ("minimize", "maximize")
_SAMPLERS = ("tpe", "gp")
_IMPUTE = ("latest", "best", "worst")
_IMPUTE_RUNNING = ("latest", "best", "worst", "false")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_ENVVAR_RE = re.compile(r"^envvar:[A-Z0-9_]*$")

_TOP_KEYS = (
    "method",
    "parameters",
    "metric",
    "early_terminate",
    "program",
    "command",
    "run_cap",
    "name",
    "description",
    "project",
    "entity",
    "apiVersion",
    "kind",
    "controller",
    "job",
    "image_uri",
    "fwtrack",
)
_IGNORED_TOP_KEYS = ("apiVersion", "kind", "controller", "job", "image_uri")
_METRIC_KEYS = ("name", "goal", "target", "impute", "impute_while_running")
_HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
_FWTRACK_KEYS = ("seed", "sampler", "max_attempts")

# distribution → (required keys, optional keys with W&B's defaults)
_DIST_KEYS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "constant": (("value",), {}),
    "categorical": (("values",), {}),
    "categorical_w_probabilities": (("values", "probabilities"), {}),
    "int_uniform": (("min", "max"), {}),
    "uniform": (("min", "max"), {}),
    "q_uniform": (("min", "max"), {"q": 1.0}),
    "log_uniform": (("min", "max"), {}),
    "log_uniform_values": (("min", "max"), {}),
    "inv_log_uniform": (("min", "max"), {}),
    "inv_log_uniform_values": (("min", "max"), {}),
    "q_log_uniform": (("min", "max"), {"q": 1.0}),
    "q_log_uniform_values": (("min", "max"), {"q": 1.0}),
    "normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "log_normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_log_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "beta": ((), {"a": 1.0, "b": 1.0}),
    "q_beta": ((), {"a": 1.0, "b": 1.0, "q": 1.0}),
}


@dataclass(frozen=True)
class Metric:
    """The metric a sweep optimizes (`metric:`)."""

    name: str
    goal: Literal["minimize", "maximize"] = "minimize"
    target: float | None = None


@dataclass(frozen=True)
class Param:
    """One leaf parameter; `path` is `("optimizer", "lr")` for nested parameters."""

    path: tuple[str, ...]
    distribution: str
    value: Any = None
    values: tuple[Any, ...] | None = None
    probabilities: tuple[float, ...] | None = None
    min: float | None = None
    max: float | None = None
    mu: float | None = None
    sigma: float | None = None
    q: float | None = None
    a: float | None = None
    b: float | None = None

    @property
    def name(self) -> str:
        """The dotted name (`optimizer.lr`)."""
        return ".".join(self.path)


_NEVER_REACHED = 1e15


@dataclass(frozen=True)
class Hyperband:
    """`early_terminate: {type: hyperband, ...}`."""

    min_iter: int | None
    max_iter: int | None
    s: int | None
    eta: float = 3
    strict: bool = False

    def bands(self) -> list[int]:
        """The iteration counts at which runs are judged, as W&B computes them.

        With `max_iter` and `s`: `max_iter / eta^k` for k = 1..s (while ≥ 1), ascending; with
        `min_iter`: `min_iter * eta^k` for k = 0..99 (truncated to integers).
        """
        bands: list[int] = []
        if self.max_iter is not None and self.s is not None:
            band: float = self.max_iter
            for _ in range(int(self.s)):
                band /= self.eta
                if band < 1:
                    break
                bands.append(int(band))
            return sorted(bands)
        if self.min_iter is not None:
            band = self.min_iter
            for _ in range(100):
                if band > _NEVER_REACHED:  # a run logs fewer values; W&B's later bands too
                    break
                bands.append(int(band))
                band *= self.eta
        return bands


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep config; `raw` is what the user gave (JSON-safe) and what is stored."""

    raw: dict[str, Any]
    method: Literal["grid", "random", "bayes"]
    metric: Metric | None
    params: tuple[Param, ...]
    early_terminate: Hyperband | None
    program: str | None
    command: tuple[str, ...] | None
    run_cap: int | None
    name: str | None
    description: str | None
    project: str | None
    entity: str | None
    seed: int | None
    sampler: Literal["tpe", "gp"]
    max_attempts: int

    def to_json(self) -> dict[str, Any]:
        """The config as given (a deep copy of `raw`)."""
        return copy.deepcopy(self.raw)

    def searchable(self) -> tuple[Param, ...]:
        """The parameters that are not constants."""
        return tuple(p for p in self.params if p.distribution != "constant")


# ---------------------------------------------------------------------------------------------
# loading


def load_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> SweepConfig:
    """Load and validate a sweep config from a YAML (or JSON) file path or a mapping.

    Raises `SweepConfigError` naming the key path, the value and what is allowed.
    """
    if isinstance(source, Mapping):
        data: Any = source
        origin = "the sweep config"
    elif isinstance(source, (str, os.PathLike)):
        data = _read_file(os.fspath(source))
        origin = os.fspath(source)
    else:
        raise SweepConfigError(
            f"a sweep config is a YAML file path or a dict, not {type(source).__name__} "
            f"({source!r})"
        )
    if not isinstance(data, Mapping):
        raise SweepConfigError(
            f"{origin}: a sweep config is a mapping of keys (method, parameters, ...), "
            f"not {type(data).__name__} ({_short(data)})"
        )
    try:
        raw = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise SweepConfigError(
            f"{origin}: the sweep config must be JSON-safe (strings, numbers, booleans, null, "
            f"lists and mappings with string keys; no NaN or infinity): {exc}"
        ) from exc
    return _build(cast(dict[str, Any], raw))


def _read_file(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise SweepConfigError(f"cannot read the sweep config {path!r}: {exc}") from exc
    try:
        yaml: Any = importlib.import_module("yaml")
    except ModuleNotFoundError as exc:  # pragma: no cover - pyyaml is a dependency of the extra
        raise ModuleNotFoundError(
            "reading a sweep config file needs PyYAML: pip install 'fwtrack[sweeps]'"
        ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SweepConfigError(f"the sweep config {path!r} is not valid YAML: {exc}") from exc


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _err(path: str, value: Any, allowed: str) -> SweepConfigError:
    return SweepConfigError(f"{path}: {_short(value)} is not valid; {allowed}")


def _unknown(path: str, key: str, allowed: tuple[str, ...] | list[str]) -> SweepConfigError:
    where = f"{path}.{key}" if path else key
    return SweepConfigError(
        f"{where}: unknown key {key!r}; allowed keys here: {', '.join(allowed)}"
    )


def _yaml_hint(v: Any) -> str:
    """YAML 1.1 (PyYAML, and W&B) reads `1e-5` as a string; say how to write the number."""
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return ""
        return (
            f" (YAML reads {v} as a string; write a decimal point, as in 1.0e-5, or `!!float {v}`)"
        )
    return ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _opt_str(raw: Mapping[str, Any], key: str) -> str | None:
    v = raw.get(key)
    if v is None and key not in raw:
        return None
    if not isinstance(v, str):
        raise _err(key, v, "expected a string")
    return v


def _build(raw: dict[str, Any]) -> SweepConfig:
    for key in raw:
        if key in ("metrics", "scheduler"):
            raise SweepConfigError(
                f"{key}: W&B's custom-scheduler key {key!r} is not supported; fwtrack runs "
                "method grid, random or bayes with one `metric`"
            )
        if key not in _TOP_KEYS:
            raise _unknown("", key, _TOP_KEYS)

    if "method" not in raw:
        raise SweepConfigError("method: missing; set method to one of grid, random, bayes")
    method = raw["method"]
    if method not in _METHODS:
        extra = " (W&B's custom method is not supported)" if method == "custom" else ""
        raise _err("method", method, f"allowed: {', '.join(_METHODS)}{extra}")

    _check_ignored(raw)

    metric = _metric(raw.get("metric")) if "metric" in raw else None

    if "parameters" not in raw:
        raise SweepConfigError(
            "parameters: missing; a sweep needs at least one parameter, e.g. "
            "parameters: {lr: {min: 0.0001, max: 0.1}}"
        )
    params = tuple(_parameters(raw["parameters"], ("parameters",), ()))
    seen: dict[str, Param] = {}
    for p in params:
        if p.name in seen:
            raise SweepConfigError(
                f"parameters: {p.name!r} names two parameters (the nested "
                f"{' > '.join(p.path)} and {' > '.join(seen[p.name].path)}); rename one"
            )
        seen[p.name] = p

    early = _early_terminate(raw["early_terminate"]) if "early_terminate" in raw else None
    if early is not None and metric is None:
        raise SweepConfigError(
            "early_terminate: hyperband needs a `metric` to compare runs by; add "
            "metric: {name: ..., goal: minimize|maximize}"
        )

    program = _opt_str(raw, "program")
    command = _command(raw["command"]) if "command" in raw else DEFAULT_COMMAND
    run_cap = None
    if "run_cap" in raw:
        rc = raw["run_cap"]
        if not _is_int(rc) or rc < 1:
            raise _err("run_cap", rc, "expected an integer >= 1 (the most runs the sweep starts)")
        run_cap = int(rc)

    seed: int | None = None
    sampler, max_attempts = "tpe", 3
    if "fwtrack" in raw:
        seed, sampler, max_attempts = _fwtrack(raw["fwtrack"], method)

    if method == "bayes":
        if metric is None:
            raise SweepConfigError(
                "metric: missing; method bayes needs a metric to optimize, e.g. "
                "metric: {name: val_loss, goal: minimize}"
            )
        for p in params:
            if p.distribution not in BAYES_DISTRIBUTIONS:
                raise SweepConfigError(
                    f"parameters.{'.parameters.'.join(p.path)}.distribution: {p.distribution!r} "
                    f"is not supported by method bayes (Optuna has no such distribution); "
                    f"bayes accepts: {', '.join(BAYES_DISTRIBUTIONS)} (or use method random)"
                )
        if sampler == "gp":
            n = sum(1 for p in params if p.distribution != "constant")
            if n > _GP_MAX_PARAMS:
                raise SweepConfigError(
                    f"fwtrack.sampler: 'gp' is for few parameters (at most {_GP_MAX_PARAMS}); "
                    f"this sweep searches {n}; use sampler: tpe"
                )
    elif method == "grid":
        for p in params:
            if p.distribution not in GRID_DISTRIBUTIONS:
                raise SweepConfigError(
                    f"parameters.{'.parameters.'.join(p.path)}: distribution "
                    f"{p.distribution!r} cannot be enumerated by method grid; grid accepts "
                    f"value, values (without probabilities), int_uniform and q_uniform "
                    f"(or use method random or bayes)"
                )

    return SweepConfig(
        raw=raw,
        method=method,
        metric=metric,
        params=params,
        early_terminate=early,
        program=program,
        command=command,
        run_cap=run_cap,
        name=_opt_str(raw, "name"),
        description=_opt_str(raw, "description"),
        project=_opt_str(raw, "project"),
        entity=_opt_str(raw, "entity"),
        seed=seed,
        sampler=cast(Literal["tpe", "gp"], sampler),
        max_attempts=max_attempts,
    )


_GP_MAX_PARAMS = 10


def _check_ignored(raw: Mapping[str, Any]) -> None:
    for key in _IGNORED_TOP_KEYS:
        if key in raw and key != "controller" and not isinstance(raw[key], str):
            raise _err(key, raw[key], "expected a string")
    if "kind" in raw and raw["kind"] != "sweep":
        raise _err("kind", raw["kind"], "allowed: sweep")
    if "controller" in raw:
        c = raw["controller"]
        if not isinstance(c, Mapping) or "type" not in c:
            raise _err("controller", c, "expected {type: local | cloud}")
        if c["type"] not in ("local", "cloud"):
            raise _err("controller.type", c["type"], "allowed: local, cloud")


def _metric(m: Any) -> Metric:
    if not isinstance(m, Mapping):
        raise _err("metric", m, "expected a mapping {name: ..., goal: minimize|maximize}")
    for key in m:
        if key not in _METRIC_KEYS:
            raise _unknown("metric", key, _METRIC_KEYS)
    if "name" not in m:
        raise SweepConfigError("metric.name: missing; name the metric the runs log")
    name = m["name"]
    if not isinstance(name, str) or not name:
        raise _err("metric.name", name, "expected a non-empty string (the logged metric's key)")
    goal = m.get("goal", "minimize")
    if goal not in _GOALS:
        raise _err("metric.goal", goal, "allowed: minimize, maximize")
    target = m.get("target")
    if target is not None and not _is_number(target):
        raise _err("metric.target", target, "expected a number")
    if "impute" in m and m["impute"] not in _IMPUTE:
        raise _err("metric.impute", m["impute"], f"allowed: {', '.join(_IMPUTE)}")
    if "impute_while_running" in m and m["impute_while_running"] not in _IMPUTE_RUNNING:
        raise _err(
            "metric.impute_while_running",
            m["impute_while_running"],
            f"allowed: {', '.join(_IMPUTE_RUNNING)}",
        )
    return Metric(name=name, goal=goal, target=None if target is None else float(target))


def _parameters(d: Any, where: tuple[str, ...], prefix: tuple[str, ...]) -> list[Param]:
    path = ".".join(where)
    if not isinstance(d, Mapping):
        raise _err(path, d, "expected a mapping of parameter names to their specs")
    if not d:
        raise SweepConfigError(f"{path}: empty; give at least one parameter")
    out: list[Param] = []
    for name, spec in d.items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise _err(
                f"{path}.{name}",
                name,
                "a parameter name starts with a letter or _ and holds letters, digits, _ . -",
            )
        out.extend(_parameter(spec, (*where, name), (*prefix, name)))
    return out


def _parameter(spec: Any, where: tuple[str, ...], ppath: tuple[str, ...]) -> list[Param]:
    path = ".".join(where)
    if not isinstance(spec, Mapping):
        raise _err(
            path,
            spec,
            "a parameter is a mapping: {value: ...}, {values: [...]}, {min: ..., max: ...}, "
            "{distribution: ..., ...} or {parameters: {...}}",
        )
    if "parameters" in spec:
        for key in spec:
            if key != "parameters":
                raise SweepConfigError(
                    f"{path}.{key}: unknown key {key!r} next to `parameters`; a nested group "
                    "holds only `parameters`"
                )
        return _parameters(spec["parameters"], (*where, "parameters"), ppath)

    dist = spec.get("distribution")
    if "distribution" in spec:
        if dist == "categorical" and "probabilities" in spec:
            dist = "categorical_w_probabilities"
        if dist not in DISTRIBUTIONS:
            raise _err(f"{path}.distribution", dist, f"allowed: {', '.join(DISTRIBUTIONS)}")
    elif "value" in spec:
        dist = "constant"
    elif "values" in spec:
        dist = "categorical_w_probabilities" if "probabilities" in spec else "categorical"
    elif "min" in spec and "max" in spec:
        dist = "int_uniform" if _is_int(spec["min"]) and _is_int(spec["max"]) else "uniform"
    else:
        raise SweepConfigError(
            f"{path}: {_short(dict(spec))} does not say what to search; give value, values, "
            "min and max, a distribution, or nested parameters"
        )
    assert isinstance(dist, str)
    required, defaults = _DIST_KEYS[dist]
    allowed = ("distribution", *required, *defaults)
    for key in spec:
        if key not in allowed:
            raise SweepConfigError(
                f"{path}.{key}: unknown key {key!r} for distribution {dist}; allowed keys: "
                f"{', '.join(allowed)}"
            )
    for key in required:
        if key not in spec:
            raise SweepConfigError(f"{path}.{key}: missing; distribution {dist} needs {key}")
    fields: dict[str, Any] = dict(defaults)
    for key in ("mu", "sigma", "q", "a", "b"):
        if key in spec:
            v = spec[key]
            if not _is_number(v):
                raise _err(f"{path}.{key}", v, f"expected a number{_yaml_hint(v)}")
            fields[key] = v
    if fields.get("sigma", 0) < 0:
        raise _err(f"{path}.sigma", fields["sigma"], "expected a number >= 0")
    for key in ("a", "b"):
        if fields.get(key, 0) < 0:
            raise _err(f"{path}.{key}", fields[key], "expected a number >= 0")
    if "q" in fields and fields["q"] <= 0:
        raise _err(f"{path}.q", fields["q"], "expected a number > 0")

    kw: dict[str, Any] = {}
    if dist == "constant":
        kw["value"] = spec["value"]
    if "values" in required:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise _err(f"{path}.values", values, "expected a non-empty list")
        kw["values"] = tuple(values)
    if "probabilities" in required:
        probs = spec["probabilities"]
        if not isinstance(probs, list) or not all(_is_number(x) and x >= 0 for x in probs):
            raise _err(f"{path}.probabilities", probs, "expected a list of numbers >= 0")
        if len(probs) != len(spec["values"]):
            raise SweepConfigError(
                f"{path}.probabilities: {len(probs)} probabilities for {len(spec['values'])} "
                "values; give one probability per value"
            )
        total = math.fsum(probs)
        if abs(total - 1.0) > 1e-8 + 1e-5:
            raise SweepConfigError(
                f"{path}.probabilities: {_short(probs)} sums to {total:g}; the probabilities "
                "must sum to 1"
            )
        kw["probabilities"] = tuple(float(x) for x in probs)
    if "min" in required:
        lo, hi = spec["min"], spec["max"]
        check = _is_int if dist == "int_uniform" else _is_number
        kind = "an integer" if dist == "int_uniform" else "a number"
        for key, v in (("min", lo), ("max", hi)):
            if not check(v):
                raise _err(f"{path}.{key}", v, f"distribution {dist} needs {kind}{_yaml_hint(v)}")
        if lo >= hi:
            raise SweepConfigError(
                f"{path}.min: {lo!r} is not less than max {hi!r}; min must be below max"
            )
        if dist.endswith("_values") and lo <= 0:
            raise _err(f"{path}.min", lo, f"distribution {dist} takes values, so min must be > 0")
        kw["min"], kw["max"] = lo, hi
    for key in ("mu", "sigma", "q", "a", "b"):
        if key in fields:
            kw[key] = fields[key]
    return [Param(path=ppath, distribution=dist, **kw)]


def _early_terminate(et: Any) -> Hyperband:
    if not isinstance(et, Mapping):
        raise _err("early_terminate", et, "expected {type: hyperband, min_iter: ...}")
    for key in et:
        if key not in _HYPERBAND_KEYS:
            raise _unknown("early_terminate", key, _HYPERBAND_KEYS)
    if et.get("type") != "hyperband":
        raise _err("early_terminate.type", et.get("type"), "allowed: hyperband")
    min_iter = et.get("min_iter")
    max_iter = et.get("max_iter")
    s = et.get("s")
    if min_iter is not None and (not _is_int(min_iter) or min_iter < 1):
        raise _err("early_terminate.min_iter", min_iter, "expected an integer >= 1")
    if max_iter is not None and (not _is_int(max_iter) or max_iter < 1):
        raise _err("early_terminate.max_iter", max_iter, "expected an integer >= 1")
    if s is not None and (not _is_number(s) or s < 1 or s != int(s)):
        raise _err("early_terminate.s", s, "expected a whole number >= 1")
    eta = et.get("eta", 3)
    if not _is_number(eta) or eta <= 1:
        raise _err("early_terminate.eta", eta, "expected a number > 1")
    strict = et.get("strict", False)
    if not isinstance(strict, bool):
        raise _err("early_terminate.strict", strict, "expected true or false")
    if min_iter is None and (max_iter is None or s is None):
        raise SweepConfigError(
            "early_terminate: hyperband needs min_iter, or max_iter and s; e.g. "
            "{type: hyperband, min_iter: 3}"
        )
    hb = Hyperband(
        min_iter=min_iter if max_iter is None or s is None else None,
        max_iter=max_iter if max_iter is not None and s is not None else None,
        s=int(s) if max_iter is not None and s is not None else None,
        eta=eta,
        strict=strict,
    )
    if not hb.bands():
        raise SweepConfigError(
            f"early_terminate: max_iter {max_iter} and eta {eta} give no band to judge runs at "
            "(max_iter / eta < 1); increase max_iter or decrease eta"
        )
    return hb


def _command(cmd: Any) -> tuple[str, ...]:
    if not isinstance(cmd, list) or not all(isinstance(c, str) or _is_number(c) for c in cmd):
        raise _err(
            "command",
            cmd,
            "expected a list of arguments, e.g. [${env}, ${interpreter}, ${program}, ${args}]",
        )
    if not cmd:
        return DEFAULT_COMMAND  # W&B: an empty command means the default one
    out = tuple(str(c) for c in cmd)
    for i, c in enumerate(out):
        # W&B expands a macro only when it is the whole argument (`${envvar:NAME}` anywhere);
        # `${...}` inside a longer argument reaches the program as written, as with W&B.
        if c.startswith("${") and c.endswith("}") and c.count("${") == 1:
            name = c[2:-1]
            if name not in MACROS and not _ENVVAR_RE.match(name):
                raise SweepConfigError(
                    f"command[{i}]: unknown macro {c!r}; allowed: "
                    + ", ".join("${" + n + "}" for n in MACROS)
                    + ", ${envvar:NAME}"
                )
    return out


def _fwtrack(ext: Any, method: str) -> tuple[int | None, str, int]:
    if not isinstance(ext, Mapping):
        raise _err(
            "fwtrack", ext, "expected a mapping {seed: int, sampler: tpe|gp, max_attempts: int}"
        )
    for key in ext:
        if key not in _FWTRACK_KEYS:
            raise _unknown("fwtrack", key, _FWTRACK_KEYS)
    seed = ext.get("seed")
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise _err("fwtrack.seed", seed, "expected an integer >= 0")
    sampler = ext.get("sampler", "tpe")
    if sampler not in _SAMPLERS:
        raise _err("fwtrack.sampler", sampler, "allowed: tpe, gp")
    if "sampler" in ext and method != "bayes":
        raise SweepConfigError(
            f"fwtrack.sampler: {sampler!r} applies only to method bayes (this sweep's method is "
            f"{method}); remove it"
        )
    attempts = ext.get("max_attempts", 3)
    if not _is_int(attempts) or attempts < 1:
        raise _err("fwtrack.max_attempts", attempts, "expected an integer >= 1")
    return seed, sampler, int(attempts)
