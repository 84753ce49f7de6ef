"""`Run.link_artifact`, `Run.link_model` and `Run.use_model` (python/fwtrack/sdk/run.py calls
these), and the run's link thread (docs/registry.md, "Links from runs").

`link_artifact` returns a `ModelVersionHandle` at once. The run's link thread takes the links
in call order: it waits until the artifact thread is through with the artifact, then

- offline: links it in the local registry and keeps the link for `fwtrack sync`
  (`links.write_pending`);
- online: keeps the link (so a crash or a server that is down loses nothing), waits until
  the run's uploader committed the version on the server, and makes the link there
  (`links.replay`). A link the server could not take now is made by `finish()` (bounded by
  the upload timeout) or by `fwtrack sync`.

A failed link never raises in the training loop: it is reported once as a warning and
raised by the handle's `wait()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fwtrack.artifacts.artifact import Artifact
from fwtrack.artifacts.registry import check_aliases
from fwtrack.artifacts.worker import warn_from_thread
from fwtrack.errors import (
    ArtifactError,
    LinkTimeoutError,
    RegistryError,
    RegistryRequestError,
)
from fwtrack.registry import links
from fwtrack.registry.local import LocalModels
from fwtrack.registry.models import ModelVersion
from fwtrack.registry.refs import ModelRef, parse_model_name, parse_model_ref

if TYPE_CHECKING:
    from fwtrack.registry.remote import RemoteModels
    from fwtrack.sdk.run import Run

__all__ = ["LinkWorker", "ModelVersionHandle", "link_artifact", "link_model", "use_model"]

MODEL_TYPE = "model"
_WORKERS: weakref.WeakSet[LinkWorker] = weakref.WeakSet()


class ModelVersionHandle:
    """A link in flight (`run.link_artifact`): `wait()` returns the `ModelVersion` once the
    link is made (None for a disabled run) and raises the error of a link that failed."""

    def __init__(self, target: ModelRef, artifact: Artifact | None) -> None:
        self.target = target
        self.artifact = artifact
        self.link_id: str | None = None
        self._done = threading.Event()
        self._result: ModelVersion | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = "linked" if self._result is not None else "failed" if self._error else "linking"
        name = self.artifact.name if self.artifact is not None else "?"
        return f"<ModelVersionHandle {name} -> {self.target.model} {state}>"

    @property
    def done(self) -> bool:
        """True once the link is made or has failed."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> ModelVersion | None:
        """The model version once linked; RegistryError (or the artifact's ArtifactError)
        when the link failed, LinkTimeoutError after `timeout` seconds (the link goes on)."""
        if not self._done.wait(timeout):
            raise LinkTimeoutError(
                f"the link of {self.artifact.name if self.artifact else 'the artifact'!r} to "
                f"{self.target} was not made within {timeout:g} s; it goes on in the "
                "background (and at finish())\nhint: call wait() again, or wait() without a "
                "timeout"
            )
        if self._error is not None:
            raise self._error
        return self._result

    def _resolve(self, version: ModelVersion | None) -> None:
        self._result = version
        self._done.set()

    def _fail(self, error: BaseException) -> None:
        if not isinstance(error, RegistryError | ArtifactError | ValueError | TypeError):
            error = RegistryError(f"linking to {self.target} failed: {error}")
        self._error = error
        self._done.set()


@dataclass
class _Job:
    handle: ModelVersionHandle
    artifact: Artifact
    aliases: list[str]


