"""The model registry (docs/registry.md): registered models whose versions `v0, v1, ...` link
to artifact versions of type `model`, with aliases (`staging`, `production`, ...), protected
aliases, maintainers and an audit trail.

`fwtrack.Api().registry` (`ModelRegistry`) reads and changes it, in a local directory
(`<FWTRACK_DIR>/.artifacts/registry/`, `local.LocalModels`) or on a server
(`remote.RemoteModels`); `run.link_artifact`, `run.link_model` and `run.use_model` link and
use versions from a run (`run_calls`), keeping links the server could not take yet in the run
directory for `finish()` and `fwtrack sync` (`links`).
"""

from __future__ import annotations

from fwtrack.registry.model_registry import ModelRegistry
from fwtrack.registry.models import AuditEntry, ModelVersion, RegisteredModel
from fwtrack.registry.refs import STAGES, ModelRef, parse_model_ref
from fwtrack.registry.run_calls import ModelVersionHandle

__all__ = [
    "STAGES",
    "AuditEntry",
    "ModelRef",
    "ModelRegistry",
    "ModelVersion",
    "ModelVersionHandle",
    "RegisteredModel",
    "parse_model_ref",
]
