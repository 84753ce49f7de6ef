"""Importers: runs recorded by W&B, TensorBoard and MLflow as local fwtrack runs.

    import_wandb(path, project=None, entity=None, dir=None, progress=None) -> ImportReport
    import_tensorboard(logdir, project=None, entity=None, dir=None, progress=None)
    import_mlflow(tracking_uri=None, experiment=None, project=None, entity=None, dir=None,
                  progress=None)

Also `fwtrack import wandb|tensorboard|mlflow ...` (importers/cli.py). Each importer reads its
source with the tracker's own library (imported when called, never at `import fwtrack`) and
writes the history as it happened: steps, timestamps and runtimes of the source. Importing
twice adds nothing. See docs/importers.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fwtrack.importers._write import ImportReport

if TYPE_CHECKING:
    from fwtrack.importers.mlflow import import_mlflow
    from fwtrack.importers.tensorboard import import_tensorboard
    from fwtrack.importers.wandb import import_wandb

__all__ = ["ImportReport", "import_mlflow", "import_tensorboard", "import_wandb"]

_LAZY = {
    "import_wandb": "fwtrack.importers.wandb",
    "import_tensorboard": "fwtrack.importers.tensorboard",
    "import_mlflow": "fwtrack.importers.mlflow",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fwtrack.importers' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
