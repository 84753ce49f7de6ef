"""Post-import hooks: call a function right after a module is first imported, without ever
importing it ourselves.

`import fwtrack` must not import any framework, yet `TrainingArguments(report_to="fwtrack")`
has to work whichever of `fwtrack` and `transformers` is imported first. So `import fwtrack`
installs one `sys.meta_path` finder that watches for the few modules listed in `install()`;
when one of them is imported, the finder wraps its loader, and right after the module's code
has run the hook registers fwtrack with it. A module imported already gets its hook at once.

The finder answers every other import with one dict lookup, removes itself once nothing is
left to watch, and never makes an import fail: a hook that raises is reported as one
`FwTrackWarning` and the import goes on.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from fwtrack.errors import FwTrackWarning

__all__ = ["install", "route_lightning_modules", "route_wandb", "when_imported"]

Hook = Callable[[ModuleType], None]

_lock = threading.Lock()
_pending: dict[str, list[Hook]] = {}


def when_imported(name: str, hook: Hook) -> None:
    """Call `hook(module)` once module `name` is imported: now if it is already, else right
    after its code has run."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _pending.setdefault(name, []).append(hook)
            if _finder not in sys.meta_path:
                sys.meta_path.insert(0, _finder)
            return
    _call(hook, name, module)


def _call(hook: Hook, name: str, module: ModuleType) -> None:
    try:
        hook(module)
    except Exception as exc:  # never break the user's import
        warnings.warn(
            f"fwtrack could not register with {name} ({type(exc).__name__}: {exc}); "
            "pass the fwtrack callback explicitly instead",
            FwTrackWarning,
            stacklevel=2,
        )


def _fire(name: str, module: ModuleType) -> None:
    with _lock:
        hooks = _pending.pop(name, [])
        if not _pending and _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
    for hook in hooks:
        _call(hook, name, module)


class _Finder:
    """Finds nothing itself: for a watched module it asks the other finders and wraps the
    loader of the spec they return."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _pending:
            return None
        for finder in list(sys.meta_path):
            find_spec = getattr(finder, "find_spec", None)
            if finder is self or find_spec is None:
                continue
            spec: ModuleSpec | None = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, fullname)
        return spec

    def invalidate_caches(self) -> None:
        pass


class _Loader(importlib.abc.Loader):
    """Runs the real loader, then the hooks. The module is given its real loader back before
    its code runs, so nothing (inspect, importlib.resources, reload) ever sees this one."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _fire(self._name, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


_finder = _Finder()


def _register_transformers(module: ModuleType) -> None:
    from fwtrack.integrations.transformers import register_report_to

    register_report_to(module)


def _route_transformers_wandb(module: ModuleType) -> None:
    from fwtrack.integrations.transformers import FwTrackCallback

    module.INTEGRATION_TO_CALLBACK["wandb"] = FwTrackCallback


def _route_lightning_wandb(module: ModuleType) -> None:
    shim = sys.modules.get("fwtrack.wandb.integration.lightning")
    if shim is not None and not hasattr(shim, "WandbLogger"):
        # Lightning is being imported by the shim's own module, which routes Lightning's
        # modules itself once its class exists (route_lightning_modules).
        return
    from fwtrack.wandb.integration.lightning import WandbLogger

    module.WandbLogger = WandbLogger  # type: ignore[attr-defined]


# Lightning's modules that hold its `WandbLogger` (the `loggers` package re-exports it).
_LIGHTNING_WANDB = (
    "lightning.pytorch.loggers.wandb",
    "lightning.pytorch.loggers",
    "pytorch_lightning.loggers.wandb",
    "pytorch_lightning.loggers",
)


def route_lightning_modules() -> None:
    """Point the `WandbLogger` of every Lightning module already imported at the shim's
    (when `fwtrack.wandb.install()` is in effect)."""
    for name in _LIGHTNING_WANDB:
        module = sys.modules.get(name)
        if module is not None:
            _route_lightning_wandb(module)


def route_wandb() -> None:
    """Send W&B's framework hooks to fwtrack (called by `fwtrack.wandb.install()`):
    transformers' `report_to="wandb"` names `FwTrackCallback`, and Lightning's
    `WandbLogger` is `fwtrack.wandb.integration.lightning.WandbLogger` (FwTrackLogger with
    WandbLogger's arguments) — now for modules already imported, else once they are."""
    when_imported("transformers.integrations.integration_utils", _route_transformers_wandb)
    for name in _LIGHTNING_WANDB:
        when_imported(name, _route_lightning_wandb)


def install() -> None:
    """Watch the framework modules fwtrack registers with (called by `import fwtrack`)."""
    when_imported("transformers.integrations.integration_utils", _register_transformers)


install()
