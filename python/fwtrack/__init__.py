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

from typing import TYPE_CHECKING, Any

from fwtrack import _core
from fwtrack.artifacts.artifact import Artifact
from fwtrack.data_types import Audio, Histogram, Html, Image, Table, Video
from fwtrack.errors import FwTrackError, FwTrackWarning
from fwtrack.integrations import _import_hooks  # noqa: F401 (report_to="fwtrack" for transformers)
from fwtrack.sdk import run as _run
from fwtrack.sdk.run import (
    Run,
    define_metric,
    finish,
    init,
    link_artifact,
    link_model,
    log,
    log_artifact,
    use_artifact,
    use_model,
)
from fwtrack.sdk.settings import Settings

if TYPE_CHECKING:
    from fwtrack.api import Api
    from fwtrack.sweeps import agent, sweep

__version__: str = _core.__version__

__all__ = [
    "Api",
    "Artifact",
    "Audio",
    "FwTrackError",
    "FwTrackWarning",
    "Histogram",
    "Html",
    "Image",
    "Run",
    "Settings",
    "Table",
    "Video",
    "__version__",
    "agent",
    "define_metric",
    "finish",
    "init",
    "link_artifact",
    "link_model",
    "log",
    "log_artifact",
    "run",
    "sweep",
    "use_artifact",
    "use_model",
]

run: Run | None
"""The active run of this process (set by `init`, cleared by `finish`), or None."""


def __getattr__(name: str) -> Any:
    if name == "run":
        return _run.current_run()
    if name == "Api":
        # Imported on first use: the reader pulls in pandas, which `import fwtrack` must not.
        from fwtrack.api import Api

        globals()["Api"] = Api
        return Api
    if name in ("sweep", "agent"):
        # Sweeps load Optuna, scikit-learn and SQLAlchemy on first use, never at import.
        from fwtrack import sweeps

        value = getattr(sweeps, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fwtrack' has no attribute {name!r}")
