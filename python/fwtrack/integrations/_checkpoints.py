"""Checkpoints logged as artifacts while training goes on (Lightning, transformers).

`run.log_artifact` returns at once and reads the files on the run's artifact thread, while the
trainer may already be removing the checkpoint (top-k, `save_total_limit`) or writing a new one
under the same name (`last.ckpt`). So what is logged is a snapshot taken at once: hard links
(no bytes copied; the trainers write a checkpoint to a temporary file and rename it, so a link
keeps the bytes of the version it was taken of), or a copy where links cannot be made. A
snapshot is removed once its artifact version is stored, or when the artifact is dropped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import weakref

from fwtrack.artifacts.artifact import Artifact
from fwtrack.errors import ArtifactError

__all__ = ["Snapshots", "settled"]

SNAPSHOT_PREFIX = ".fwtrack-snapshot-"


def settled(artifact: Artifact, timeout: float | None = 0) -> bool:
    """Whether the log of `artifact` is over (stored, or failed: a failure is reported by the
    run as a warning), waiting at most `timeout` seconds (None: as long as it takes)."""
    try:
        artifact.wait(timeout)
    except TimeoutError:
        return False
    except ArtifactError:
        return True
    return True


class Snapshots:
    """The snapshots of one logger or callback, each tied to the artifact that logs it."""

    def __init__(self) -> None:
        self._live: list[weakref.finalize[..., Artifact]] = []

    def take(self, source: str) -> str:
        """A snapshot of the file or directory `source`: a path holding its bytes as they are
        now, beside it when possible (links need the same file system)."""
        parent = os.path.dirname(os.path.abspath(source))
        try:
            root = tempfile.mkdtemp(prefix=SNAPSHOT_PREFIX, dir=parent)
        except OSError:
            root = tempfile.mkdtemp(prefix=SNAPSHOT_PREFIX)
        target = os.path.join(root, os.path.basename(os.path.normpath(source)))
        try:
            if os.path.isdir(source):
                shutil.copytree(source, target, copy_function=_link_or_copy)
            else:
                _link_or_copy(source, target)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return target

    def attach(self, artifact: Artifact, snapshot: str) -> None:
        """Remove `snapshot` once `artifact` is stored (`sweep`) or garbage."""
        root = os.path.dirname(snapshot)
        finalizer = weakref.finalize(artifact, shutil.rmtree, root, True)
        # Not at interpreter exit: the run's own exit hook may still be storing the artifact.
        finalizer.atexit = False
        self._live.append(finalizer)

    def sweep(self, timeout: float | None = 0) -> None:
        """Remove the snapshots of artifacts whose log is over, waiting at most `timeout`
        seconds in all (None: as long as it takes); the others go when their artifact is
        dropped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        live = []
        for finalizer in self._live:
            info = finalizer.peek()
            if info is None:
                continue
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if settled(info[0], left):
                finalizer()
            else:
                live.append(finalizer)
        self._live = live

    def __len__(self) -> int:
        return sum(1 for f in self._live if f.alive)


def _link_or_copy(source: str, target: str) -> str:
    try:
        os.link(source, target)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        shutil.copy2(source, target)
    return target
