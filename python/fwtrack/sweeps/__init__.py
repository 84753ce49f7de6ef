"""Sweeps: hyperparameter search (grid, random, bayes) with hyperband early termination, run by
agents on any number of machines; W&B sweep configs are accepted as they are (docs/sweeps.md).

    sweep_id = fwtrack.sweep({"method": "grid", "metric": {"name": "loss"},
                              "parameters": {"lr": {"values": [0.1, 0.01]}}}, project="demo")
    fwtrack.agent(sweep_id, function=train, count=2)     # or `fwtrack agent <id>` in a shell

The controller lives in the server when one is set (`FWTRACK_BASE_URL`, or the default of
`fwtrack login`), else in the run directory (`<FWTRACK_DIR>/.sweeps/sweeps.db`). Importing this
package imports neither Optuna, scikit-learn nor SQLAlchemy: they load on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

# The submodule `agent` is imported first (it is light: no Optuna, scikit-learn or SQLAlchemy)
# so that the function `agent` below is what `fwtrack.sweeps.agent` names: importing a
# submodule later would otherwise set the package's attribute to the module.
from fwtrack.sweeps import agent as _agent_module  # noqa: F401
from fwtrack.sweeps.agent import TrialStopped

__all__ = ["TrialStopped", "agent", "sweep"]


def sweep(
    config: Mapping[str, Any] | str | os.PathLike[str],
    *,
    project: str | None = None,
    entity: str | None = None,
    seed: int | None = None,
) -> str:
    """Create a sweep from `config` (a dict, or the path of a YAML file) and return its id.

    The project is `project`, else the config's `project`, else `FWTRACK_PROJECT`, else
    `uncategorized`; on a server the entity is `entity`, else the config's `entity`, else
    `FWTRACK_ENTITY`, else your own. `seed` (else the config's `fwtrack: {seed: ...}`, else a
    random one) makes the sweep's suggestions reproducible. Raises SweepConfigError naming the
    key, the value and what is allowed when the config is invalid.
    """
    created = _create(config, project=project, entity=entity, seed=seed)
    return str(created["id"])


def _create(
    config: Mapping[str, Any] | str | os.PathLike[str],
    *,
    project: str | None,
    entity: str | None,
    seed: int | None,
    dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Create the sweep; its JSON plus `"agent_ref"`, the reference `fwtrack agent` takes."""
    from fwtrack.sdk.settings import FWTRACK_ENTITY, FWTRACK_PROJECT
    from fwtrack.sweeps.client import open_sweeps
    from fwtrack.sweeps.config import load_config

    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    loaded = load_config(config if isinstance(config, Mapping) else os.fspath(config))
    client = open_sweeps(dir)
    project = project or loaded.project or FWTRACK_PROJECT.get() or "uncategorized"
    if client.remote:
        entity = entity or loaded.entity or FWTRACK_ENTITY.get()
    created = client.create(entity, project, loaded.to_json(), seed=seed)
    return {**created, "agent_ref": client.agent_ref(created)}


def agent(
    sweep_id: str,
    function: Callable[[], Any] | None = None,
    count: int | None = None,
    project: str | None = None,
    entity: str | None = None,
) -> int:
    """Run trials of sweep `sweep_id` until it is done (or `count` trials have run); returns
    the number of trials run.

    With `function`, each trial runs in this process: `function()` is called in a thread with
    the trial's run id, project and parameters in the environment, so the `fwtrack.init()` it
    makes is the trial's run and `run.config` holds the parameters. A trial the sweep stops
    (hyperband, cancel) has its run finished as `stopped` and `TrialStopped` raised in its
    thread. Without `function`, each trial runs the sweep's `command` as a subprocess, as
    `fwtrack agent` does. `project`/`entity` locate a bare sweep id on a server
    (`entity/project/id` works too).
    """
    from fwtrack.sweeps.agent import Agent
    from fwtrack.sweeps.client import open_sweeps

    if not isinstance(sweep_id, str) or not sweep_id.strip("/ "):
        raise TypeError(f"sweep_id must be the str `fwtrack.sweep` returned, got {sweep_id!r}")
    client = open_sweeps()
    ref = sweep_id.strip().strip("/")
    if client.remote and "/" not in ref and project is not None:
        ref = f"{entity}/{project}/{ref}" if entity else f"{project}/{ref}"
    return Agent(client, ref, function=function, count=count).run()
