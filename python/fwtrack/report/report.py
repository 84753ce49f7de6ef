"""`fwtrack.Report`: a report built, saved and loaded from Python (docs/reports.md, "Python")."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

from fwtrack.errors import ReportArgumentError, ReportNotFoundError
from fwtrack.report.blocks import Block, Image, block_from_json
from fwtrack.report.store import LocalReports, ReportStore, open_store, server_url

__all__ = ["Report", "load"]

_URL = re.compile(r"^#/p/([^/]+)/([^/]+)/reports/([a-z0-9]{10})$")
_PATH = re.compile(r"^(?:(?:([^/]+)/)?([^/]+)/)?([a-z0-9]{10})$")


class Report:
    """A report of `project` (`"project"` or `"entity/project"`): a title, a description and
    an ordered list of blocks (`fwtrack.report.Markdown`, `LinePlot`, ...).

    `save()` creates it (or saves your changes to it) on the server (`FWTRACK_BASE_URL`, else
    the server of `fwtrack login`), else, offline, in the `fwtrack ui` database of the run
    directory (`FWTRACK_DIR`, else `./fwtrack`), and returns its URL.
    """

    def __init__(
        self,
        project: str,
        title: str = "Untitled report",
        description: str = "",
        blocks: Iterable[Block] | None = None,
        entity: str | None = None,
    ) -> None:
        if not isinstance(project, str) or not project.strip("/ "):
            raise ReportArgumentError(
                f"project must be a str like 'mnist' or 'team/mnist', got {project!r:.60}"
            )
        parts = project.strip("/ ").split("/")
        if len(parts) == 2:
            if entity is not None and entity != parts[0]:
                raise ReportArgumentError(
                    f"project {project!r} names entity {parts[0]!r} but entity={entity!r}; "
                    "pass one of them"
                )
            entity, project = parts
        elif len(parts) != 1:
            raise ReportArgumentError(f"project {project!r}: use 'project' or 'entity/project'")
        if not isinstance(title, str) or not title.strip() or len(title) > 256:
            raise ReportArgumentError(
                f"title must be a non-empty str of at most 256 characters, got {title!r:.60}"
            )
        if not isinstance(description, str):
            raise ReportArgumentError(f"description must be a str, got {description!r:.60}")
        self.project = project.strip("/ ") if len(parts) == 1 else project
        self.entity = entity
        self.title = title
        self.description = description
        self.blocks: list[Block] = self._check_blocks(blocks or [])
        self._id: str | None = None
        self._url: str | None = None
        self._version = 0
        self._doc: dict[str, Any] | None = None
        self._store: ReportStore | None = None

    @staticmethod
    def _check_blocks(blocks: Iterable[Block]) -> list[Block]:
        if isinstance(blocks, Block | str):
            raise ReportArgumentError("blocks must be a list of blocks: blocks=[...]")
        out = list(blocks)
        for i, block in enumerate(out):
            if not isinstance(block, Block):
                raise ReportArgumentError(
                    f"blocks[{i}] is {type(block).__name__}, not a block: use "
                    "fwtrack.report.Markdown(...), fwtrack.report.LinePlot(...), ..."
                )
        return out

    def __repr__(self) -> str:
        where = self._url or "not saved"
        return f"<fwtrack Report {self.title!r} ({len(self.blocks)} blocks) {where}>"

    @property
    def id(self) -> str | None:
        """The report's id (10 characters), once saved or loaded."""
        return self._id

    @property
    def url(self) -> str | None:
        """The report's dashboard URL, once saved or loaded."""
        return self._url

    @property
    def version(self) -> int:
        """The saved version this object holds (0 before the first save)."""
        return self._version

    @property
    def frozen_at(self) -> float | None:
        return None if self._doc is None else self._doc.get("frozen_at")

    def _open(self) -> ReportStore:
        if self._store is None:
            self._store = open_store()
        return self._store

    def _adopt(self, doc: dict[str, Any], store: ReportStore) -> None:
        self._store = store
        self._doc = doc
        self._id = str(doc["id"])
        self._url = str(doc["url"])
        self._version = int(doc["version"])
        self.entity = str(doc["entity"])
        self.project = str(doc["project"])
        self.title = str(doc["title"])
        self.description = str(doc["description"])
        self.blocks = [block_from_json(b) for b in doc["blocks"]]

    def _upload_images(self, store: ReportStore, entity: str) -> bool:
        pending = [b for b in self.blocks if isinstance(b, Image) and b.local_file is not None]
        for block in pending:
            assert self._id is not None
            assert block.local_file is not None
            block.src = store.upload(entity, self.project, self._id, block.local_file)
            block.url = None
        return bool(pending)

    def save(self) -> str:
        """Create the report, or save the changes made to this object since it was loaded or
        last saved (merged with other editors' changes per block); returns its URL."""
        store = self._open()
        entity = store.entity(self.entity)
        ids = [b.id for b in self.blocks]
        if len(set(ids)) != len(ids):
            raise ReportArgumentError("two blocks share an id; give each block its own id")
        has_images = any(isinstance(b, Image) and b.local_file is not None for b in self.blocks)
        if self._id is None:
            first = [b for b in self.blocks if not (isinstance(b, Image) and b.local_file)]
            doc = store.create(
                entity,
                self.project,
                {
                    "title": self.title,
                    "description": self.description,
                    "blocks": [b.to_json() for b in first],
                },
            )
            blocks = self.blocks
            self._adopt(doc, store)
            if not has_images:
                return str(self._url)
            self.blocks = blocks  # the images still to upload
        self._upload_images(store, entity)
        ops = self._changes()
        assert self._id is not None
        out = store.patch(
            entity, self.project, self._id, {"base_version": self._version, "ops": ops}
        )
        self._adopt(out["report"], store)
        return str(self._url)

    def _changes(self) -> list[dict[str, Any]]:
        """The operations that turn the document as last loaded or saved into this object:
        only what changed, so another editor's changes to other blocks are kept."""
        saved = self._doc or {"title": None, "description": None, "blocks": []}
        ops: list[dict[str, Any]] = []
        if self.title != saved["title"]:
            ops.append({"op": "set_title", "title": self.title})
        if self.description != saved["description"]:
            ops.append({"op": "set_description", "description": self.description})
        before: dict[str, dict[str, Any]] = {}
        prior: dict[str, str | None] = {}
        last: str | None = None
        for b in saved["blocks"]:
            before[b["id"]] = {k: v for k, v in b.items() if k != "rev"}
            prior[b["id"]], last = last, b["id"]
        after: str | None = None
        for block in self.blocks:
            doc = block.to_json()
            if before.get(block.id) != doc:
                ops.append({"op": "upsert", "block": doc, "after": after})
            elif prior.get(block.id, "") != after:
                ops.append({"op": "move", "id": block.id, "after": after})
            after = block.id
        current = {b.id for b in self.blocks}
        ops += [{"op": "delete", "id": i} for i in before if i not in current]
        return ops

    def delete(self) -> None:
        """Delete the saved report."""
        if self._id is None:
            raise ReportNotFoundError("the report was never saved")
        store = self._open()
        store.delete(store.entity(self.entity), self.project, self._id)
        self._id = self._url = None
        self._version = 0

    def to_json(self) -> dict[str, Any]:
        """The document (title, description, blocks) as the server takes it."""
        return {
            "title": self.title,
            "description": self.description,
            "blocks": [b.to_json() for b in self.blocks],
        }

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        api_key: str | None = None,
        dir: str | os.PathLike[str] | None = None,
    ) -> Report:
        """The report at a dashboard URL (`<server>/#/p/<entity>/<project>/reports/<id>`), read
        from that server; an offline report's URL (no server configured) is read from the
        `fwtrack ui` database of `dir` (else `FWTRACK_DIR`, else `./fwtrack`)."""
        if not isinstance(url, str):
            raise ReportArgumentError(f"url must be a str, got {url!r:.60}")
        parts = urllib.parse.urlsplit(url.strip())
        found = _URL.match("#" + parts.fragment) if parts.fragment else None
        if parts.scheme not in ("http", "https") or found is None:
            raise ReportArgumentError(
                f"{url[:200]!r} is not a report URL; expected "
                "http(s)://<server>/#/p/<entity>/<project>/reports/<id>"
            )
        entity, project, report_id = found.groups()
        store: ReportStore
        if dir is not None or (server_url() is None and api_key is None):
            store = LocalReports(dir) if dir is not None else open_store()
        else:
            base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
            store = open_store(base_url=base, api_key=api_key)
        report = cls(project, entity=entity)
        report._adopt(store.get(entity, project, report_id), store)
        return report

    @classmethod
    def _load(cls, store: ReportStore, path: str) -> Report:
        if not isinstance(path, str):
            raise ReportArgumentError(f"report path must be a str, got {path!r:.60}")
        if path.startswith(("http://", "https://")):
            raise ReportArgumentError("that is a URL: use Report.from_url(url)")
        found = _PATH.match(path.strip().strip("/"))
        if found is None:
            raise ReportArgumentError(
                f"report {path!r:.80}: use '<entity>/<project>/<id>', '<project>/<id>' or the "
                "10-character id"
            )
        entity, project, report_id = found.groups()
        if project is None:
            entity, project = store.locate(report_id)
        entity = store.entity(entity)
        report = cls(project, entity=entity)
        report._adopt(store.get(entity, project, report_id), store)
        return report


def load(
    path: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    dir: str | os.PathLike[str] | None = None,
) -> Report:
    """A saved report: a URL, `"entity/project/id"`, `"project/id"` or a bare id, from the
    server (`base_url`, else `FWTRACK_BASE_URL`, else the server of `fwtrack login`), else from
    the `fwtrack ui` database of `dir` (else `FWTRACK_DIR`, else `./fwtrack`)."""
    if isinstance(path, str) and path.startswith(("http://", "https://")):
        return Report.from_url(path, api_key=api_key, dir=dir)
    return Report._load(open_store(base_url=base_url, api_key=api_key, dir=dir), path)
