"""The ASGI application: context, middleware, error handlers, routers."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from fwtrack import _core
from fwtrack.server.auth import Viewer, add_user, create_key, hash_key
from fwtrack.server.blobs import BlobStore, LocalRunsLayout
from fwtrack.server.collector import Collector
from fwtrack.server.config import MAX_JSON_BODY_BYTES, ServerConfig
from fwtrack.server.context import LOCAL_USER, AppContext
from fwtrack.server.db import ApiKey, Database, User
from fwtrack.server.errors import ApiError
from fwtrack.server.filemodes import private_dir
from fwtrack.server.jsonutil import JsonResponse
from fwtrack.server.legacy import LegacyTarget, import_legacy_runs
from fwtrack.server.pack import MAX_PACK_BYTES
from fwtrack.server.security import (
    SWAGGER_UI_DIR,
    SecurityHeadersMiddleware,
    UiAccessMiddleware,
    docs_page,
)
from fwtrack.server.store import open_store
from fwtrack.server.store.directory import DirectoryStore

__all__ = ["bootstrap", "create_app"]

log = logging.getLogger("fwtrack.server")

API_PREFIX = "/api/v1"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _legacy_target(config: ServerConfig) -> LegacyTarget:
    """The store an older version's runs move into (`fwtrack.server.legacy`)."""
    from fwtrack.server.store.s3 import S3Store

    where = config.store_location
    if isinstance(where, Path):
        return DirectoryStore(where)
    store = open_store(config)
    assert isinstance(store, S3Store)
    return store


def bootstrap(config: ServerConfig) -> tuple[Database, str | None]:
    """Open the database, migrate it (under the start-up lock), and on first start create the
    admin user. Returns the database and the admin's new API key (None when not created)."""
    private_dir(config.data_dir)
    where = config.store_location
    if config.ui_scan_dir is None and isinstance(where, Path):
        private_dir(where)
    db = Database(config.database_url)
    created: str | None = None
    with db.migration_lock() as connection:
        db.upgrade(connection)
        if config.ui_scan_dir is None and (isinstance(where, Path) or config.blob_dir.is_dir()):
            # runs an older version kept outside the store move in, before any request
            import_legacy_runs(db, _legacy_target(config), config.blob_dir)
        with db.write() as session:
            if config.ui_scan_dir is not None or not config.auth:
                if session.scalar(sa.select(User.id).where(User.name == LOCAL_USER)) is None:
                    add_user(session, LOCAL_USER, is_admin=True)
                return db, None
            admin = session.scalar(sa.select(User).where(User.name == "admin"))
            if session.scalar(sa.select(sa.func.count()).select_from(User)) == 0:
                admin = add_user(session, "admin", is_admin=True)
                _, created = create_key(session, admin.id, "first admin key", config.admin_key)
            elif admin is not None and config.admin_key:
                known = session.scalar(
                    sa.select(ApiKey.id).where(ApiKey.key_hash == hash_key(config.admin_key))
                )
                if known is None:  # seed the given key (once; a revoked key stays revoked)
                    create_key(session, admin.id, "FWTRACK_SERVER_ADMIN_KEY", config.admin_key)
    return db, created


_RUN_PATH = r"^/api/v1/runs/[^/]+/[^/]+/[^/]+"
_BLOB_PUT = re.compile(_RUN_PATH + r"/blobs/[^/]+$")
_BLOB_PACK = re.compile(_RUN_PATH + r"/blobs$")
_MANIFEST = re.compile(_RUN_PATH + r"/files$")
_REPORT_ASSET = re.compile(r"^/api/v1/reports/[^/]+/[^/]+/[^/]+/assets$")
REPORT_ASSET_BYTES = 32 * 1024 * 1024
"""Largest image uploaded into a report (`POST .../assets`)."""
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
"""Largest `POST .../files` body (10,000 paths of up to 512 characters with their addresses)."""


class BodyLimitMiddleware:
    """413 for a body over the limit: by Content-Length up front, and by counting a streamed
    (chunked) body as it arrives. Uploads (run logs, files) get `max_upload_bytes`, a pack of
    blobs 64 MiB, a manifest 8 MiB, every other request `MAX_JSON_BODY_BYTES`; a blob streamed
    with `PUT .../blobs/{address}` is not limited (it goes to a file while it is hashed)."""

    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload = max_upload_bytes
        self.max_json = min(MAX_JSON_BODY_BYTES, max_upload_bytes)

    def _limit(self, scope: Scope) -> int | None:
        path: str = scope.get("path", "")
        method = scope.get("method")
        if method == "PUT" and _BLOB_PUT.match(path):
            return None
        if method == "POST" and _BLOB_PACK.match(path):
            return MAX_PACK_BYTES
        if method == "POST" and _MANIFEST.match(path):
            return MAX_MANIFEST_BYTES
        if method == "POST" and _REPORT_ASSET.match(path):
            return REPORT_ASSET_BYTES
        if path.endswith("/log") or "/files/" in path:
            return self.max_upload
        return self.max_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await _send_json(send, 400, {"detail": "invalid Content-Length header"})
                    return
                if length > limit:
                    await _send_json(send, 413, _too_large(limit))
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise StarletteHTTPException(413, _too_large(limit)["detail"])
            return message

        await self.app(scope, limited_receive, send)


