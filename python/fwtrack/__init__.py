"""fwtrack: fast, durable experiment tracking with a W&B-style API.

    import fwtrack

    run = fwtrack.init(project="mnist", config={"lr": 1e-3})
    for step in range(100):
        fwtrack.log({"train/loss": 1 / (step + 1)})
    fwtrack.finish()

    runs = fwtrack.Api().runs("mnist")

The API reference is docs/api.md; environment variables are listed in docs/env.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fwtrack import _core
from fwtrack.artifacts.artifact import Artifact
from fwtrack.data_types import Audio, Histogram, Html, Image, Table, Video
from fwtrack.errors import FwTrackError, FwTrackWarning
from fwtrack.integrations import _import_hooks  # noqa: F401 (report_to="fwtrack" for transformers)
from fwtrack.sdk import run as _run
from fwtrack.sdk.login import login
from fwtrack.sdk.run import (
    Metric,
    Run,
    define_metric,
    finish,
    init,
    link_artifact,
    link_model,
    log,
    log_artifact,
    log_code,
    log_model,
    save,
    use_artifact,
    use_model,
)
from fwtrack.sdk.settings import Settings

if TYPE_CHECKING:
    from fwtrack import plot, report
    from fwtrack import sweeps as _sweeps
    from fwtrack.api import Api
    from fwtrack.data_types.object3d import Object3D
    from fwtrack.plot import plot_table
    from fwtrack.report import Report
    from fwtrack.sdk.alerts import AlertLevel, alert
    from fwtrack.sdk.config import Config
    from fwtrack.sdk.summary import Summary
    from fwtrack.sdk.watch import unwatch, watch
    from fwtrack.sweeps import sweep

    agent = _sweeps.agent

__version__: str = _core.__version__

__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "Audio",
    "FwTrackError",
    "FwTrackWarning",
    "Histogram",
    "Html",
    "Image",
    "Metric",
    "Object3D",
    "Report",
    "Run",
    "Settings",
    "Table",
    "Video",
    "__version__",
    "agent",
    "alert",
    "config",
    "define_metric",
    "finish",
    "init",
    "link_artifact",
    "link_model",
    "log",
    "log_artifact",
    "log_code",
    "log_model",
    "login",
    "plot",
    "plot_table",
    "report",
    "run",
    "save",
    "summary",
    "sweep",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]

run: Run | None
"""The active run of this process (set by `init`, cleared by `finish`), or None."""
config: Config
"""The active run's config; before `init`, a config the next `init` merges into its own."""
summary: Summary
"""The active run's summary (empty, and refusing changes, before `init`)."""

# Names loaded on first use ("module" or "module:attr"): they pull in pandas, torch hooks,
# Optuna, ... which `import fwtrack` must not. A name whose module is not installed fails with
# an AttributeError naming it.
_LAZY: dict[str, str] = {
    "Api": "fwtrack.api:Api",
    "sweep": "fwtrack.sweeps:sweep",
    "agent": "fwtrack.sweeps:agent",
    "alert": "fwtrack.sdk.alerts:alert",
    "AlertLevel": "fwtrack.sdk.alerts:AlertLevel",
    "watch": "fwtrack.sdk.watch:watch",
    "unwatch": "fwtrack.sdk.watch:unwatch",
    "plot": "fwtrack.plot",
    "plot_table": "fwtrack.plot:plot_table",
    "Object3D": "fwtrack.data_types.object3d:Object3D",
    "Report": "fwtrack.report:Report",
    "report": "fwtrack.report",
}