class LinkWorker:
    """One thread per run, started by the first link; links are made in call order."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._open: list[ModelVersionHandle] = []
        self._waiting: dict[str, ModelVersionHandle] = {}  # link id -> handle (pending links)
        self._warned = False
        self._stop = threading.Event()
        self._remote: tuple[RemoteModels, str] | None = None
        _WORKERS.add(self)

    def submit(self, job: _Job) -> ModelVersionHandle:
        with self._lock:
            self._open.append(job.handle)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name=f"fwtrack-links-{self._run.id}", daemon=True
                )
                self._thread.start()
        self._queue.put(job)
        return job.handle

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._link(job)
            except BaseException as exc:  # reported, never raised in the training loop
                job.handle._fail(exc)
            finally:
                if job.handle.done and job.handle._error is not None:
                    self._warn(job.handle, job.handle._error)
                with self._lock, contextlib.suppress(ValueError):
                    self._open.remove(job.handle)

    def _warn(self, handle: ModelVersionHandle, exc: BaseException) -> None:
        if self._warned:
            return
        self._warned = True
        warn_from_thread(
            f"fwtrack: linking {handle.artifact.name if handle.artifact else 'an artifact'!r}"
            f" to {handle.target} failed ({str(exc).splitlines()[0]}); the run goes on. "
            "The handle's wait() raises the error (later failures of this run are not "
            "warned again)"
        )

    def remote(self) -> tuple[RemoteModels, str]:
        """The server's registry for this run and the entity the run uploads to."""
        if self._remote is None:
            self._remote = remote_models(self._run)
        return self._remote

    # -- one link ----------------------------------------------------------------------------

    def _link(self, job: _Job) -> None:
        from fwtrack.artifacts.worker import is_online

        run = self._run
        art = job.artifact
        handle = job.handle
        pending = art._pending
        if art._version is None and pending is not None:
            pending.done.wait()
            if pending.error is not None:
                err = pending.error
                raise err if isinstance(err, ArtifactError) else ArtifactError(str(err))
        project, name, digest, log_id = _identity(run, art)
        owner = (art._version or {}).get("entity") if is_online(run) else None
        run_ref = {"project": run.project, "id": run.id}
        doc = links.new_link(
            entity=handle.target.entity,
            model=handle.target.model,
            project=project,
            name=name,
            digest=digest,
            aliases=job.aliases,
            run=run_ref,
            artifact_entity=owner,
        )
        handle.link_id = str(doc["id"])
        if not is_online(run):
            local = LocalModels(Path(run.dir).parent.parent)
            answer = local.link(
                None,
                handle.target.model,
                {"project": project, "name": name, "ref": digest},
                job.aliases,
                run_ref,
            )
            if run.mode == "offline":
                links.write_pending(run.dir, doc)
            handle._resolve(ModelVersion.from_json(answer, local.artifacts))
            return
        links.write_pending(run.dir, doc)
        with self._lock:
            self._waiting[handle.link_id] = handle
        if log_id is not None:
            from fwtrack.artifacts import staging

            try:
                staging.wait_committed(run.dir, log_id, None, uploader=run._uploader)
            except ArtifactError as exc:
                if "did not commit" in str(exc):  # refused by the server: the link cannot be
                    self._drop(handle.link_id, exc)
                    raise
                return  # the upload stopped: finish() or `fwtrack sync` makes the link
        self.replay(ids={handle.link_id})

    def _drop(self, link_id: str, exc: BaseException) -> None:
        path = links.link_dir(self._run.dir) / f"{link_id}.json"
        with contextlib.suppress(Exception):
            links._move(self._run.dir, path, links.FAILED, {"id": link_id, "error": str(exc)})
        with self._lock:
            self._waiting.pop(link_id, None)

    def replay(self, *, ids: set[str] | None = None, final: bool = False) -> links.ReplayOutcome:
        """Make the run's pending links on its server and settle their handles."""
        try:
            models, entity = self.remote()
        except Exception as exc:  # no server configuration: the links stay pending
            outcome = links.ReplayOutcome()
            outcome.left = [(d, str(exc)) for d in links.pending_links(self._run.dir)]
            return outcome
        outcome = links.replay(self._run.dir, models, artifact_entity=entity, final=final, ids=ids)
        for doc, answer in outcome.done:
            handle = self._take(str(doc["id"]))
            if handle is not None:
                handle._resolve(ModelVersion.from_json(answer, models.artifacts))
        for doc, error in outcome.failed:
            handle = self._take(str(doc["id"]))
            if handle is not None:
                handle._fail(error)
                self._warn(handle, error)
        return outcome

    def _take(self, link_id: str) -> ModelVersionHandle | None:
        with self._lock:
            return self._waiting.pop(link_id, None)

    # -- the end of the run ------------------------------------------------------------------

    def finish(self, timeout: float) -> None:
        """At `finish()`, after the upload: let the thread make the links it holds (at most
        `timeout` seconds), make the pending ones, and settle every handle (a link still
        pending fails its handle with the `fwtrack sync` command that makes it)."""
        from fwtrack.artifacts.worker import is_online

        deadline = time.monotonic() + max(timeout, 0.0)
        self._queue.put(None)
        thread = self._thread
        if thread is not None:
            thread.join(max(deadline - time.monotonic(), 0.0))
        if is_online(self._run) and links.pending_links(self._run.dir):
            from fwtrack.artifacts import staging

            final = not staging.pending_files(self._run.dir)
            self.replay(final=final)
        left = links.pending_links(self._run.dir) if is_online(self._run) else []
        with self._lock:
            handles = [*self._open, *self._waiting.values()]
            self._waiting.clear()
        if left:
            import shlex

            from fwtrack.sdk.values import warn

            sync = f"fwtrack sync {shlex.quote(self._run.dir)}"
            with contextlib.suppress(Exception):
                warn(
                    f"fwtrack: {len(left)} registry link(s) of run {self._run.id!r} are not made "
                    f"on the server yet; they are kept in {links.link_dir(self._run.dir)}. Make "
                    f"them with:\n    {sync}"
                )
        for handle in handles:
            if not handle.done:
                handle._fail(
                    RegistryError(
                        f"the link to {handle.target} is not made yet: the run finished before "
                        f"the server took it; it is kept in {links.link_dir(self._run.dir)}\n"
                        f"hint: make it with `fwtrack sync {self._run.dir}`"
                    )
                )


