"""API keys stored by `fwtrack login`.

One file, `$FWTRACK_CONFIG_DIR/credentials.json` (default `$XDG_CONFIG_HOME/fwtrack/`, else
`~/.config/fwtrack/`), readable by its owner only (created with mode 0600)::

    {"default_url": "https://fwtrack.example.com",
     "keys": {"https://fwtrack.example.com": "fwk_..."}}

Server addresses are normalized (no trailing `/` or `/api/v1`), so `lookup` finds a key
however the address is spelled. The environment (`FWTRACK_API_KEY`, `FWTRACK_BASE_URL`) beats
what is stored here; callers decide that order.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fwtrack._fsutil import write_atomic
from fwtrack.sdk.settings import FWTRACK_CONFIG_DIR

__all__ = [
    "FILE_NAME",
    "Credentials",
    "config_dir",
    "credentials_path",
    "default_url",
    "load",
    "lookup",
    "normalize_url",
    "save",
]

FILE_NAME = "credentials.json"
_API_PREFIX = "/api/v1"


@dataclass
class Credentials:
    """What `credentials.json` holds: the default server and a key per server."""

    default_url: str | None = None
    keys: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print keys
        return f"Credentials(default_url={self.default_url!r}, servers={sorted(self.keys)!r})"


def normalize_url(url: str) -> str:
    """`url` without surrounding blanks, a trailing `/` or a trailing `/api/v1`."""
    text = url.strip().rstrip("/")
    if text.endswith(_API_PREFIX):
        text = text[: -len(_API_PREFIX)].rstrip("/")
    return text


def config_dir() -> Path:
    """`$FWTRACK_CONFIG_DIR`, else `$XDG_CONFIG_HOME/fwtrack`, else `~/.config/fwtrack`."""
    explicit = FWTRACK_CONFIG_DIR.get()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and xdg.strip() else Path.home() / ".config"
    return base / "fwtrack"


def credentials_path() -> Path:
    """The credentials file (it may not exist)."""
    return config_dir() / FILE_NAME


def load() -> Credentials:
    """The stored credentials (empty when there is no file).

    Raises ValueError naming the file when it is not valid credentials JSON.
    """
    path = credentials_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Credentials()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(
            f"{path} is not valid JSON ({exc})\nhint: run `fwtrack login URL` to write it anew"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object\nhint: run `fwtrack login URL`")
    keys = data.get("keys")
    default = data.get("default_url")
    return Credentials(
        default_url=normalize_url(default) if isinstance(default, str) and default else None,
        keys={
            normalize_url(u): k
            for u, k in (keys.items() if isinstance(keys, dict) else ())
            if isinstance(u, str) and isinstance(k, str) and k
        },
    )


def _load_quietly() -> Credentials:
    try:
        return load()
    except (OSError, ValueError):
        return Credentials()


def lookup(url: str) -> str | None:
    """The key stored for the server at `url`, or None. Never raises for a missing or
    unreadable file."""
    return _load_quietly().keys.get(normalize_url(url))


def default_url() -> str | None:
    """The server `fwtrack login` made the default, or None."""
    return _load_quietly().default_url


def save(url: str, key: str, *, make_default: bool = True) -> Path:
    """Store `key` for the server at `url` (and make it the default server), replacing the
    file atomically; the file is created with mode 0600. Returns its path."""
    creds = _load_quietly()
    norm = normalize_url(url)
    creds.keys[norm] = key
    if make_default or creds.default_url is None:
        creds.default_url = norm
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = json.dumps({"default_url": creds.default_url, "keys": creds.keys}, indent=2) + "\n"
    write_atomic(path, payload.encode(), mode=0o600)
    return path
