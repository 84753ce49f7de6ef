"""`wandb.integration.lightning.WandbLogger` (also Lightning's own
`lightning.pytorch.loggers.WandbLogger` after `fwtrack.wandb.install()`): `FwTrackLogger`
with `WandbLogger`'s arguments."""

from __future__ import annotations

import os
import warnings
from typing import Any, Literal

from fwtrack.errors import FwTrackWarning
from fwtrack.integrations.lightning import FwTrackLogger
from fwtrack.sdk.run import Run

__all__ = ["WandbLogger"]

# WandbLogger's **kwargs go to wandb.init; these are the ones FwTrackLogger takes.
_INIT_KWARGS = ("config", "tags", "notes", "group", "job_type", "mode", "settings")
# wandb.init arguments with nothing to do for a logger's run here (accepted, not used).
_IGNORED = ("anonymous", "reinit", "save_code", "resume", "entity", "force", "magic")


class WandbLogger(FwTrackLogger):
    """Lightning's `WandbLogger(name=None, save_dir=".", version=None, offline=False,
    dir=None, id=None, anonymous=None, project=None, log_model=False, experiment=None,
    prefix="", checkpoint_name=None, add_file_policy="mutable", **kwargs)` logging to fwtrack.

    `save_dir`/`dir` is the fwtrack runs directory (default `FWTRACK_DIR`, else ./fwtrack)
    rather than the parent of a `wandb/` folder; `version`/`id` is the run id; `kwargs` are
    `wandb.init` arguments (`config`, `tags`, `notes`, `group`, `job_type`, `mode`,
    `settings` are used; `entity`, `anonymous`, `reinit`, `save_code`, `resume` are
    accepted and ignored, with one warning). `experiment=` (a run) logs into that run.
    `log_model` and `checkpoint_name` are FwTrackLogger's (the same meaning as W&B's).
    """

    def __init__(
        self,
        name: str | None = None,
        save_dir: str | os.PathLike[str] = ".",
        version: str | None = None,
        offline: bool = False,
        dir: str | os.PathLike[str] | None = None,
        id: str | None = None,
        anonymous: bool | None = None,
        project: str | None = None,
        log_model: Literal["all"] | bool = False,
        experiment: Run | None = None,
        prefix: str = "",
        checkpoint_name: str | None = None,
        add_file_policy: Literal["mutable", "immutable"] = "mutable",
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - set(_INIT_KWARGS) - set(_IGNORED))
        if unknown:
            raise TypeError(
                f"WandbLogger got wandb.init arguments fwtrack has no meaning for: {unknown}; "
                f"it takes {', '.join(_INIT_KWARGS)} (docs/wandb.md)"
            )
        ignored = sorted(set(kwargs) & set(_IGNORED) | ({"anonymous"} if anonymous else set()))
        if ignored:
            warnings.warn(
                f"WandbLogger: ignoring {', '.join(ignored)} (no meaning for a fwtrack run; "
                "docs/wandb.md)",
                FwTrackWarning,
                stacklevel=2,
            )
        root = dir if dir is not None else (None if os.fspath(save_dir) == "." else save_dir)
        run_id = id if id is not None else version
        if experiment is not None:
            run_id = experiment.id
            project = experiment.project
            root = os.path.dirname(os.path.dirname(experiment.dir))
        init = {k: kwargs[k] for k in _INIT_KWARGS if k in kwargs}
        super().__init__(
            project=project,
            name=name,
            config=init.pop("config", None),
            tags=init.pop("tags", None),
            prefix=prefix,
            id=run_id,
            save_dir=root,
            offline=offline,
            log_model=log_model,
            checkpoint_name=checkpoint_name,
            **init,
        )

    def watch(
        self, model: Any, log: str | None = "gradients", log_freq: int = 100, log_graph: bool = True
    ) -> None:
        """`WandbLogger.watch`: `fwtrack.watch` on this logger's run (`log_graph` is not
        recorded by fwtrack and is ignored)."""
        from fwtrack.wandb import watch

        self.experiment  # noqa: B018 (starts the run)
        watch(model, log=log, log_freq=log_freq)

    def log_text(
        self,
        key: str,
        columns: list[str] | None = None,
        data: list[list[Any]] | None = None,
        dataframe: Any = None,
        step: int | None = None,
    ) -> None:
        """`WandbLogger.log_text`: a table of text, as `log_table`."""
        self.log_table(key, columns=columns, data=data, dataframe=dataframe, step=step)

    def log_video(
        self, key: str, videos: list[Any], step: int | None = None, **kwargs: list[Any]
    ) -> None:
        """`WandbLogger.log_video`: a list of videos under `key` (keywords per video)."""
        from fwtrack import Video
        from fwtrack.integrations.lightning import _media_list

        self.log_metrics({key: _media_list("log_video", videos, kwargs, Video)}, step)


def _route_lightning() -> None:
    from fwtrack.integrations._import_hooks import route_lightning_modules
    from fwtrack.wandb._install import installed

    if installed():
        route_lightning_modules()


_route_lightning()
