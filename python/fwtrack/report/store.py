"""Where reports are saved: a fwtrack server (`RemoteReports`, over its API) or, offline, the
database of `fwtrack ui` in the run directory (`LocalReports`,
`<dir>/.fwtrack-ui/fwtrack.db`, created and migrated as `fwtrack ui` does), so `fwtrack ui`
shows the report. Both answer the server's Report JSON (docs/reports.md)."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fwtrack.errors import ReportArgumentError, ReportError, ReportNotFoundError

if TYPE_CHECKING:
    from fwtrack._http import HttpClient
    from fwtrack.server.db import Database, Project

__all__ = [
    "LOCAL_UI_URL",
    "LocalReports",
    "RemoteReports",
    "ReportStore",
    "open_store",
]

LOCAL_UI_URL = "http://127.0.0.1:8080"
"""Where `fwtrack ui` answers by default: the base of an offline report's URL."""

_MISSING_EXTRA = (
    "saving a report without a server writes it into the `fwtrack ui` database, which needs "
    "the server extra: pip install 'fwtrack[server]' (or set FWTRACK_BASE_URL / run "
    "`fwtrack login <url>` to save it on a server)"
)


class ReportStore(Protocol):
    where: str

    def entity(self, entity: str | None) -> str: ...
    def create(self, entity: str, project: str, doc: dict[str, Any]) -> dict[str, Any]: ...
    def get(self, entity: str, project: str, report_id: str) -> dict[str, Any]: ...
    def patch(
        self, entity: str, project: str, report_id: str, body: dict[str, Any]
    ) -> dict[str, Any]: ...
    def list(self, entity: str, project: str) -> list[dict[str, Any]]: ...
    def locate(self, report_id: str) -> tuple[str, str]: ...
    def upload(self, entity: str, project: str, report_id: str, path: Path) -> str: ...
    def delete(self, entity: str, project: str, report_id: str) -> None: ...


_MEDIA = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


def _media_type(path: Path) -> str:
    media = _MEDIA.get(path.suffix.lower())
    if media is None:
        raise ReportArgumentError(
            f"Image({str(path)[:200]!r}): a report takes PNG, JPEG, GIF or WebP files "
            "(SVG is refused: it can carry scripts); hint: save the figure as PNG"
        )
    return media


def _q(*parts: str) -> str:
    return "/".join(urllib.parse.quote(p, safe="") for p in parts)


