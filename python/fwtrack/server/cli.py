"""`fwtrack server` and `fwtrack ui`: argument parsing and start-up.

`add_commands(subparsers)` registers both commands on the `fwtrack` command line. The server's
own dependencies (FastAPI, uvicorn, SQLAlchemy, ...) are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

from fwtrack.sdk.settings import FWTRACK_DIR
from fwtrack.server.env import (
    FWTRACK_SERVER_ADMIN_KEY,
    FWTRACK_SERVER_BLOB_GRACE,
    FWTRACK_SERVER_CACHE_DIR,
    FWTRACK_SERVER_DATA,
    FWTRACK_SERVER_DB,
    FWTRACK_SERVER_LOGIN_KEY_TTL,
    FWTRACK_SERVER_PRESIGN_THRESHOLD,
    FWTRACK_SERVER_STORE,
    FWTRACK_UI_TOKEN,
    FWTRACK_WEBHOOK_MAX_ATTEMPTS,
    FWTRACK_WEBHOOK_RETRY_BASE,
)

__all__ = ["add_commands"]

_MISSING_EXTRA = "the server needs its extra: pip install 'fwtrack[server]'"


def add_commands(subparsers: Any) -> None:
    """Add `server` and `ui` to the `fwtrack` command's subparsers."""
    server = subparsers.add_parser(
        "server",
        help="run the tracking server (uploads, API, dashboard)",
        description="Run the tracking server: stores uploaded runs and serves the API and the "
        "dashboard. Prints the admin API key on first start.",
    )
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    server.add_argument(
        "--data",
        default=None,
        help="data directory for blobs and the SQLite database "
        "(default: $FWTRACK_SERVER_DATA or ./fwtrack-server)",
    )
    server.add_argument(
        "--db",
        default=None,
        help="database URL, e.g. postgresql://user:pass@host/db "
        "(default: $FWTRACK_SERVER_DB or SQLite in the data directory)",
    )
    server.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="where run logs, indexes and blobs live: s3://bucket/prefix (S3-compatible; "
        "credentials from the AWS_* variables or profiles) or a directory "
        "(default: $FWTRACK_SERVER_STORE or store/ in the data directory)",
    )
    server.add_argument(
        "--s3-endpoint",
        default=None,
        metavar="URL",
        help="the S3 endpoint, e.g. http://127.0.0.1:9000 for MinIO or SeaweedFS "
        "(default: $AWS_ENDPOINT_URL, else AWS)",
    )
    server.add_argument(
        "--s3-region",
        default=None,
        metavar="REGION",
        help="the bucket's region (default: $AWS_REGION, else us-east-1)",
    )
    server.add_argument(
        "--s3-public-endpoint",
        default=None,
        metavar="URL",
        help="the S3 endpoint as clients reach it, for presigned URLs (default: --s3-endpoint)",
    )
    server.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="the S3 store's local caches, safe to delete while stopped "
        "(default: $FWTRACK_SERVER_CACHE_DIR or cache/ in the data directory)",
    )
    server.add_argument(
        "--presign-threshold",
        default=None,
        metavar="BYTES",
        help="blobs larger than this go client<->bucket through presigned URLs on an S3 store "
        "(default: $FWTRACK_SERVER_PRESIGN_THRESHOLD or 8388608)",
    )
    server.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the stores (default 1)"
    )
    server.add_argument(
        "--max-upload-bytes",
        type=int,
        default=None,
        help="largest accepted upload body in bytes (default 32 MiB)",
    )
    server.add_argument(
        "--max-concurrent-uploads",
        type=int,
        default=None,
        help="uploads each worker handles at once; more are answered 429 (default 32)",
    )
    server.add_argument(
        "--login-key-ttl",
        default=None,
        metavar="DAYS",
        help="how long keys made by signing in work: days, or with a unit (12h, 90m, 45s) "
        "(default: $FWTRACK_SERVER_LOGIN_KEY_TTL or 30 days)",
    )
    server.add_argument(
        "--login-window",
        type=float,
        default=None,
        metavar="SECONDS",
        help="failed logins are counted over this many seconds (default 900)",
    )
    server.add_argument(
        "--login-lockout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="the first lockout after too many failed logins; it doubles with each further "
        "one, up to an hour (default 60)",
    )
    server.add_argument(
        "--login-max-failures",
        type=int,
        default=None,
        metavar="N",
        help="failed logins per username within the window before a lockout (default 5)",
    )
    server.add_argument(
        "--login-max-address-failures",
        type=int,
        default=None,
        metavar="N",
        help="failed logins per client address within the window before a lockout (default 20)",
    )
    server.add_argument(
        "--blob-grace",
        default=None,
        metavar="SECONDS",
        help="keep a blob no run references this long after its last upload, then remove it "
        "(default: $FWTRACK_SERVER_BLOB_GRACE or 3600)",
    )
    server.add_argument(
        "--webhook-retry-base",
        default=None,
        metavar="SECONDS",
        help="wait this long before trying a failed webhook delivery again, doubling each time "
        "up to an hour (default: $FWTRACK_WEBHOOK_RETRY_BASE or 10)",
    )
    server.add_argument(
        "--webhook-max-attempts",
        default=None,
        metavar="N",
        help="attempts before a webhook delivery is marked failed "
        "(default: $FWTRACK_WEBHOOK_MAX_ATTEMPTS or 8)",
    )
    server.add_argument(
        "--sweep-heartbeat",
        default=None,
        metavar="SECONDS",
        help="seconds between a sweep agent's heartbeats; an agent silent for two of them is "
        "lost and its trials run again (default 10)",
    )
    server.add_argument("--access-log", action="store_true", help="log every request")
    server.set_defaults(func=_cmd_server)

    ui = subparsers.add_parser(
        "ui",
        help="browse local runs live in the dashboard",
        description="Serve the dashboard over a local run directory, picking up runs as they "
        "are written. No sign-in: it binds to 127.0.0.1 by default and answers only this "
        "machine's names (127.0.0.1, localhost, [::1]) and the --host name. Bound beyond "
        "loopback it asks for an access token, printed in its URL.",
    )
    ui.add_argument(
        "--dir",
        default=argparse.SUPPRESS,
        help="run directory (default: $FWTRACK_DIR or ./fwtrack)",
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    ui.add_argument(
        "--token",
        default=None,
        help="a fixed access token (16-128 letters, digits, '-', '_'), asked for even on "
        "127.0.0.1 (default: $FWTRACK_UI_TOKEN, else a random one per start when --host is "
        "beyond loopback); prefer the variable: a command line is visible to other users",
    )
    ui.set_defaults(func=_cmd_ui)


def _require_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ModuleNotFoundError(f"{_MISSING_EXTRA} ({exc})", name=exc.name) from exc


def _serve(config: Any, *, access_log: bool) -> int:
    import uvicorn

    os.environ["_FWTRACK_SERVER_CONFIG"] = config.to_json()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        "fwtrack.server.app:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers if config.workers > 1 else None,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
    return 0


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _cmd_server(args: argparse.Namespace) -> int:
    _require_extra()
    from fwtrack.server.app import bootstrap
    from fwtrack.server.config import (
        DEFAULT_BLOB_GRACE,
        DEFAULT_LOGIN_KEY_TTL,
        DEFAULT_MAX_CONCURRENT_UPLOADS,
        DEFAULT_MAX_UPLOAD_BYTES,
        DEFAULT_PRESIGN_THRESHOLD,
        DEFAULT_SWEEP_HEARTBEAT,
        DEFAULT_WEBHOOK_MAX_ATTEMPTS,
        DEFAULT_WEBHOOK_RETRY_BASE,
        ServerConfig,
        parse_duration,
    )
    from fwtrack.server.store import open_store

    admin_key = FWTRACK_SERVER_ADMIN_KEY.get()
    try:
        ttl = args.login_key_ttl or FWTRACK_SERVER_LOGIN_KEY_TTL.get()
        login = {
            "login_key_ttl": parse_duration(ttl) if ttl else DEFAULT_LOGIN_KEY_TTL,
            "login_window": args.login_window,
            "login_lockout": args.login_lockout,
            "login_max_failures": args.login_max_failures,
            "login_max_address_failures": args.login_max_address_failures,
        }
        grace = args.blob_grace or FWTRACK_SERVER_BLOB_GRACE.get()
        threshold = args.presign_threshold or FWTRACK_SERVER_PRESIGN_THRESHOLD.get()
        cache_dir = args.cache_dir or FWTRACK_SERVER_CACHE_DIR.get()
        retry_base = args.webhook_retry_base or FWTRACK_WEBHOOK_RETRY_BASE.get()
        max_attempts = args.webhook_max_attempts or FWTRACK_WEBHOOK_MAX_ATTEMPTS.get()
        config = ServerConfig(
            data_dir=Path(args.data or FWTRACK_SERVER_DATA.get() or "fwtrack-server"),
            db_url=args.db or FWTRACK_SERVER_DB.get(),
            host=args.host,
            port=args.port,
            workers=args.workers,
            max_upload_bytes=args.max_upload_bytes or DEFAULT_MAX_UPLOAD_BYTES,
            max_concurrent_uploads=args.max_concurrent_uploads or DEFAULT_MAX_CONCURRENT_UPLOADS,
            admin_key=admin_key,
            blob_grace=DEFAULT_BLOB_GRACE if grace is None else _seconds("--blob-grace", grace),
            store_url=args.store or FWTRACK_SERVER_STORE.get(),
            s3_endpoint=args.s3_endpoint,
            s3_region=args.s3_region,
            s3_public_endpoint=args.s3_public_endpoint,
            cache_dir=Path(cache_dir) if cache_dir else None,
            presign_threshold=(
                DEFAULT_PRESIGN_THRESHOLD
                if threshold is None
                else _bytes("--presign-threshold", threshold)
            ),
            webhook_retry_base=(
                DEFAULT_WEBHOOK_RETRY_BASE
                if retry_base is None
                else _seconds("--webhook-retry-base", retry_base)
            ),
            webhook_max_attempts=(
                DEFAULT_WEBHOOK_MAX_ATTEMPTS
                if max_attempts is None
                else _count("--webhook-max-attempts", max_attempts)
            ),
            sweep_heartbeat=(
                DEFAULT_SWEEP_HEARTBEAT
                if args.sweep_heartbeat is None
                else _interval("--sweep-heartbeat", args.sweep_heartbeat)
            ),
            **{k: v for k, v in login.items() if v is not None},
        )
        _ = config.database_url  # checks the --db URL
        open_store(config)  # a bad bucket, endpoint or credentials fail here, with a hint
        db, key = bootstrap(config)
    except ValueError as exc:
        print(f"fwtrack: error: {exc}", file=sys.stderr)
        return 2
    db.dispose()
    where = config.db_url or str(config.data_dir / "fwtrack.db")
    print(f"fwtrack server {_url(config.host, config.port)}", flush=True)
    print(f"  data: {config.data_dir.resolve()}  database: {_hide_password(where)}", flush=True)
    if config.store_url is not None:
        print(f"  store: {config.store_url}  cache: {config.cache_path.resolve()}", flush=True)
    if key is not None:
        if admin_key:
            print("  created user 'admin' with the key from FWTRACK_SERVER_ADMIN_KEY", flush=True)
        else:
            print(
                "  created user 'admin'; its API key (shown once, keep it):\n"
                f"  admin API key: {key}\n"
                f"  log in with: fwtrack login {_url(config.host, config.port)}",
                flush=True,
            )
    return _serve(config, access_log=args.access_log)


def _cmd_ui(args: argparse.Namespace) -> int:
    _require_extra()
    from fwtrack.server.config import ServerConfig, is_loopback_host
    from fwtrack.server.security import is_wildcard

    runs_dir = Path(getattr(args, "dir", None) or FWTRACK_DIR.get() or "fwtrack").resolve()
    token = args.token or FWTRACK_UI_TOKEN.get()
    if token is None and not is_loopback_host(args.host):
        token = secrets.token_urlsafe(32)  # per start, as Jupyter does
    try:
        config = ServerConfig(
            data_dir=runs_dir / ".fwtrack-ui",
            host=args.host,
            port=args.port,
            auth=False,
            ui_scan_dir=runs_dir,
            stale_after=None,
            ui_token=token,
        )
    except ValueError as exc:
        print(f"fwtrack: error: {exc}", file=sys.stderr)
        return 2
    runs_dir.mkdir(parents=True, exist_ok=True)
    query = f"/?token={token}" if token else ""
    shown = "127.0.0.1" if is_wildcard(config.host) else config.host
    print(f"fwtrack ui {_url(shown, config.port)}{query}  (runs in {runs_dir})", flush=True)
    if is_wildcard(config.host):
        print(f"  also at {_url(socket.gethostname(), config.port)}{query}", flush=True)
    if not is_loopback_host(config.host):
        print(
            f"fwtrack: warning: the ui listens on {config.host}: anyone with the URL above "
            "(it holds the access token) can read and delete your runs; hint: use the default "
            "--host 127.0.0.1 to keep it on this machine, or `fwtrack server` for shared access",
            file=sys.stderr,
            flush=True,
        )
    return _serve(config, access_log=False)


def _seconds(option: str, text: str) -> float:
    """A number of seconds (`0` or more) from the command line or the environment."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{option} {text!r}: expected a number of seconds, e.g. 3600 or 0")
    return value


def _interval(option: str, text: str) -> float:
    """A positive number of seconds from the command line."""
    value = _seconds(option, text)
    if value <= 0:
        raise ValueError(f"{option} {text!r}: expected a positive number of seconds, e.g. 10")
    return value


def _bytes(option: str, text: str) -> int:
    """A number of bytes (`0` or more) from the command line or the environment."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{option} {text!r}: expected a number of bytes, e.g. 8388608 (8 MiB)")
    return value


def _count(option: str, text: str) -> int:
    """A count (`1` or more) from the command line or the environment."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{option} {text!r}: expected a whole number of 1 or more, e.g. 8")
    return value


def _hide_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
