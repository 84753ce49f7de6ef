"""`fwtrack login` and `fwtrack.login()`: check an API key against a server and store it for
later runs.

    fwtrack login [URL] [--key KEY]
    fwtrack.login(key=None, relogin=None, host=None, ...)   # wandb's signature

The key comes from `--key`, else from standard input when it is not a terminal (`echo $KEY |
fwtrack login URL`), else from a prompt that does not echo. It is checked with
`GET /api/v1/viewer`, then stored in `credentials.json` (see `fwtrack.credentials`, mode 0600)
with URL as the default server, so online runs, `fwtrack sync` and `fwtrack.Api(base_url=...)`
find it.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from fwtrack import credentials
from fwtrack._http import (
    AuthenticationError,
    HttpClient,
    ServerError,
    normalize_base_url,
)
from fwtrack.errors import FwTrackError
from fwtrack.sdk.settings import FWTRACK_API_KEY, FWTRACK_BASE_URL

__all__ = ["LoginError", "add_command", "check_and_store", "login"]

_TIMEOUT = 30.0


class LoginError(FwTrackError):
    """The key could not be checked or was refused."""


def check_and_store(base_url: str, api_key: str) -> tuple[dict[str, object], str]:
    """Check `api_key` with the server at `base_url` and store it (making that server the
    default). Returns the server's description of the user and the credentials file path.
    Raises LoginError with a hint when the key is refused or the server cannot be reached."""
    url = normalize_base_url(base_url)
    key = api_key.strip()
    if not key:
        raise LoginError("the API key is empty\nhint: pass --key KEY or paste the key")
    client = HttpClient(url, key, timeout=_TIMEOUT)
    try:
        viewer = client.get_json("/viewer")
    except AuthenticationError as exc:
        raise LoginError(
            f"the server at {url} refused the key ({exc.status}: {exc.detail or 'no detail'})\n"
            "hint: check the key; the server prints the admin's key on its first start, and "
            "a logged-in user creates more with POST /api/v1/keys"
        ) from None
    except ServerError as exc:
        raise LoginError(str(exc)) from None
    if not isinstance(viewer, dict) or not isinstance(viewer.get("name"), str):
        raise LoginError(
            f"{url} answered GET /api/v1/viewer without a user\n"
            "hint: is it the address of a fwtrack server?"
        )
    path = credentials.save(url, key)
    return viewer, str(path)


def login(
    key: str | None = None,
    relogin: bool | None = None,
    host: str | None = None,
    force: bool | None = None,
    timeout: int | None = None,
    verify: bool = False,
    referrer: str | None = None,
    anonymous: object = None,
) -> bool:
    """Log in to the fwtrack server at `host` (default: `FWTRACK_BASE_URL`, else the server
    `fwtrack login` made the default), as `wandb.login` does: with `key`, the key is checked
    with the server and stored (as `fwtrack login`); without one, a key already known for
    the server (`FWTRACK_API_KEY`, or stored) is used unless `relogin`, else one is asked for
    on the terminal. Returns True once a key is known. `force`, `timeout`, `verify` and
    `referrer` are accepted as wandb takes them (the key is always checked when given).

    Offline runs need no login. Raises LoginError naming the fix when there is no server to
    log in to, or no key and no terminal to ask on.
    """
    if anonymous is not None:
        raise LoginError(
            "fwtrack has no anonymous mode\nhint: log locally (mode='offline') and browse with "
            "`fwtrack ui`, or log in with a key from your server"
        )
    url = host or FWTRACK_BASE_URL.get() or credentials.default_url()
    if url is None:
        raise LoginError(
            "no fwtrack server to log in to\nhint: fwtrack.login(host='https://fwtrack.example"
            ".com', key=...), or set FWTRACK_BASE_URL; offline runs need no login"
        )
    try:
        url = normalize_base_url(url)
    except ValueError as exc:
        raise LoginError(str(exc)) from None
    known = FWTRACK_API_KEY.get() is not None or credentials.lookup(url) is not None
    if key is None and not relogin and known:
        return True
    if key is None:
        if not sys.stdin.isatty():
            raise LoginError(
                f"no API key for {url}\nhint: fwtrack.login(key=...), set FWTRACK_API_KEY, or "
                f"run `fwtrack login {url}`"
            )
        key = getpass.getpass(f"API key for {url} (input is hidden): ")
    check_and_store(url, key)
    return True


def _read_key(url: str, key: str | None) -> str:
    if key is not None:
        return key
    if not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    return getpass.getpass(f"API key for {url} (input is hidden): ")


def _cmd_login(args: argparse.Namespace) -> int:
    url = args.url or FWTRACK_BASE_URL.get() or credentials.default_url()
    if url is None:
        raise LoginError(
            "name the server to log in to\nhint: fwtrack login https://fwtrack.example.com"
        )
    try:
        url = normalize_base_url(url)
    except ValueError as exc:
        raise LoginError(str(exc)) from None
    viewer, path = check_and_store(url, _read_key(url, args.key))
    role = " (admin)" if viewer.get("is_admin") else ""
    teams = viewer.get("teams")
    team_note = ""
    if isinstance(teams, list) and teams:
        team_note = f", member of {', '.join(str(t) for t in teams)}"
    print(f"Logged in to {url} as {viewer['name']}{role}{team_note}.")
    print(f"The key is stored in {path}; {url} is now the default server.")
    return 0


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """Register `fwtrack login` on the CLI's subcommands."""
    p = sub.add_parser(
        "login",
        parents=parents,
        help="store an API key for a fwtrack server",
        description=(
            "Check an API key with the server and store it (mode 0600) for online runs, "
            "`fwtrack sync` and fwtrack.Api(base_url=...)."
        ),
    )
    p.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="the server, e.g. https://fwtrack.example.com (default: $FWTRACK_BASE_URL)",
    )
    p.add_argument(
        "--key",
        default=None,
        help="the API key (default: read from standard input, or a hidden prompt)",
    )
    p.set_defaults(func=_cmd_login)
