"""W&B's Python API on fwtrack: change `import wandb` to `import fwtrack.wandb as wandb`.

    import fwtrack.wandb as wandb

    run = wandb.init(project="mnist", config={"lr": 1e-3})
    wandb.config.batch_size = 32
    for step in range(100):
        wandb.log({"loss": 1 / (step + 1)})
    wandb.finish()

Or leave every `import wandb` as it is and call `fwtrack.wandb.install()` first (or start the
program with `python -m fwtrack.wandb train.py`): `import wandb`, `import wandb.sdk...`,
`from wandb.integration.keras import ...` and `from wandb.apis.public import Api` then resolve
to this package in that process, Lightning's own `WandbLogger` becomes the one here, and
Hugging Face's `report_to="wandb"` logs to fwtrack.

Every name forwards to fwtrack's own (looked up on first use); what maps to what and what
differs is in docs/wandb.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import fwtrack
from fwtrack.errors import FwTrackError
from fwtrack.sdk.run import current_run, finish
from fwtrack.wandb._forward import resolve
from fwtrack.wandb._install import install, installed, uninstall

if TYPE_CHECKING:
    from fwtrack.sdk.run import Run

__all__ = [
    "Alert",
    "AlertLevel",
    "Api",
    "Artifact",
    "Audio",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "Object3D",
    "Settings",
    "Table",
    "Video",
    "agent",
    "alert",
    "config",
    "define_metric",
    "finish",
    "init",
    "install",
    "installed",
    "link_artifact",
    "link_model",
    "log",
    "log_artifact",
    "log_code",
    "log_model",
    "login",
    "plot",
    "plot_table",
    "run",
    "save",
    "sklearn",
    "summary",
    "sweep",
    "uninstall",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]

__version__: str = fwtrack.__version__

Error = FwTrackError
"""W&B's `wandb.Error`: the root of fwtrack's exceptions."""

# Where each forwarded name lives in fwtrack, tried in order. The module-level shortcut on
# `fwtrack` comes first; the module that defines it second, so the name works either way.
_FORWARD: dict[str, tuple[str, ...]] = {
    "Api": ("fwtrack.api:Api",),
    "Artifact": ("fwtrack:Artifact",),
    "Audio": ("fwtrack:Audio",),
    "Histogram": ("fwtrack:Histogram",),
    "Html": ("fwtrack:Html",),
    "Image": ("fwtrack:Image",),
    "Table": ("fwtrack:Table",),
    "Video": ("fwtrack:Video",),
    "Settings": ("fwtrack:Settings",),
    "Object3D": ("fwtrack:Object3D", "fwtrack.data_types.object3d:Object3D"),
    "Alert": ("fwtrack:Alert", "fwtrack.sdk.alerts:Alert"),
    "AlertLevel": ("fwtrack:AlertLevel", "fwtrack.sdk.alerts:AlertLevel"),
    "alert": ("fwtrack:alert", "fwtrack.sdk.alerts:alert"),
    "define_metric": ("fwtrack:define_metric",),
    "log_artifact": ("fwtrack:log_artifact",),
    "use_artifact": ("fwtrack:use_artifact",),
    "link_artifact": ("fwtrack:link_artifact",),
    "link_model": ("fwtrack:link_model",),
    "use_model": ("fwtrack:use_model",),
    "log_model": ("fwtrack:log_model", "fwtrack.sdk.run:log_model"),
    "log_code": ("fwtrack:log_code", "fwtrack.sdk.files:log_code"),
    "save": ("fwtrack:save", "fwtrack.sdk.files:save"),
    "watch": ("fwtrack:watch", "fwtrack.sdk.watch:watch"),
    "unwatch": ("fwtrack:unwatch", "fwtrack.sdk.watch:unwatch"),
    "plot_table": ("fwtrack:plot_table", "fwtrack.plot:plot_table"),
    "sweep": ("fwtrack.sweeps:sweep",),
    "agent": ("fwtrack.sweeps:agent",),
    "plot": ("fwtrack.wandb.plot",),
    "sklearn": ("fwtrack.wandb.sklearn",),
    "apis": ("fwtrack.wandb.apis",),
    "integration": ("fwtrack.wandb.integration",),
    "sdk": ("fwtrack.wandb.sdk",),
    "errors": ("fwtrack.wandb.errors",),
}


def init(*args: Any, **kwargs: Any) -> Run:
    """`wandb.init`: start a run (fwtrack.init with W&B's arguments). Arguments left unset
    come from the `FWTRACK_*` variables, and in this process (the shim is imported) from their
    `WANDB_*` counterparts (`WANDB_NOTES`, `WANDB_RUN_GROUP`, `WANDB_JOB_TYPE`,
    `WANDB_RESUME`, ...: fwtrack.envvar)."""
    return fwtrack.init(*args, **kwargs)


def log(
    data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, **kw: Any
) -> None:
    """`wandb.log`: log one row to the active run (W&B's `commit=None` means commit)."""
    run = current_run()
    if run is None:
        raise FwTrackError("wandb.log() called before wandb.init()\nhint: call wandb.init() first")
    if kw:
        # wandb 0.31 takes only `sync` more, and ignores it.
        unknown = sorted(set(kw) - {"sync"})
        if unknown:
            raise TypeError(
                f"wandb.log() got unexpected keyword arguments {unknown}: it takes data, step "
                "and commit"
            )
    run.log(
        data if type(data) is dict else dict(data),
        step=step,
        commit=True if commit is None else commit,
    )


def login(
    anonymous: str | None = None,
    key: str | None = None,
    relogin: bool | None = None,
    host: str | None = None,
    force: bool | None = None,
    timeout: int | None = None,
    verify: bool = False,
    referrer: str | None = None,
) -> bool:
    """`wandb.login` (W&B's argument order): `fwtrack.login` — log in to the fwtrack server at
    `host` (default FWTRACK_BASE_URL/WANDB_BASE_URL, else `fwtrack login`'s). In offline or
    disabled mode (FWTRACK_MODE/WANDB_MODE) without a `host`, nothing to log in to: False, as
    wandb returns offline."""
    from fwtrack.sdk.settings import FWTRACK_MODE

    if host is None and FWTRACK_MODE.get() in ("offline", "disabled"):
        return False
    return fwtrack.login(
        key=key,
        relogin=relogin,
        host=host,
        force=force,
        timeout=timeout,
        verify=verify,
        referrer=referrer,
        anonymous=anonymous,
    )


def __getattr__(name: str) -> Any:
    if name == "run":
        return fwtrack.run
    if name in ("config", "summary"):
        # Not cached: the active run's, which changes with every init.
        try:
            return getattr(fwtrack, name)
        except AttributeError:
            pass
        run = fwtrack.run
        if run is None:
            raise AttributeError(
                f"wandb.{name} is only there while a run is active here\n"
                "hint: call wandb.init() first"
            ) from None
        return getattr(run, name)
    if name not in _FORWARD:
        alternative = fwtrack.WANDB_ALTERNATIVES.get(name)
        if alternative is not None:
            raise AttributeError(f"wandb.{name} has no fwtrack equivalent: {alternative}")
    value = resolve(name, _FORWARD, "wandb")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FORWARD) | {"run", "config", "summary"})