def remote_models(run: Run) -> tuple[RemoteModels, str]:
    """The server's registry for online run `run` and the entity it uploads to."""
    from fwtrack._http import HttpClient
    from fwtrack.artifacts import staging
    from fwtrack.artifacts.remote import RemoteRegistry
    from fwtrack.registry.remote import RemoteModels

    found = staging.run_client(run)
    if found is None:
        raise RegistryError(
            f"run {run.id!r} has no server for its registry links (set FWTRACK_BASE_URL and an "
            "API key, or log the run offline and `fwtrack sync` it)"
        )
    client, entity = found
    client = HttpClient(client.base_url, client._api_key, timeout=30.0)
    return RemoteModels(client, entity, RemoteRegistry(client, entity)), entity


def _identity(run: Run, art: Artifact) -> tuple[str, str, str, str | None]:
    """(project, name, digest, log id) of the artifact: the log id is set while it is
    staged by this (online) run and not known to be committed yet."""
    version = art._version
    if version is not None:
        return str(version["project"]), str(version["name"]), str(version["digest"]), None
    pending = art._pending
    assert pending is not None
    from fwtrack.artifacts import staging

    committed = staging.committed(run.dir, pending.id)
    if committed is not None:
        return str(committed["project"]), str(committed["name"]), str(committed["digest"]), None
    for path in staging.pending_files(run.dir):
        if path.name.endswith(f"-{pending.id}.json"):
            doc = json.loads(path.read_bytes())
            return str(doc["project"]), str(doc["name"]), str(doc["digest"]), pending.id
    raise ArtifactError(f"artifact {art.name!r}: its staged commit ({pending.id}) is gone")


# -- the run methods ---------------------------------------------------------------------------


def _target(target: object) -> ModelRef:
    return parse_model_name(target, what="link target")


def link_artifact(
    run: Run,
    worker: LinkWorker | None,
    artifact: Artifact,
    target: str,
    aliases: Sequence[str] | None,
) -> ModelVersionHandle:
    """Check the arguments, log a draft first, then hand the link to the run's link thread
    (`worker`; None: a disabled run, which links nothing)."""
    if not isinstance(artifact, Artifact):
        raise TypeError(
            f"link_artifact takes an fwtrack.Artifact, got {type(artifact).__name__} (log a "
            "path with run.link_model(path, name))"
        )
    ref = _target(target)
    wanted = check_aliases(aliases)
    if artifact.type != MODEL_TYPE:
        raise RegistryRequestError(
            f"artifact {artifact.name!r} is of type {artifact.type!r}, not 'model'; only models "
            "can be linked to the registry\nhint: log it as fwtrack.Artifact(name, "
            "type='model'), or use run.link_model(path, name)"
        )
    handle = ModelVersionHandle(ref, artifact)
    if worker is None:
        handle._resolve(None)
        return handle
    if artifact._version is None and artifact._pending is None:
        artifact = run.log_artifact(artifact)
        handle.artifact = artifact
    return worker.submit(_Job(handle, artifact, wanted))


def link_model(
    run: Run,
    worker: LinkWorker | None,
    path: str | os.PathLike[str],
    registered_model_name: str,
    name: str | None,
    aliases: Sequence[str] | None,
) -> ModelVersionHandle:
    """Log the file or directory at `path` as a `model` artifact (`name`, default
    `model-<run id>`), then link it to `registered_model_name`."""
    _target(registered_model_name)
    check_aliases(aliases)
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"link_model takes a path (str), got {type(path).__name__}")
    if not os.path.exists(path):
        raise FileNotFoundError(2, f"link_model: {os.fspath(path)} does not exist", str(path))
    art = run.log_artifact(path, name=name or f"model-{run.id}", type=MODEL_TYPE)
    return link_artifact(run, worker, art, registered_model_name, aliases)


def use_model(run: Run, ref: str) -> str:
    """Resolve `ref` in the run's registry (offline: local, online: the server), use the
    artifact version it links (lineage), download it verified and return the directory."""
    from fwtrack.artifacts.worker import is_online

    parsed = parse_model_ref(ref, what="model reference")
    if is_online(run):
        models: Any = remote_models(run)[0]
    else:
        if parsed.entity is not None:
            raise ValueError(
                f"use_model({ref!r}): this run is not online, and a local directory has no "
                f"entities; use 'registry/{parsed.model}:{parsed.version_ref}'"
            )
        models = LocalModels(Path(run.dir).parent.parent)
    answer = models.version(parsed.entity, parsed.model, parsed.version_ref)
    version = ModelVersion.from_json(answer, models.artifacts)
    art = run.use_artifact(version.artifact)
    return str(art.download())


def _after_fork_in_child() -> None:
    # The parent's link threads do not exist in the child: start afresh there.
    for worker in list(_WORKERS):
        worker._thread = None
        worker._lock = threading.Lock()
        worker._queue = queue.Queue()
        with contextlib.suppress(Exception):
            worker._open.clear()
            worker._waiting.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
