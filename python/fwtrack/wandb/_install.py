"""`install()`: make `import wandb` (and every `wandb.*` submodule the shim has) resolve to
`fwtrack.wandb` in this process, even with the real wandb installed.

A `sys.meta_path` finder placed first answers `wandb` and `wandb.<sub>` with the module
`fwtrack.wandb.<sub>` itself (one module object under both names, so classes and state are
shared); a `wandb.*` module the shim does not have fails with ModuleNotFoundError naming the
shim's modules. Modules of the real wandb imported before `install()` are dropped from
`sys.modules` (objects that already hold them keep them: call `install()` first).
`install()` also routes Hugging Face's `report_to="wandb"` and Lightning's `WandbLogger` to
fwtrack (fwtrack.integrations._import_hooks).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["install", "installed", "uninstall"]

_PREFIX = "fwtrack.wandb"
_lock = threading.Lock()


def _target(fullname: str) -> str | None:
    if fullname == "wandb":
        return _PREFIX
    if fullname.startswith("wandb."):
        return _PREFIX + fullname[len("wandb") :]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Hands out the already imported `fwtrack.wandb.*` module; keeps its own spec on it."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self._spec = module.__spec__

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return self._module

    def exec_module(self, module: ModuleType) -> None:
        # importlib set the alias's spec on the module: give it its own back.
        module.__spec__ = self._spec
        if self._spec is not None and self._spec.loader is not None:
            module.__loader__ = self._spec.loader


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        name = _target(fullname)
        if name is None:
            return None
        if importlib.util.find_spec(name) is None:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: fwtrack's wandb shim (fwtrack.wandb.install()) "
                f"has {', '.join(_shim_modules())}; see docs/wandb.md for what maps to what, "
                "or import the real wandb in a process that does not call install()",
                name=fullname,
            )
        module = importlib.import_module(name)
        is_package = hasattr(module, "__path__")
        return ModuleSpec(fullname, _AliasLoader(module), is_package=is_package)


def _shim_modules() -> list[str]:
    return [
        "wandb",
        "wandb.apis",
        "wandb.apis.public",
        "wandb.errors",
        "wandb.integration.keras",
        "wandb.integration.lightning",
        "wandb.integration.sklearn",
        "wandb.integration.xgboost",
        "wandb.plot",
        "wandb.sdk",
        "wandb.sdk.wandb_run",
        "wandb.sdk.wandb_settings",
        "wandb.sklearn",
    ]


_finder = _Finder()


def installed() -> bool:
    """Whether `install()` is in effect in this process."""
    return _finder in sys.meta_path


def install() -> None:
    """Make `import wandb` resolve to fwtrack's shim in this process (idempotent)."""
    with _lock:
        for name in [n for n in sys.modules if n == "wandb" or n.startswith("wandb.")]:
            module = sys.modules[name]
            if not getattr(module, "__name__", "").startswith(_PREFIX):
                del sys.modules[name]
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
        sys.modules["wandb"] = importlib.import_module(_PREFIX)
    from fwtrack.integrations import _import_hooks

    _import_hooks.route_wandb()


def uninstall() -> None:
    """Undo `install()`: `import wandb` finds the real wandb again (modules imported through
    the shim stay as they are in the code that holds them)."""
    with _lock:
        if _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        for name in [n for n in sys.modules if n == "wandb" or n.startswith("wandb.")]:
            if getattr(sys.modules[name], "__name__", "").startswith(_PREFIX):
                del sys.modules[name]
