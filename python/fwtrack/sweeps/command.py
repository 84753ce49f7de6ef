"""The command a trial runs: W&B's sweep `command` with its macros expanded.

The default command is W&B's `[${env}, ${interpreter}, ${program}, ${args}]`. Macros are whole
arguments, expanded exactly as W&B's agent does (`wandb_agent.py`, `sdk/launch/sweeps/utils.py`):

| macro | expands to |
|---|---|
| `${env}` | `/usr/bin/env` (nothing on Windows) |
| `${interpreter}` | `python` |
| `${program}` | the config's `program` |
| `${args}` | `--key=value` per top-level parameter |
| `${args_no_hyphens}` | `key=value` per top-level parameter |
| `${args_no_boolean_flags}` | `--key=value`, but `True` → `--key` and `False` → omitted |
| `${args_no_equals}` | `--key value` (two arguments) per top-level parameter |
| `${args_append_hydra}` / `${args_override_hydra}` | `+key=value` / `++key=value` |
| `${args_json}` | one argument: the parameters as JSON |
| `${args_json_file}` | the path of a file holding that JSON (the agent writes it) |
| `${envvar:NAME}` | the variable `NAME` (its name when unset); may sit inside an argument |

`value` is Python's `str()` of the value, as W&B formats it: `True`, `None`, `0.001`, and a
nested parameter group as one top-level argument (`--optimizer={'lr': 0.01, 'name': 'adam'}`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from fwtrack.errors import SweepConfigError
from fwtrack.sweeps.config import DEFAULT_COMMAND, SweepConfig

__all__ = ["args_json", "build_command", "macro_values"]

_ENVVAR = re.compile(r"\$\{envvar\:([A-Z0-9_]*)\}")


def args_json(params: Mapping[str, Any]) -> str:
    """The JSON W&B writes for `${args_json}` and into the `${args_json_file}` file."""
    return json.dumps(dict(params))


def macro_values(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """The argument lists of W&B's parameter macros (`args`, `args_no_hyphens`, ...)."""
    flags: list[str] = []
    no_hyphens: list[str] = []
    no_booleans: list[str] = []
    no_equals: list[str] = []
    append_hydra: list[str] = []
    override_hydra: list[str] = []
    for key, value in params.items():
        flag = f"{key}={value}"
        flags.append("--" + flag)
        no_hyphens.append(flag)
        no_equals += [f"--{key}", str(value)]
        append_hydra.append("+" + flag)
        override_hydra.append("++" + flag)
        if isinstance(value, bool):
            if value:
                no_booleans.append("--" + key)
        else:
            no_booleans.append("--" + flag)
    return {
        "args": flags,
        "args_no_hyphens": no_hyphens,
        "args_no_boolean_flags": no_booleans,
        "args_no_equals": no_equals,
        "args_append_hydra": append_hydra,
        "args_override_hydra": override_hydra,
        "args_json": [args_json(params)],
    }


def build_command(
    config: SweepConfig,
    params: dict[str, Any],
    *,
    args_json_file: str,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """The argument list of one trial: `config.command` (or W&B's default) with every macro
    expanded for `params`. `args_json_file` is the path `${args_json_file}` stands for (the
    caller writes `args_json(params)` there); `env` resolves `${envvar:NAME}` (default
    `os.environ`)."""
    environ = os.environ if env is None else env
    command = config.command or DEFAULT_COMMAND
    values = macro_values(params)
    values["interpreter"] = ["python"]
    values["args_json_file"] = [args_json_file]
    values["env"] = [] if sys.platform == "win32" else ["/usr/bin/env"]
    out: list[str] = []
    for arg in command:
        arg = _ENVVAR.sub(lambda m: environ.get(m.group(1), m.group(1)), str(arg))
        if arg.startswith("${") and arg.endswith("}") and arg.count("${") == 1:
            name = arg[2:-1]
            if name == "program":
                if config.program is None:
                    raise SweepConfigError(
                        "program: missing; the sweep's command uses ${program}, so the config "
                        "needs `program: train.py` (or a command without ${program})"
                    )
                out.append(config.program)
                continue
            if name in values:
                out.extend(values[name])
                continue
        out.append(arg)
    return out
