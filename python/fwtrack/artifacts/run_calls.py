"""`Run.log_artifact` and `Run.use_artifact` (python/fwtrack/sdk/run.py calls these): argument
checks, then the run's artifact thread (logging) or the registry (using)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fwtrack.artifacts.artifact import Artifact
from fwtrack.artifacts.registry import Registry, check_aliases, check_name, check_type, parse_ref
from fwtrack.artifacts.worker import (
    ArtifactWorker,
    is_online,
    local_registry,
    remote_registry,
    write_record,
)

if TYPE_CHECKING:
    from fwtrack.sdk.run import Run

__all__ = ["log_artifact", "use_artifact"]

DEFAULT_TYPE = "unspecified"


def log_artifact(
    run: Run,
    worker: ArtifactWorker | None,
    artifact_or_path: Artifact | str | os.PathLike[str],
    name: str | None,
    type: str | None,
    aliases: Sequence[str] | None,
) -> Artifact:
    """Check the arguments, then hand the artifact to `worker` (None: a disabled run, which
    logs nothing)."""
    wanted = check_aliases(aliases)
    if isinstance(artifact_or_path, Artifact):
        art = artifact_or_path
        if name is not None and check_name(name) != art.name:
            raise ValueError(
                f"log_artifact(name={name!r}) of the Artifact {art.name!r}: leave name= out "
                "(it is the Artifact's)"
            )
        if type is not None and check_type(type) != art.type:
            raise ValueError(
                f"log_artifact(type={type!r}) of the Artifact {art.name!r} of type {art.type!r}: "
                "leave type= out (it is the Artifact's)"
            )
        if art._version is not None:
            art = art.new_draft()  # logged again: the same digest gives the same version
    elif isinstance(artifact_or_path, str | os.PathLike):
        path = os.fspath(artifact_or_path)
        base = os.path.basename(os.path.normpath(path))
        art = Artifact(name if name is not None else base, type or DEFAULT_TYPE)
        if os.path.isdir(path):
            art.add_dir(path)
        else:
            art.add_file(path)
    else:
        raise TypeError(
            "log_artifact takes an Artifact or a path (str), got "
            f"{artifact_or_path.__class__.__name__}"
        )
    if worker is None:
        art._wanted_aliases = sorted(set(art._wanted_aliases) | set(wanted))
        return art
    return worker.submit(art, wanted)


def registry_for(run: Run) -> Registry:
    return remote_registry(run) if is_online(run) else local_registry(run)


def use_artifact(run: Run, ref_or_artifact: Artifact | str, type: str | None) -> Artifact:
    """Resolve the reference (offline in the local registry, online on the server), record
    the use in the run log (and, locally, a used marker) and return the version."""
    if type is not None:
        check_type(type)
    if isinstance(ref_or_artifact, Artifact):
        art = ref_or_artifact
        if art._version is None and art._pending is None:
            worker = run._artifact_worker()
            art = log_artifact(run, worker, art, None, None, None)
        art.wait()
        version = art._version
        if version is None:  # a disabled run logs nothing
            return art
        registry = art._registry
        asked = f"{art.name}:{version.get('version')}"
    elif isinstance(ref_or_artifact, str):
        ref = parse_ref(ref_or_artifact)
        registry = registry_for(run)
        project = ref.project or run.project
        version = registry.resolve(project, ref.name, ref.ref)
        art = Artifact._from_version(version, registry)
        asked = ref_or_artifact
    else:
        raise TypeError(
            "use_artifact takes a reference like 'mnist-train:latest' or an Artifact, got "
            f"{ref_or_artifact.__class__.__name__}"
        )
    if type is not None and version.get("type") != type:
        raise ValueError(
            f"use_artifact({asked!r}, type={type!r}): the artifact is of type "
            f"{version.get('type')!r}; pass type={version.get('type')!r} or leave type= out"
        )
    if run.mode == "disabled":
        return art
    body: dict[str, Any] = {
        "ts": time.time(),
        "entity": version.get("entity"),
        "project": version["project"],
        "name": version["name"],
        "type": version.get("type"),
        "digest": version["digest"],
        "version": version.get("version"),
        "ref": asked,
    }
    write_record(run, "used", body)
    if not is_online(run) and registry is not None and hasattr(registry, "mark_used"):
        registry.mark_used(version, run.project, run.id)
    return art
