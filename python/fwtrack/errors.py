"""Exceptions and warnings raised by fwtrack.

Every exception fwtrack raises on its own account derives from `FwTrackError`; bad arguments
raise the built-in `TypeError`/`ValueError`, and I/O trouble the built-in `OSError` family.
Every warning derives from `FwTrackWarning`, so one filter silences (or escalates) them all::

    warnings.filterwarnings("ignore", category=fwtrack.FwTrackWarning)
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ArtifactNotFoundError",
    "ArtifactVerifyError",
    "FwTrackError",
    "FwTrackWarning",
    "ImportSourceError",
    "LinkTimeoutError",
    "ModelNotFoundError",
    "NoActiveRunError",
    "ReferenceLimitError",
    "RegistryConflictError",
    "RegistryError",
    "RegistryPermissionError",
    "RegistryRequestError",
    "ReportArgumentError",
    "ReportError",
    "ReportNotFoundError",
    "RunFinishedError",
    "RunLockedError",
    "RunNotFoundError",
    "ServerRequiredError",
    "SweepConfigError",
    "SweepError",
    "SweepNotFoundError",
    "SweepStateError",
    "UnsafePathError",
]


class FwTrackError(Exception):
    """The root of every exception fwtrack raises on its own account."""


class NoActiveRunError(FwTrackError):
    """A module-level call (`fwtrack.log`, `fwtrack.define_metric`) with no active run."""


class RunFinishedError(FwTrackError):
    """Logging to, or changing, a run after `finish()`."""


class RunNotFoundError(FwTrackError):
    """`resume="must"` for a run id that has no run log."""


class RunLockedError(FwTrackError):
    """The run is open for writing in another live process."""


class UnsafePathError(FwTrackError, ValueError):
    """A name from outside that is not safe to use as a local path: an entity, project, run id
    or file path in a server's answer or a run log (`..`, `/`, an absolute path, NUL, too
    long), or a path that would lead out of the cache or the download folder. Nothing was
    written."""


class ServerRequiredError(FwTrackError, ValueError):
    """A call that manages a server's users, keys or teams on an `Api` of a local directory."""


class ArtifactError(FwTrackError):
    """An artifact could not be logged, committed, found or changed: a failed background log
    (raised by `wait()`), a change to a committed (immutable) version, a download that could
    not be completed."""


class ArtifactNotFoundError(ArtifactError, LookupError):
    """`use_artifact`/`Api().artifact` of a name, version or alias that does not exist; the
    message lists what does."""


class ArtifactVerifyError(ArtifactError):
    """`verify(raise_on_error=True)` found missing, changed or extra files; `.report` is the
    `VerifyReport`."""

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class ReferenceLimitError(ArtifactError, ValueError):
    """`add_reference(uri, max_objects=N)` found more than N objects under the URI; nothing
    was added (references never truncate silently)."""


class RegistryError(FwTrackError):
    """The model registry could not do what was asked: a link that failed (raised by the
    handle's `wait()`), a model or version that does not exist, a change the server refused."""


class ModelNotFoundError(RegistryError, LookupError):
    """A registered model, model version or alias that does not exist; the message lists the
    models (or the versions and aliases of the model) that do."""


class RegistryPermissionError(RegistryError):
    """The server refused a registry change (`403`), e.g. moving a protected alias without
    being an admin of the entity or a maintainer of the model; the message is the server's
    (it names the alias and who may move it). `detail` holds it alone."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class RegistryConflictError(RegistryError):
    """A registry change that conflicts with the current state (`409`): a model that exists
    already, or `move_alias(..., expect="vM")` when the alias names another version by now."""


class RegistryRequestError(RegistryError, ValueError):
    """A registry request that cannot be done as asked (`400`): linking an artifact that is
    not of type `model`, setting the alias `latest` or `v<N>`, ..."""


class LinkTimeoutError(RegistryError, TimeoutError):
    """`handle.wait(timeout=...)` of `run.link_artifact` returned before the link was made;
    it goes on in the background (and at `finish()`, or with `fwtrack sync`)."""


class ReportError(FwTrackError):
    """A report could not be saved or loaded (`fwtrack.Report`, `Api().reports`)."""


class ReportArgumentError(ReportError, ValueError, TypeError):
    """A report or block built with a bad argument (or refused by the server as invalid);
    the message names the argument and the fix."""


class ReportNotFoundError(ReportError, LookupError):
    """A report id, path or URL that names no report."""


class SweepError(FwTrackError):
    """A sweep could not be created, found, changed or run (`fwtrack.sweep`, `fwtrack.agent`,
    `fwtrack sweep`, `fwtrack agent`)."""


class SweepConfigError(SweepError, ValueError):
    """A sweep config with an unknown key or an invalid value; the message names the key, the
    value and what is allowed."""


class SweepNotFoundError(SweepError, LookupError):
    """A sweep id that names no sweep (locally: in `<FWTRACK_DIR>/.sweeps`; or on the server)."""


class SweepStateError(SweepError):
    """A sweep change its state does not allow (`409`): resuming a cancelled sweep, ..."""


class ImportSourceError(FwTrackError, ValueError):
    """A run history that `fwtrack import wandb|tensorboard|mlflow` cannot read: a path that
    holds no runs of that tracker, an unreadable record, a tracking URI that cannot be opened.
    The message names the source, what is wrong and the fix; runs already imported are kept."""


class FwTrackWarning(UserWarning):
    """The root of every warning fwtrack reports."""
