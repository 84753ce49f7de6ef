"""The environment variables of `fwtrack server` and `fwtrack ui`.

Standard library only: `docs/env.md` is generated from these declarations together with the
client's (`fwtrack.sdk.settings.ENV_VARS`), without the server's dependencies installed.
"""

from __future__ import annotations

from fwtrack.envvar import EnvVar

__all__ = [
    "ENV_VARS",
    "FWTRACK_SERVER_ADMIN_KEY",
    "FWTRACK_SERVER_BLOB_GRACE",
    "FWTRACK_SERVER_CACHE_DIR",
    "FWTRACK_SERVER_DATA",
    "FWTRACK_SERVER_DB",
    "FWTRACK_SERVER_LOGIN_KEY_TTL",
    "FWTRACK_SERVER_PRESIGN_THRESHOLD",
    "FWTRACK_SERVER_STORE",
    "FWTRACK_UI_TOKEN",
    "FWTRACK_WEBHOOK_MAX_ATTEMPTS",
    "FWTRACK_WEBHOOK_RETRY_BASE",
]

FWTRACK_SERVER_DATA = EnvVar(
    "FWTRACK_SERVER_DATA",
    "`fwtrack server`: data directory for blobs (and the SQLite database); `--data` beats it.",
    default="./fwtrack-server",
)
FWTRACK_SERVER_DB = EnvVar(
    "FWTRACK_SERVER_DB",
    "`fwtrack server`: metadata database URL, `postgresql://user:pass@host/db` or "
    "`sqlite:///path`; `--db` beats it.",
    default="SQLite in the data directory",
)
FWTRACK_SERVER_ADMIN_KEY = EnvVar(
    "FWTRACK_SERVER_ADMIN_KEY",
    "`fwtrack server`: the first admin's API key (`fwk_` + 40 letters or digits) instead of a "
    "generated one, for automated deployments.",
    default=None,
)
FWTRACK_SERVER_LOGIN_KEY_TTL = EnvVar(
    "FWTRACK_SERVER_LOGIN_KEY_TTL",
    "`fwtrack server`: how long API keys made by signing in with a password (`POST /login`, "
    "the dashboard) work: days, or a number with a unit (`12h`, `90m`, `45s`); "
    "`--login-key-ttl` beats it.",
    default="30",
)
FWTRACK_SERVER_BLOB_GRACE = EnvVar(
    "FWTRACK_SERVER_BLOB_GRACE",
    "`fwtrack server`: seconds a blob (run file, media payload) that no run references is kept "
    "after its last upload or `blobs/missing` answer, before the collector removes it; "
    "`--blob-grace` beats it.",
    default="3600",
)
FWTRACK_SERVER_STORE = EnvVar(
    "FWTRACK_SERVER_STORE",
    "`fwtrack server`: where run logs, history indexes and blobs are kept: "
    "`s3://bucket/prefix` (S3-compatible object storage; endpoint and credentials from the "
    "standard `AWS_*` variables: `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, "
    "`AWS_SECRET_ACCESS_KEY`) or a directory; `--store` beats it.",
    default="`store/` in the data directory",
)
FWTRACK_SERVER_CACHE_DIR = EnvVar(
    "FWTRACK_SERVER_CACHE_DIR",
    "`fwtrack server`: the S3 store's local caches (run-log copies, history indexes, uploads "
    "being received); safe to delete while the server is stopped; `--cache-dir` beats it.",
    default="`cache/` in the data directory",
)
FWTRACK_SERVER_PRESIGN_THRESHOLD = EnvVar(
    "FWTRACK_SERVER_PRESIGN_THRESHOLD",
    "`fwtrack server` with an S3 store: blobs larger than this many bytes go between client "
    "and bucket through presigned URLs instead of through the server; "
    "`--presign-threshold` beats it.",
    default="8388608",
)
FWTRACK_UI_TOKEN = EnvVar(
    "FWTRACK_UI_TOKEN",
    "`fwtrack ui`: a fixed access token (16 to 128 letters, digits, `-`, `_`) instead of a "
    "random one per start; the ui then asks for it even on 127.0.0.1 (open "
    "`http://HOST:PORT/?token=...`); `--token` beats it.",
    default=None,
)

FWTRACK_WEBHOOK_RETRY_BASE = EnvVar(
    "FWTRACK_WEBHOOK_RETRY_BASE",
    "`fwtrack server`: seconds before a failed webhook delivery is tried again; each further "
    "wait doubles, up to an hour; `--webhook-retry-base` beats it.",
    default="10",
)
FWTRACK_WEBHOOK_MAX_ATTEMPTS = EnvVar(
    "FWTRACK_WEBHOOK_MAX_ATTEMPTS",
    "`fwtrack server`: attempts to deliver a webhook event before it is marked `failed`; "
    "`--webhook-max-attempts` beats it.",
    default="8",
)

ENV_VARS: tuple[EnvVar, ...] = (
    FWTRACK_UI_TOKEN,
    FWTRACK_SERVER_DATA,
    FWTRACK_SERVER_DB,
    FWTRACK_SERVER_ADMIN_KEY,
    FWTRACK_SERVER_LOGIN_KEY_TTL,
    FWTRACK_SERVER_BLOB_GRACE,
    FWTRACK_SERVER_STORE,
    FWTRACK_SERVER_CACHE_DIR,
    FWTRACK_SERVER_PRESIGN_THRESHOLD,
    FWTRACK_WEBHOOK_RETRY_BASE,
    FWTRACK_WEBHOOK_MAX_ATTEMPTS,
)
"""The server's variables, in the order `docs/env.md` lists them."""
