"""Server configuration: one frozen dataclass, built by the CLI or by tests."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_BLOB_GRACE",
    "DEFAULT_LOGIN_KEY_TTL",
    "DEFAULT_LOGIN_LOCKOUT",
    "DEFAULT_LOGIN_WINDOW",
    "DEFAULT_MAX_CONCURRENT_UPLOADS",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_PRESIGN_THRESHOLD",
    "DEFAULT_STALE_AFTER",
    "DEFAULT_SWEEP_HEARTBEAT",
    "DEFAULT_WEBHOOK_MAX_ATTEMPTS",
    "DEFAULT_WEBHOOK_RETRY_BASE",
    "S3Location",
    "ServerConfig",
    "parse_duration",
    "parse_store_url",
]

DEFAULT_MAX_UPLOAD_BYTES = 32 * 1024 * 1024
"""Largest request body the server accepts for uploads (`--max-upload-bytes`)."""

DEFAULT_STALE_AFTER = 300.0
"""A running run without an upload or heartbeat for this many seconds is reported crashed."""

DEFAULT_MAX_CONCURRENT_UPLOADS = 32
"""Uploads one server process handles at once; more are answered 429 with Retry-After."""

MAX_JSON_BODY_BYTES = 1024 * 1024
"""Largest body of a JSON request (everything but run-log and file uploads)."""

UI_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_\-]{16,128}")
"""An access token of `fwtrack ui` (`--token`, `FWTRACK_UI_TOKEN`): it rides in URLs and
cookies, so URL-safe characters only."""

DEFAULT_BLOB_GRACE = 3600.0
"""Seconds a blob no run references is kept after its last upload or `blobs/missing` answer
(`--blob-grace`), so that a client can reference what the server told it it has."""

DEFAULT_LOGIN_KEY_TTL = 30 * 86400.0
"""Seconds an API key made by `POST /login` works (`--login-key-ttl`, 30 days)."""

DEFAULT_LOGIN_WINDOW = 900.0
"""Failed logins are counted over this many seconds (`--login-window`, 15 minutes)."""

DEFAULT_LOGIN_LOCKOUT = 60.0
"""The first lockout after too many failed logins, in seconds (`--login-lockout`); each
further lockout doubles it, up to an hour (or the first lockout, when longer)."""

DEFAULT_LOGIN_MAX_FAILURES = 5
"""Failed logins for one username within the window before it is locked (from failing
addresses)."""

DEFAULT_LOGIN_MAX_ADDRESS_FAILURES = 20
"""Failed logins from one client address within the window before it is locked."""

DEFAULT_PRESIGN_THRESHOLD = 8 * 1024 * 1024
"""Blobs larger than this go between client and bucket through presigned URLs, on a store
that can sign them (`--presign-threshold`)."""

DEFAULT_WEBHOOK_RETRY_BASE = 10.0
"""Seconds before a failed webhook delivery's second attempt (`--webhook-retry-base`); each
further wait doubles, up to an hour."""

DEFAULT_WEBHOOK_MAX_ATTEMPTS = 8
"""Attempts before a webhook delivery is `failed` (`--webhook-max-attempts`)."""

DEFAULT_SWEEP_HEARTBEAT = 10.0
"""Seconds between a sweep agent's heartbeats (`--sweep-heartbeat`); an agent silent for two
of them is lost and its running trials are queued again."""

DEFAULT_S3_REGION = "us-east-1"

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Location:
    """Where an S3 store keeps its objects: a bucket and a key prefix (`''` or ending in
    `/`)."""

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def parse_store_url(url: str) -> S3Location | Path:
    """`s3://bucket[/prefix]` as an `S3Location`, anything else as a directory path.

    Raises ValueError (with a hint) for a malformed `s3://` URL or another scheme."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        if not url.strip():
            raise ValueError("--store is empty; hint: use s3://bucket/prefix or a directory")
        return Path(url)
    if scheme != "s3":
        raise ValueError(
            f"--store {url!r}: unsupported scheme {scheme!r}; hint: use s3://bucket/prefix "
            "(S3, MinIO, SeaweedFS, ... with --s3-endpoint) or a directory path"
        )
    bucket, _, prefix = rest.partition("/")
    if _BUCKET.match(bucket) is None or ".." in bucket:
        raise ValueError(
            f"--store {url!r}: {bucket!r} is not a bucket name (3 to 63 lowercase letters, "
            "digits, '.' or '-'); hint: use s3://bucket/prefix"
        )
    parts = [p for p in prefix.split("/") if p]
    if any(p in {".", ".."} or "\0" in p for p in parts) or len(prefix) > 512:
        raise ValueError(f"--store {url!r}: not a usable key prefix; hint: s3://bucket/a/b")
    return S3Location(bucket, "".join(f"{p}/" for p in parts))


