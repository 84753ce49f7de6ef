"""Pending registry links of a run (docs/registry.md, "Links from runs"): a link an online run
could not make yet (its server was down, or the artifact was not committed yet), and every
link an offline run made, waits in the run directory until it is made on the server::

    <run dir>/artifacts/links/pending/<id>.json   {"id", "entity", "model",
                                                  "artifact": {"project", "name", "digest"},
                                                  "aliases", "run": {"project", "id"},
                                                  "created_at"}
    <run dir>/artifacts/links/done/<id>.json      the same + "answer" (ModelVersionOut)
    <run dir>/artifacts/links/failed/<id>.json    the same + "error" (the server's refusal)

`replay` makes them (`POST /registry/{entity}/models/{model}/links` with the digest as the
artifact's ref), in the order they were made: the online run's link thread once the version
is committed, `finish()`, and `fwtrack sync` after the run's artifacts commit. A link whose
artifact version the server does not hold yet (404 / 409) stays pending, unless `final` says
every artifact of the run is committed by now; a refusal (403, 400, ...) moves it to
`failed/`, with the reason.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fwtrack._fsutil import locked, write_atomic
from fwtrack.errors import ModelNotFoundError, RegistryConflictError, RegistryError

if TYPE_CHECKING:
    from fwtrack.registry.remote import RemoteModels

__all__ = ["ReplayOutcome", "link_dir", "pending_links", "replay", "write_pending"]

LINKS = "links"
PENDING = "pending"
DONE = "done"
FAILED = "failed"
_ID = re.compile(r"^[0-9a-f]{32}$")


def link_dir(run_dir: str | os.PathLike[str], part: str = PENDING) -> Path:
    """`<run dir>/artifacts/links/<part>`."""
    return Path(run_dir) / "artifacts" / LINKS / part


def _lock(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / "artifacts" / LINKS / ".lock"


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(doc, ensure_ascii=False, allow_nan=False, sort_keys=True).encode()
    write_atomic(path, data)


def new_link(
    *,
    entity: str | None,
    model: str,
    project: str,
    name: str,
    digest: str,
    aliases: list[str],
    run: dict[str, Any] | None,
    artifact_entity: str | None = None,
) -> dict[str, Any]:
    """A pending link document (not written yet); `artifact_entity` only when the artifact
    version is another entity's than the run's (a version the run used)."""
    artifact: dict[str, Any] = {"project": project, "name": name, "digest": digest}
    if artifact_entity:
        artifact["entity"] = artifact_entity
    return {
        "id": uuid.uuid4().hex,
        "entity": entity,
        "model": model,
        "artifact": artifact,
        "aliases": list(aliases),
        "run": None if not run else {"project": run["project"], "id": run["id"]},
        "created_at": time.time(),
    }


def write_pending(run_dir: str | os.PathLike[str], doc: dict[str, Any]) -> Path:
    """Keep `doc` in `links/pending/<id>.json` (whole or not at all)."""
    link_id = str(doc["id"])
    if not _ID.match(link_id):
        raise ValueError(f"invalid link id {link_id!r}: expected 32 lowercase hex")
    path = link_dir(run_dir) / f"{link_id}.json"
    with locked(_lock(run_dir)):
        _write(path, doc)
    return path


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def pending_links(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The run's pending links, in the order they were made."""
    folder = link_dir(run_dir)
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except FileNotFoundError:
        return []
    docs = [d for d in (_read(folder / n) for n in names) if d is not None]
    return sorted(docs, key=lambda d: (float(d.get("created_at") or 0.0), str(d.get("id"))))


def finished(run_dir: str | os.PathLike[str], link_id: str) -> dict[str, Any] | None:
    """The done (`"answer"`) or failed (`"error"`) document of link `link_id`, else None."""
    for part in (DONE, FAILED):
        doc = _read(link_dir(run_dir, part) / f"{link_id}.json")
        if doc is not None:
            return doc
    return None


@dataclass
class ReplayOutcome:
    """What a replay did: `done` (doc, ModelVersionOut), `failed` (doc, the server's refusal),
    `left` (doc, why it is still pending)."""

    done: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    failed: list[tuple[dict[str, Any], Exception]] = field(default_factory=list)
    left: list[tuple[dict[str, Any], str]] = field(default_factory=list)


def replay(
    run_dir: str | os.PathLike[str],
    models: RemoteModels,
    *,
    artifact_entity: str,
    final: bool = False,
    ids: set[str] | None = None,
) -> ReplayOutcome:
    """Make the run's pending links (of `ids`, or all) on the server of `models`; the
    artifact versions are `artifact_entity`'s (where the run uploads), a link without an
    entity goes to `models`' default entity. Never raises for the server's trouble."""
    from fwtrack._http import AuthenticationError, ServerError

    outcome = ReplayOutcome()
    for doc in pending_links(run_dir):
        link_id = str(doc.get("id"))
        if ids is not None and link_id not in ids:
            continue
        with locked(_lock(run_dir)):
            path = link_dir(run_dir) / f"{link_id}.json"
            if not path.is_file():  # made meanwhile, by another replay
                done = finished(run_dir, link_id)
                if done is not None and "answer" in done:
                    outcome.done.append((doc, done["answer"]))
                continue
            art = doc["artifact"]
            try:
                answer = models.link(
                    doc.get("entity"),
                    str(doc["model"]),
                    {
                        "entity": art.get("entity") or artifact_entity,
                        "project": art["project"],
                        "name": art["name"],
                        "ref": art["digest"],
                    },
                    [str(a) for a in doc.get("aliases") or []],
                    doc.get("run"),
                )
            except (ModelNotFoundError, RegistryConflictError) as exc:
                # The artifact version may not be committed on the server yet.
                if final:
                    _move(run_dir, path, FAILED, {**doc, "error": str(exc)})
                    outcome.failed.append((doc, exc))
                else:
                    outcome.left.append((doc, str(exc)))
                continue
            except RegistryError as exc:
                _move(run_dir, path, FAILED, {**doc, "error": str(exc)})
                outcome.failed.append((doc, exc))
                continue
            except AuthenticationError as exc:
                outcome.left.append((doc, str(exc)))
                continue
            except ServerError as exc:
                if 400 <= exc.status < 500 and exc.status not in (408, 429):
                    _move(run_dir, path, FAILED, {**doc, "error": str(exc)})
                    outcome.failed.append((doc, exc))
                else:
                    outcome.left.append((doc, str(exc)))
                continue
            _move(run_dir, path, DONE, {**doc, "answer": answer})
            outcome.done.append((doc, answer))
    return outcome


def _move(run_dir: str | os.PathLike[str], path: Path, part: str, doc: dict[str, Any]) -> None:
    """Write the outcome into `links/<part>/` first, then drop the pending file."""
    _write(link_dir(run_dir, part) / path.name, doc)
    path.unlink(missing_ok=True)
