"""Hugging Face Accelerate (and TRL, which logs through it):
`Accelerator(log_with=[FwTrackTracker()])`.

    accelerator = Accelerator(log_with=[FwTrackTracker()])
    accelerator.init_trackers("my-project", config={"lr": 1e-3})
    accelerator.log({"train/loss": loss}, step=step)
    accelerator.end_training()

Only the main process logs (the other processes get no-ops). The project is, in this order,
the tracker's `project=` argument, the `project_name` given to `init_trackers`, the
`FWTRACK_PROJECT` environment variable, `"accelerate"`. Accelerate passes neither
`project_name` nor `init_kwargs` on to tracker objects, so the tracker reads them from the
`init_trackers` call; `init_kwargs={"fwtrack": {...}}` become `fwtrack.init` arguments.

An active run (`fwtrack.init` before `init_trackers`) is reused and left open by
`end_training()`; a run the tracker started is finished by it.

Models and checkpoints: `tracker.log_artifact(path)` logs a file or directory (what
`accelerator.save_model(model, dir)` or `accelerator.save_state(dir)` wrote) as a version of
the `model` artifact `model-<run id>`; the files may change or go right after the call.

    tracker = accelerator.get_tracker("fwtrack")
    accelerator.save_model(model, "out/model")
    tracker.log_artifact("out/model", aliases=["epoch-3"])
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from fwtrack.artifacts.artifact import Artifact
from fwtrack.integrations._checkpoints import Snapshots
from fwtrack.integrations._common import active_or_new_run, require, to_config
from fwtrack.sdk.settings import FWTRACK_PROJECT

if TYPE_CHECKING:
    from fwtrack.sdk.run import Run

__all__ = ["FwTrackTracker"]

DEFAULT_PROJECT = "accelerate"

# accelerate ships no type information: it is `Any` here, at the boundary.
_tracking: Any = require("accelerate.tracking", "transformers")

_F = TypeVar("_F", bound=Callable[..., Any])


def _on_main_process(method: _F) -> _F:
    """accelerate's decorator: run `method` on the main process only (when the tracker's
    `main_process_only` is set), a no-op elsewhere."""
    return cast(_F, _tracking.on_main_process(method))


class FwTrackTracker(_tracking.GeneralTracker):  # type: ignore[misc]
    """An Accelerate tracker writing to fwtrack (see the module docstring).

    Keyword arguments other than `project` go to `fwtrack.init` (`name`, `tags`, `notes`,
    `group`, `dir`, `mode`, `id`, `resume`, ...) when the tracker starts a run.
    """

    name = "fwtrack"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, project: str | None = None, **init: Any) -> None:
        super().__init__()
        self._project = project
        self._init_kwargs = init
        self._run: Run | None = None
        self._owned = False
        self._snapshots = Snapshots()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_run=None, _owned=False, _snapshots=Snapshots())
        return state

    @property
    def tracker(self) -> Run | None:
        """The fwtrack run (`accelerator.get_tracker("fwtrack", unwrap=True)`); None on the
        other processes and before `init_trackers`."""
        return self._run

    @_on_main_process
    def start(self) -> None:
        project_name, init_kwargs = _init_trackers_arguments()
        init = {**init_kwargs, **self._init_kwargs}
        project = self._project or init.pop("project", None) or project_name
        if project is None:
            project = FWTRACK_PROJECT.get() or DEFAULT_PROJECT
        self._run, self._owned = active_or_new_run(DEFAULT_PROJECT, project=project, **init)

    def _active(self) -> Run:
        if self._run is None or self._run.finished:
            self.start()
        assert self._run is not None
        return self._run

    @_on_main_process
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        self._active().config.update(to_config(values))

    @_on_main_process
    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        self._active().log(dict(values), step=step, commit=kwargs.get("commit", True))

    @_on_main_process
    def log_artifact(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        type: str = "model",
        aliases: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Artifact:
        """Log the file or directory at `path` as a version of the artifact `name` (default:
        `model-<run id>` for type `model`, else the file's name) of `type`, with `aliases`
        (`latest` is given by fwtrack) and `metadata`. Returns the `fwtrack.Artifact` at once
        (`wait()` returns once it is stored); None on the other processes.

        What is logged is `path` as it is now (a snapshot of hard links, else a copy): the
        files may be changed or removed as soon as this returns."""
        run = self._active()
        source = os.fspath(path)
        if not os.path.exists(source):
            raise FileNotFoundError(f"log_artifact: nothing at {source!r}")
        if name is None:
            name = (
                f"model-{run.id}" if type == "model" else os.path.basename(os.path.normpath(source))
            )
        artifact = Artifact(name, type, metadata=metadata)
        snapshot = self._snapshots.take(source)
        if os.path.isdir(snapshot):
            artifact.add_dir(snapshot)
        else:
            artifact.add_file(snapshot, os.path.basename(os.path.normpath(source)))
        run.log_artifact(artifact, aliases=aliases)
        self._snapshots.attach(artifact, snapshot)
        self._snapshots.sweep()
        return artifact

    @_on_main_process
    def finish(self) -> None:
        run, owned = self._run, self._owned
        self._run, self._owned = None, False
        if run is None or run.finished:
            return
        if owned:
            run.finish()
        else:
            run.flush()
        self._snapshots.sweep()


def _init_trackers_arguments() -> tuple[str | None, dict[str, Any]]:
    """`project_name` and `init_kwargs["fwtrack"]` of the `Accelerator.init_trackers` call
    that is starting the tracker, if there is one."""
    frame = sys._getframe(1)
    for _ in range(10):
        if frame.f_code.co_name == "init_trackers":
            project = frame.f_locals.get("project_name")
            kwargs = (frame.f_locals.get("init_kwargs") or {}).get(FwTrackTracker.name) or {}
            return (project if isinstance(project, str) and project else None), dict(kwargs)
        if frame.f_back is None:
            break
        frame = frame.f_back
    return None, {}
