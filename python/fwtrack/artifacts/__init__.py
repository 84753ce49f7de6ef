"""Artifacts: versioned, content-addressed sets of files with lineage (docs/artifacts.md).

`Artifact` (also `fwtrack.Artifact`) is the user-facing class; `run.log_artifact` and
`run.use_artifact` log and use versions; `fwtrack.Api().artifact(...)` reads them back.
The local registry lives under `<FWTRACK_DIR>/.artifacts` (`local.LocalRegistry`), the
server's behind `remote.RemoteRegistry`; both implement `registry.Registry`.
"""

from __future__ import annotations

from fwtrack.artifacts.artifact import Artifact, ArtifactEntry, RunRef, VerifyReport
from fwtrack.artifacts.manifest import Manifest, ManifestEntry
from fwtrack.artifacts.registry import Registry

__all__ = [
    "Artifact",
    "ArtifactEntry",
    "Manifest",
    "ManifestEntry",
    "Registry",
    "RunRef",
    "VerifyReport",
]