def _too_large(limit: int) -> dict[str, str]:
    return {
        "detail": f"request body larger than {limit} bytes; hint: send smaller batches "
        "(the server's limit is --max-upload-bytes for uploads)"
    }


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = JsonResponse(body).body
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        loc = [str(p) for p in error.get("loc", ())]
        where = " ".join(loc[:1]) + (" " + ".".join(loc[1:]) if len(loc) > 1 else "")
        parts.append(f"{where.strip() or 'request'}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JsonResponse:
        return JsonResponse({"detail": exc.detail, **exc.extra}, exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JsonResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JsonResponse({"detail": str(exc.detail)}, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JsonResponse:
        return JsonResponse({"detail": _validation_detail(exc)}, 400)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _exc: ClientDisconnect) -> JsonResponse:
        # The client went away while sending its body (a connection cut by a balancer, a
        # killed client): nothing was stored from it, nobody reads this answer, and the
        # client's retry is safe (uploads are idempotent). Not a server error.
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return JsonResponse({"detail": "the client disconnected before its body arrived"}, 400)

    @app.exception_handler(OperationalError)
    async def _db_busy(request: Request, exc: OperationalError) -> JsonResponse:
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        return JsonResponse(
            {"detail": "the database is busy or unreachable; retry shortly"},
            503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(PoolTimeoutError)
    async def _pool_busy(_request: Request, _exc: PoolTimeoutError) -> JsonResponse:
        return JsonResponse(
            {"detail": "the server is overloaded; retry shortly"}, 503, headers={"Retry-After": "1"}
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JsonResponse:
        log.exception("internal error in %s %s", request.method, request.url.path, exc_info=exc)
        return JsonResponse(
            {"detail": "internal server error; the server log has the details"}, 500
        )


def create_app(config: ServerConfig) -> FastAPI:
    """The tracking server app for `config` (migrates the database, creates the first admin)."""
    from fwtrack.server.routes import (
        alerts as alert_routes,
    )
    from fwtrack.server.routes import (
        artifacts,
        comments,
        console,
        dashboard,
        files,
        history,
        invitations,
        keys,
        media,
        meta,
        projects,
        registry,
        reports,
        run_bulk,
        runs,
        system,
        teams,
        upload,
        users,
    )
    from fwtrack.server.routes import (
        audit as audit_routes,
    )
    from fwtrack.server.routes import (
        blobs as blob_routes,
    )
    from fwtrack.server.routes import (
        sweeps as sweep_routes,
    )
    from fwtrack.server.routes import (
        webhooks as webhook_routes,
    )

    db, _ = bootstrap(config)
    blobs: BlobStore | LocalRunsLayout
    local_viewer = None
    if config.ui_scan_dir is not None:
        blobs = LocalRunsLayout(config.ui_scan_dir, config.data_dir)
    else:
        blobs = BlobStore(open_store(config), db)
    if not config.auth or config.ui_scan_dir is not None:
        with db.read() as session:
            user = session.scalars(sa.select(User).where(User.name == LOCAL_USER)).one()
            local_viewer = Viewer(user.id, user.name, True)
    ctx = AppContext(config, db, blobs, local_viewer)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        scanner = None
        if config.ui_scan_dir is not None:
            from fwtrack.server.scanner import Scanner

            scanner = Scanner(ctx)
            scanner.start()
        collector = None
        if isinstance(blobs, BlobStore):
            collector = Collector(db, blobs.store, config.blob_grace)
            blobs.on_release = collector.wake
            collector.start()
        dispatcher = None
        if config.ui_scan_dir is None:
            from fwtrack.server.webhooks import start_dispatcher

            dispatcher = start_dispatcher(ctx)
        try:
            yield
        finally:
            if dispatcher is not None:
                dispatcher.stop()
            if scanner is not None:
                scanner.stop()
            if collector is not None:
                collector.stop()
            db.dispose()

    app = FastAPI(
        title="fwtrack server",
        version=_core.__version__,
        description="Stores fwtrack run logs and serves runs, history and files. "
        "See docs/server.md.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served by `_mount_docs`, from the package instead of a CDN
        redoc_url=None,
        lifespan=lifespan,
        default_response_class=JsonResponse,
    )
    app.state.ctx = ctx
    _document_errors_as_400(app)
    _install_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_upload_bytes=config.max_upload_bytes)
    if not config.auth or config.ui_scan_dir is not None:
        # No sign-in: only this machine's names (no DNS rebinding), and a token beyond it
        # (ServerConfig requires one there).
        app.add_middleware(
            UiAccessMiddleware, bind_host=config.host, port=config.port, token=config.ui_token
        )
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: every answer gets the headers
    for module in (
        meta,
        users,
        keys,
        teams,
        projects,
        dashboard,
        runs,
        upload,
        history,
        files,
        system,
        console,
        alert_routes,
        media,
        blob_routes,
        artifacts,
        registry,
        webhook_routes,
        sweep_routes,
        reports,
        comments,
        invitations,
        audit_routes,
        run_bulk,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    _mount_docs(app)
    _mount_dashboard(app)
    return app


def _mount_docs(app: FastAPI) -> None:
    """The API docs page (Swagger UI) at `/api/v1/docs`, its files from the dashboard build."""
    from fastapi.responses import Response

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def _docs(request: Request) -> Response:
        root: Path = request.app.state.dashboard_dir
        if not (root / SWAGGER_UI_DIR / "swagger-ui-bundle.js").is_file():
            return HTMLResponse(_NOT_BUILT, headers=_NOT_BUILT_HEADERS)
        return docs_page(f"{app.title} - API docs", f"{API_PREFIX}/openapi.json")


def _document_errors_as_400(app: FastAPI) -> None:
    """Invalid input is answered 400 (see `_invalid`), so the OpenAPI document lists no 422."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    if isinstance(operation, dict):
                        operation.get("responses", {}).pop("422", None)
            schemas = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "ui" / "dist"
"""The built dashboard (`make web` writes it; the wheel ships it)."""

_HASHED_ASSET = re.compile(r"-[A-Za-z0-9_-]{8,}\.[A-Za-z0-9]+$")
_ASSET_PART = re.compile(r"[A-Za-z0-9_.\-]+")
_IMMUTABLE = "public, max-age=31536000, immutable"
_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fwtrack: dashboard not built</title>
<style>body{font:15px/1.5 system-ui,sans-serif;color:#1f2328;max-width:40rem;margin:4rem auto;
padding:0 1rem}code{background:#f0f1f3;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>The fwtrack dashboard is not built</h1>
<p>This server answers the API at <a href="/api/v1/docs">/api/v1/docs</a>, but the dashboard's
files are missing from <code>fwtrack/ui/dist</code>.</p>
<p>Build it from a checkout of fwtrack with <code>make web</code> (Node.js and npm needed), then
reload this page. Installed wheels ship it already.</p></body></html>
"""
_NOT_BUILT_HEADERS = {
    "Cache-Control": "no-store",
    # Its one inline <style>, nothing else.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


def _dashboard_file(root: Path, path: str) -> Path | None:
    """`root/path` when it is a file inside `root` named by safe parts, else None."""
    parts = path.split("/")
    if any(p in {"", ".", ".."} or _ASSET_PART.fullmatch(p) is None for p in parts):
        return None
    target = root.joinpath(*parts)
    return target if target.is_file() else None


def _mount_dashboard(app: FastAPI) -> None:
    """Serve the built dashboard at `/` without authentication (the app signs in itself):
    `index.html` is never cached, hashed assets are cached for a year. Without a build, `/`
    answers a page saying how to build it."""
    from fastapi.responses import FileResponse, Response

    app.state.dashboard_dir = DASHBOARD_DIR
    # nosniff, Referrer-Policy and the CSP come from SecurityHeadersMiddleware (every answer).
    page_headers = {"Cache-Control": "no-store"}

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def _index(request: Request) -> Response:
        root: Path = request.app.state.dashboard_dir
        index = root / "index.html"
        if index.is_file():
            return FileResponse(index, media_type="text/html", headers=page_headers)
        return HTMLResponse(_NOT_BUILT, headers={**page_headers, **_NOT_BUILT_HEADERS})

    async def _asset(scope: Scope, receive: Receive, send: Send) -> None:
        # The router's fallback: API routes (and their 405s) match first; a GET of anything
        # else is a dashboard file or a JSON 404.
        path: str = scope.get("path", "")
        method = scope.get("method")
        if scope["type"] == "http" and method in ("GET", "HEAD") and not path.startswith("/api"):
            root: Path = app.state.dashboard_dir
            target = _dashboard_file(root, path.lstrip("/"))
            if target is not None:
                cache = _IMMUTABLE if _HASHED_ASSET.search(target.name) else "no-cache"
                if target.name == "index.html":
                    cache = "no-store"
                response = FileResponse(target, headers={"Cache-Control": cache})
                await response(scope, receive, send)
                return
        raise StarletteHTTPException(404, "Not Found")

    app.router.default = _asset


def app_from_env() -> FastAPI:
    """The app for uvicorn workers: configuration from `_FWTRACK_SERVER_CONFIG` (set by the
    `fwtrack server` command)."""
    raw = os.environ.get("_FWTRACK_SERVER_CONFIG")
    if not raw:
        raise RuntimeError("start the server with `fwtrack server` (no configuration found)")
    return create_app(ServerConfig.from_json(raw))