class RemoteReports:
    """Reports on a fwtrack server."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client
        self.where = client.base_url
        self._me: str | None = None

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        from fwtrack._http import InvalidRequestError, NotFoundError

        try:
            return self.client.send_json(method, path, payload)
        except InvalidRequestError as exc:
            raise ReportArgumentError(f"the server refused the report: {exc.detail}") from None
        except NotFoundError as exc:
            raise ReportNotFoundError(exc.detail or str(exc)) from None

    def entity(self, entity: str | None) -> str:
        if entity is not None:
            return entity
        if self._me is None:
            self._me = str(self.client.get_json("/viewer")["name"])
        return self._me

    def create(self, entity: str, project: str, doc: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", f"/reports/{_q(entity, project)}", doc)
        return out

    def get(self, entity: str, project: str, report_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/reports/{_q(entity, project, report_id)}")
        return out

    def patch(
        self, entity: str, project: str, report_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        out: dict[str, Any] = self._call(
            "PATCH", f"/reports/{_q(entity, project, report_id)}", body
        )
        return out

    def list(self, entity: str, project: str) -> list[dict[str, Any]]:
        out = self._call("GET", f"/reports/{_q(entity, project)}")
        return list(out["reports"])

    def locate(self, report_id: str) -> tuple[str, str]:
        out = self._call("GET", f"/report-ids/{_q(report_id)}")
        return str(out["entity"]), str(out["project"])

    def upload(self, entity: str, project: str, report_id: str, path: Path) -> str:
        from fwtrack._http import InvalidRequestError, ServerError

        media = _media_type(path)
        try:
            answer = self.client.request(
                "POST",
                f"/reports/{_q(entity, project, report_id)}/assets",
                body=path.read_bytes(),
                headers={"Content-Type": media},
            )
        except (InvalidRequestError, ServerError) as exc:
            if getattr(exc, "status", 0) in (400, 413, 415):
                raise ReportArgumentError(f"Image({str(path)[:200]!r}): {exc}") from None
            raise
        return str(answer.json()["src"])

    def delete(self, entity: str, project: str, report_id: str) -> None:
        self._call("DELETE", f"/reports/{_q(entity, project, report_id)}")


class LocalReports:
    """Reports in the `fwtrack ui` database of run directory `root`, written through the
    server's own report functions (`fwtrack.server.reports`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        try:
            from fwtrack.server.app import bootstrap
            from fwtrack.server.config import ServerConfig
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(f"{_MISSING_EXTRA} ({exc})", name=exc.name) from exc
        self.root = Path(root).absolute()
        self.where = str(self.root)
        self.state_dir = self.root / ".fwtrack-ui"
        self.root.mkdir(parents=True, exist_ok=True)
        config = ServerConfig(
            data_dir=self.state_dir, auth=False, ui_scan_dir=self.root, stale_after=None
        )
        self.db: Database
        self.db, _ = bootstrap(config)

    def close(self) -> None:
        self.db.dispose()

    def entity(self, entity: str | None) -> str:
        from fwtrack.server.context import LOCAL_USER

        if entity not in (None, LOCAL_USER):
            raise ReportArgumentError(
                f"entity={entity!r}: a report saved without a server is in the local "
                f"entity {LOCAL_USER!r}; hint: leave entity= out, or set FWTRACK_BASE_URL"
            )
        return LOCAL_USER

    def _run(self, fn: Any, *args: Any) -> Any:
        from fwtrack.server.errors import ApiError

        try:
            return fn(*args)
        except ApiError as exc:
            if exc.status == 400:
                raise ReportArgumentError(exc.detail) from None
            if exc.status == 404:
                raise ReportNotFoundError(f"{exc.detail} (in {self.where})") from None
            raise ReportError(exc.detail) from None

    def _project(self, entity: str, project: str, *, create: bool = False) -> Project:
        from fwtrack.server.db import Project
        from fwtrack.server.errors import check_project
        from fwtrack.server.ingest import get_or_create_project

        self._run(check_project, project)
        if create:
            found: Project = self._run(get_or_create_project, self.db, entity, project)
            return found
        import sqlalchemy as sa

        with self.db.read() as session:
            row = session.scalar(
                sa.select(Project).where(Project.entity == entity, Project.name == project)
            )
        if row is None:
            raise ReportNotFoundError(f"no project {entity}/{project} in {self.where}")
        return row

    def _json(self, row: Any, project: Project) -> dict[str, Any]:
        from fwtrack.server.reports import report_json

        return report_json(row, project, LOCAL_UI_URL)

    def create(self, entity: str, project: str, doc: dict[str, Any]) -> dict[str, Any]:
        from fwtrack.server import reports

        self._run(reports.check_title, doc.get("title"))
        proj = self._project(entity, project, create=True)
        row = self._run(
            reports.create_report,
            self.db,
            proj,
            entity,
            doc.get("title"),
            doc.get("description", ""),
            doc.get("blocks", []),
        )
        return self._json(row, proj)

    def get(self, entity: str, project: str, report_id: str) -> dict[str, Any]:
        from fwtrack.server import reports

        proj = self._project(entity, project)
        return self._json(self._run(reports.find_report, self.db, proj, report_id), proj)

    def patch(
        self, entity: str, project: str, report_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        from fwtrack.server import reports

        proj = self._project(entity, project)
        row, conflicts = self._run(reports.patch_report, self.db, proj, report_id, entity, body)
        return {"report": self._json(row, proj), "conflicts": [c.json() for c in conflicts]}

    def list(self, entity: str, project: str) -> list[dict[str, Any]]:
        from fwtrack.server import reports

        try:
            proj = self._project(entity, project)
        except ReportNotFoundError:
            return []
        return [self._json(r, proj) for r in reports.list_reports(self.db, proj)]

    def locate(self, report_id: str) -> tuple[str, str]:
        from fwtrack.server import reports

        found: tuple[str, str] = self._run(reports.locate, self.db, report_id)
        return found

    def upload(self, entity: str, project: str, report_id: str, path: Path) -> str:
        from fwtrack.server import manifest, reports
        from fwtrack.server.addresses import address_of

        media = _media_type(path)
        data = path.read_bytes()
        self._run(reports.check_asset, media, data)
        proj = self._project(entity, project)
        row = self._run(reports.find_report, self.db, proj, report_id)
        address = address_of(data)
        store = reports.local_asset_store(self.state_dir)
        manifest.keep(self.db, store, entity, [(address, len(data), data)])
        reports.record_asset(self.db, row, entity, address, media)
        return f"asset:{address}"

    def delete(self, entity: str, project: str, report_id: str) -> None:
        from fwtrack.server import reports

        proj = self._project(entity, project)
        self._run(reports.delete_report, self.db, proj, report_id)


def server_url() -> str | None:
    """The server reports go to: `FWTRACK_BASE_URL`, else the default of `fwtrack login`."""
    from fwtrack import credentials
    from fwtrack.sdk.settings import FWTRACK_BASE_URL

    return FWTRACK_BASE_URL.get() or credentials.default_url()


def local_root() -> Path:
    """`FWTRACK_DIR`, else `./fwtrack`, absolute."""
    from fwtrack.sdk.settings import FWTRACK_DIR

    return Path(FWTRACK_DIR.get() or FWTRACK_DIR.default or "fwtrack").absolute()


def open_store(
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    dir: str | os.PathLike[str] | None = None,
) -> ReportStore:
    """The server's reports when `base_url` (else `server_url()`) is set and `dir` is not;
    else the `fwtrack ui` database of `dir` (else `FWTRACK_DIR`, else `./fwtrack`)."""
    if dir is None:
        base_url = base_url or server_url()
    if base_url is not None and dir is None:
        from fwtrack._http import HttpClient, normalize_base_url
        from fwtrack.api_remote import resolve_api_key

        url = normalize_base_url(base_url)
        return RemoteReports(HttpClient(url, resolve_api_key(url, api_key)))
    return LocalReports(dir if dir is not None else local_root())