# Names of `wandb` (module attributes) that fwtrack has no counterpart for, and what to use.
WANDB_ALTERNATIVES: dict[str, str] = {
    "setup": "fwtrack needs no setup: call fwtrack.init()",
    "teardown": "use fwtrack.finish()",
    "join": "use fwtrack.finish()",
    "attach": (
        "a run is written by one process: continue it with fwtrack.init(id=..., resume='allow')"
    ),
    "controller": "use fwtrack.sweep() and fwtrack.agent() (docs/sweeps.md)",
    "wandb_agent": "use fwtrack.agent() (docs/sweeps.md)",
    "agents": "use fwtrack.agent() (docs/sweeps.md)",
    "restore": (
        "use fwtrack.Api().run(path).files() and download the file you need; "
        "fwtrack.save(path) stores a file with the run"
    ),
    "mark_preempting": (
        "use fwtrack.finish(exit_code=...) and continue later with "
        "fwtrack.init(id=..., resume='allow')"
    ),
    "pin_config_keys": "use fwtrack.config; the dashboard's run table chooses its columns",
    "require": "fwtrack has no optional features to require: call fwtrack.init()",
    "ensure_configured": "use fwtrack.login()",
    "sagemaker_auth": "set FWTRACK_BASE_URL and FWTRACK_API_KEY (docs/env.md)",
    "Error": "catch fwtrack.FwTrackError",
    "CommError": "catch fwtrack.FwTrackError (server trouble is retried and warned about)",
    "UsageError": "catch ValueError or TypeError (fwtrack's errors for bad arguments)",
    "termsetup": "use print(); fwtrack warns with warnings.warn(..., fwtrack.FwTrackWarning)",
    "termlog": "use print(); fwtrack warns with warnings.warn(..., fwtrack.FwTrackWarning)",
    "termwarn": "use warnings.warn(message, fwtrack.FwTrackWarning)",
    "termerror": "use print(message, file=sys.stderr)",
    "Config": "use fwtrack.config (an fwtrack.sdk.config.Config)",
    "Graph": "log the model's summary as fwtrack.Html or text; model graphs are not drawn",
    "Plotly": "use fwtrack.Html(figure.to_html())",
    "Molecule": "store the file with fwtrack.save(path) or in an fwtrack.Artifact",
    "EvalTable": "use fwtrack.Table",
    "JoinedTable": "use fwtrack.Table (join the rows before logging)",
    "Classes": "pass classes= to fwtrack.Image",
    "box3d": "use fwtrack.Object3D.from_point_cloud(points, boxes=...)",
    "ArtifactTTL": "artifact versions are kept until deleted (fwtrack.Api().artifact(...))",
    "visualize": "use fwtrack.plot_table(vega_lite_spec, table, fields)",
    "profiler": "use torch.profiler and log its results with fwtrack.log()",
    "api": "use fwtrack.Api()",
    "apis": "use fwtrack.Api() (fwtrack.api)",
    "wandb_sdk": "use fwtrack.sdk",
    "wandb_lib": "use fwtrack.sdk",
    "wandb_torch": "use fwtrack.watch(model)",
    "wandb": "use fwtrack itself (or `import fwtrack.wandb as wandb`)",
    "env": "use fwtrack.sdk.settings (the FWTRACK_* variables, docs/env.md)",
    "helper": "pass the config as a dict to fwtrack.init(config=...)",
    "trigger": "fwtrack has no init hooks: run your code after fwtrack.init()",
    "util": "use fwtrack.sdk",
    "proto": "fwtrack's run log format is described in docs/format.md",
    "analytics": "fwtrack sends no analytics",
    "patched": "fwtrack patches no libraries: use an integration (fwtrack.integrations)",
    "jupyter": "fwtrack.init() shows the run in a notebook by itself (docs/notebooks.md)",
    "integration": "use fwtrack.integrations",
    "keras": "use fwtrack.integrations.keras.FwTrackCallback",
    "xgboost": "use fwtrack.integrations.xgboost.FwTrackCallback",
    "lightgbm": "log LightGBM's evaluation results with fwtrack.log() in a callback",
    "catboost": "log CatBoost's metrics with fwtrack.log()",
    "sklearn": "use fwtrack.integrations.sklearn",
    "tensorflow": "use fwtrack.integrations.keras.FwTrackCallback",
    "tensorboard": "import event files with `fwtrack import tensorboard LOGDIR`",
    "gym": "log the environment's frames with fwtrack.log({'video': fwtrack.Video(frames)})",
    "sacred": "log Sacred's config and metrics with fwtrack.init(config=...) and fwtrack.log()",
    "annotations": "a `from __future__` import of wandb's, not an API: nothing to use in fwtrack",
}


def __getattr__(name: str) -> Any:
    if name == "run":
        return _run.current_run()
    if name == "config":
        return _run.module_config()
    if name == "summary":
        return _run.module_summary()
    target = _LAZY.get(name)
    if target is not None:
        value = _load(name, target)
        globals()[name] = value
        return value
    alternative = WANDB_ALTERNATIVES.get(name)
    if alternative is not None:
        raise AttributeError(
            f"module 'fwtrack' has no attribute {name!r} (wandb.{name}): {alternative}"
        )
    raise AttributeError(f"module 'fwtrack' has no attribute {name!r}")


def _load(name: str, target: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise  # a dependency missing inside the module: the user must see it
        raise AttributeError(
            f"fwtrack.{name} is not available in this install ({module_name} is missing); "
            "upgrade fwtrack"
        ) from None
    if not attr:
        return module
    try:
        return getattr(module, attr)
    except AttributeError:
        raise AttributeError(
            f"fwtrack.{name} is not available in this install ({target} is missing); "
            "upgrade fwtrack"
        ) from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
