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
    "FWTRACK_SERVER_DATA",
    "FWTRACK_SERVER_DB",
    "FWTRACK_SERVER_LOGIN_KEY_TTL",
    "FWTRACK_UI_TOKEN",
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
FWTRACK_UI_TOKEN = EnvVar(
    "FWTRACK_UI_TOKEN",
    "`fwtrack ui`: a fixed access token (16 to 128 letters, digits, `-`, `_`) instead of a "
    "random one per start; the ui then asks for it even on 127.0.0.1 (open "
    "`http://HOST:PORT/?token=...`); `--token` beats it.",
    default=None,
)

ENV_VARS: tuple[EnvVar, ...] = (
    FWTRACK_UI_TOKEN,
    FWTRACK_SERVER_DATA,
    FWTRACK_SERVER_DB,
    FWTRACK_SERVER_ADMIN_KEY,
    FWTRACK_SERVER_LOGIN_KEY_TTL,
    FWTRACK_SERVER_BLOB_GRACE,
)
"""The server's variables, in the order `docs/env.md` lists them."""