@dataclass(frozen=True)
class ServerConfig:
    """Where the server keeps its stores and how it serves them.

    `data_dir` holds the store (and `fwtrack.db` when `db_url` is None). `store_url` puts the
    store elsewhere: `s3://bucket/prefix` (S3-compatible object storage at `s3_endpoint`,
    credentials from the standard AWS chain; its local caches in `cache_dir`) or a directory.
    `auth=False` is the
    local dashboard (`fwtrack ui`): every request acts as the admin user `local`.
    `ui_scan_dir` makes the server index `<dir>/<project>/<run id>/run.fwlog` in place instead
    of accepting uploads. `admin_key` seeds the first admin's API key
    (`FWTRACK_SERVER_ADMIN_KEY`). `ui_token` is the access token of a server without sign-in
    (`fwtrack ui`): required when such a server listens beyond loopback.
    """

    data_dir: Path = field(default_factory=lambda: Path("fwtrack-server"))
    db_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    auth: bool = True
    ui_scan_dir: Path | None = None
    admin_key: str | None = None
    stale_after: float | None = DEFAULT_STALE_AFTER
    scan_interval: float = 1.0
    max_concurrent_uploads: int = DEFAULT_MAX_CONCURRENT_UPLOADS
    ui_token: str | None = None
    login_key_ttl: float = DEFAULT_LOGIN_KEY_TTL
    login_window: float = DEFAULT_LOGIN_WINDOW
    login_lockout: float = DEFAULT_LOGIN_LOCKOUT
    login_max_failures: int = DEFAULT_LOGIN_MAX_FAILURES
    login_max_address_failures: int = DEFAULT_LOGIN_MAX_ADDRESS_FAILURES
    blob_grace: float = DEFAULT_BLOB_GRACE
    store_url: str | None = None
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_public_endpoint: str | None = None
    cache_dir: Path | None = None
    presign_threshold: int = DEFAULT_PRESIGN_THRESHOLD
    webhook_retry_base: float = DEFAULT_WEBHOOK_RETRY_BASE
    webhook_max_attempts: int = DEFAULT_WEBHOOK_MAX_ATTEMPTS
    sweep_heartbeat: float = DEFAULT_SWEEP_HEARTBEAT

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        if self.store_url is not None:
            parse_store_url(self.store_url)
        for name in ("s3_endpoint", "s3_public_endpoint"):
            value = getattr(self, name)
            if value is not None and not re.match(r"^https?://[^/\s]+", value):
                raise ValueError(
                    f"{name.replace('_', '-')} {value!r} is not an http(s) URL; hint: e.g. "
                    "--s3-endpoint http://127.0.0.1:9000"
                )
        if self.presign_threshold < 0:
            raise ValueError(
                f"presign_threshold must be >= 0 bytes, got {self.presign_threshold}; hint: "
                "--presign-threshold 8388608 (8 MiB) is the default"
            )
        if self.ui_scan_dir is not None:
            object.__setattr__(self, "ui_scan_dir", Path(self.ui_scan_dir))
        if not 1 <= self.port <= 65535 and self.port != 0:
            raise ValueError(f"port must be in 1..65535, got {self.port}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.max_concurrent_uploads < 1:
            raise ValueError(
                f"max_concurrent_uploads must be >= 1, got {self.max_concurrent_uploads}"
            )
        if self.max_upload_bytes < 1024:
            raise ValueError(f"max_upload_bytes must be at least 1024, got {self.max_upload_bytes}")
        if self.ui_token is not None and UI_TOKEN_PATTERN.fullmatch(self.ui_token) is None:
            raise ValueError(
                f"the ui token must be 16 to 128 letters, digits, '-' or '_' "
                f"(got {len(self.ui_token)} characters); hint: leave --token out for a random "
                "one, or make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe())'"
            )
        no_sign_in = not self.auth or self.ui_scan_dir is not None
        if no_sign_in and self.ui_token is None and not is_loopback_host(self.host):
            raise ValueError(
                f"a server without sign-in (fwtrack ui) listening on {self.host} needs an access "
                "token; hint: set ui_token (`fwtrack ui` makes one unless --token gives it)"
            )
        for name in ("login_key_ttl", "login_window", "login_lockout"):
            value = getattr(self, name)
            if not 1 <= value <= _TEN_YEARS:
                raise ValueError(
                    f"{name} must be 1 second to 10 years, got {value!r} seconds; hint: "
                    "e.g. --login-key-ttl 30d, 12h, 90m or 45s"
                )
        for name in ("login_max_failures", "login_max_address_failures"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.01 <= self.webhook_retry_base <= 3600:
            raise ValueError(
                "webhook_retry_base must be 0.01 to 3600 seconds, got "
                f"{self.webhook_retry_base!r}; hint: --webhook-retry-base 10 (the default) "
                "waits 10 s, then 20 s, 40 s, ..."
            )
        if not 1 <= self.webhook_max_attempts <= 100:
            raise ValueError(
                f"webhook_max_attempts must be 1 to 100, got {self.webhook_max_attempts!r}; "
                "hint: --webhook-max-attempts 8 is the default"
            )
        if not 0.01 <= self.sweep_heartbeat <= 3600:
            raise ValueError(
                f"sweep_heartbeat must be 0.01 to 3600 seconds, got {self.sweep_heartbeat!r}; "
                "hint: --sweep-heartbeat 10 (the default) has agents report every 10 s"
            )
        if not 0 <= self.blob_grace <= _TEN_YEARS:
            raise ValueError(
                f"blob_grace must be 0 seconds to 10 years, got {self.blob_grace!r}; hint: "
                "--blob-grace 3600 keeps unreferenced blobs for an hour"
            )

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL: `db_url` with `postgresql://` mapped to psycopg 3, or the
        embedded SQLite database in `data_dir`."""
        if self.db_url is None:
            return f"sqlite:///{(self.data_dir / 'fwtrack.db').resolve()}"
        return normalize_db_url(self.db_url)

    @property
    def store_location(self) -> S3Location | Path:
        """Where the store lives: an `S3Location`, or the directory store's folder."""
        if self.store_url is None:
            return self.data_dir / "store"
        return parse_store_url(self.store_url)

    @property
    def store_dir(self) -> Path:
        """The directory store's folder (`data_dir/store` unless `store_url` names another):
        run logs, history indexes and blobs (`fwtrack.server.store`)."""
        where = self.store_location
        return where if isinstance(where, Path) else self.data_dir / "store"

    @property
    def cache_path(self) -> Path:
        """The S3 store's local caches (run-log copies, history indexes, staged uploads):
        `cache_dir`, else `data_dir/cache`."""
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    @property
    def s3_endpoint_url(self) -> str | None:
        """`s3_endpoint`, else `$AWS_ENDPOINT_URL`, else None (AWS itself)."""
        return self.s3_endpoint or os.environ.get("AWS_ENDPOINT_URL") or None

    @property
    def s3_region_name(self) -> str:
        """`s3_region`, else `$AWS_REGION` (or `$AWS_DEFAULT_REGION`), else us-east-1."""
        return (
            self.s3_region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_S3_REGION
        )

    @property
    def blob_dir(self) -> Path:
        """Where versions before the store kept runs (moved into the store at start)."""
        return self.data_dir / "blobs"

    def to_json(self) -> str:
        """Serialize (for handing the configuration to uvicorn worker processes)."""
        doc = asdict(self)
        for key, value in doc.items():
            if isinstance(value, Path):
                doc[key] = str(value)
        return json.dumps(doc)

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        doc: dict[str, Any] = json.loads(text)
        doc["data_dir"] = Path(doc["data_dir"])
        for name in ("ui_scan_dir", "cache_dir"):
            if doc.get(name) is not None:
                doc[name] = Path(doc[name])
        return cls(**doc)


_TEN_YEARS = 10 * 365 * 86400.0
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, default_unit: str = "d") -> float:
    """Seconds in `30`, `30d`, `12h`, `90m` or `45s` (a bare number is in `default_unit`).

    Raises ValueError with the accepted forms."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _UNITS else default_unit
    number = raw[:-1] if raw[-1:] in _UNITS else raw
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(
            f"invalid duration {text!r}: use a positive number with an optional unit, "
            "e.g. 30d, 12h, 90m or 45s"
        )
    return value


def is_loopback_host(host: str) -> bool:
    """True for a bind address reachable only from this machine (`127.0.0.1`, `localhost`,
    `::1`, ...)."""
    name = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normalize_db_url(url: str) -> str:
    """`postgresql://...` and `postgres://...` → `postgresql+psycopg://...`; SQLite URLs pass.

    Raises ValueError for another scheme, with a hint.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(
            f"--db {url!r} is not a database URL; hint: use postgresql://user:pass@host/db "
            "or sqlite:///path/to/fwtrack.db"
        )
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    if scheme == "sqlite":
        return url
    raise ValueError(
        f"--db {url!r}: unsupported database {scheme!r}; hint: use postgresql://... or sqlite:///..."
    )
