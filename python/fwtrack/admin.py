"""Managing a fwtrack server's users, API keys and teams from Python (`fwtrack.Api(base_url=...)`).

    api = fwtrack.Api(base_url="http://tracker:8080")          # an admin's key
    user, key = api.create_user("alice", password="correct horse")
    api.user("bob").disable()                                    # his keys stop working at once
    for k in api.user("carol").api_keys():
        if k.description == "laptop":
            api.user("carol").revoke_key(k.id)
    api.team("vision").remove_member("bob")

The calls live in `AdminCalls`, which `fwtrack.Api` inherits; they need a server (`base_url`)
and raise `ServerRequiredError` on an `Api` of a local directory. Times are timezone-aware UTC
datetimes. Server answers map to `ServerError` subclasses with the server's `detail`:
`AuthenticationError` (401), `PermissionDeniedError` (403, e.g. not an admin), `NotFoundError`
(404), `InvalidRequestError` (400, also a ValueError) and `NameTakenError` (409). Users import
all of these from `fwtrack.api`.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from fwtrack import path_names
from fwtrack._http import HttpClient, InvalidRequestError, NameTakenError, ServerError
from fwtrack.errors import ServerRequiredError

if TYPE_CHECKING:
    from fwtrack.api_remote import RemoteBackend

__all__ = [
    "AdminCalls",
    "ApiKey",
    "NewApiKey",
    "Team",
    "User",
]

_MIN_PASSWORD, _MAX_PASSWORD = 8, 1024
_MIN_EXPIRES_IN, _MAX_EXPIRES_IN = 60, 10 * 365 * 86400

T = TypeVar("T")


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), tz=timezone.utc)


def _check_name(name: object, what: str) -> str:
    """`name` when it is a valid user or team name (`fwtrack.path_names.check_entity`)."""
    try:
        return path_names.check_entity(name)
    except ValueError:
        raise ValueError(
            f"invalid {what} name {name!r}: use 1-{path_names.MAX_ENTITY} characters of A-Z, "
            "a-z, 0-9, '_', '.', '-' (not '.' or '..')"
        ) from None


def _check_password(password: object) -> str:
    if not isinstance(password, str) or not _MIN_PASSWORD <= len(password) <= _MAX_PASSWORD:
        shown = f"{len(password)} characters" if isinstance(password, str) else repr(password)
        raise ValueError(
            f"a password is a str of {_MIN_PASSWORD} to {_MAX_PASSWORD} characters, got {shown}"
        )
    return password


def _name_of(value: object, what: str) -> str:
    """A user or team name from a str or a `User`/`Team`."""
    if isinstance(value, User | Team):
        return value.name
    return _check_name(value, what)


_BY_STATUS: dict[int, tuple[type[ServerError], str]] = {
    400: (InvalidRequestError, "change the request as the server's detail says"),
    409: (NameTakenError, "pick another name (user and team names are unique regardless of case)"),
}


def _mapped(call: Callable[[], T]) -> T:
    """`call()`, with 400 and 409 answers raised as `InvalidRequestError`/`NameTakenError`."""
    try:
        return call()
    except ServerError as exc:
        mapped = _BY_STATUS.get(exc.status)
        if mapped is None or type(exc) is not ServerError:
            raise
        cls, hint = mapped
        head = str(exc).split("\nhint: ", 1)[0]
        raise cls(
            f"{head}\nhint: {hint}", status=exc.status, detail=exc.detail, url=exc.url
        ) from None


class _Client:
    """JSON calls on the access routes, errors mapped."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if body is not None else None
        return _mapped(lambda: self.http.request(method, path, body=body, headers=headers).json())


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _attached(client: _Client | None, what: str, getter: str) -> _Client:
    """The server `what` came from; ServerRequiredError when it was made by hand."""
    if client is None:
        raise ServerRequiredError(
            f"{what} is not attached to a server; hint: get it from "
            f"fwtrack.Api(base_url=...).{getter}"
        )
    return client


@dataclass
class ApiKey:
    """One API key as the server lists it (its prefix; the key itself is shown only when it
    is created)."""

    id: int
    prefix: str
    description: str
    created_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked: bool
    expired: bool

    @classmethod
    def _from(cls, doc: dict[str, Any]) -> ApiKey:
        return cls(
            id=int(doc["id"]),
            prefix=str(doc["prefix"]),
            description=str(doc.get("description") or ""),
            created_at=_time(doc.get("created_at")),
            last_used_at=_time(doc.get("last_used_at")),
            expires_at=_time(doc.get("expires_at")),
            revoked=bool(doc.get("revoked")),
            expired=bool(doc.get("expired")),
        )

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return not (self.revoked or self.expired)


@dataclass(frozen=True)
class NewApiKey:
    """A key just created: `api_key` is the secret itself (shown only this once)."""

    id: int
    api_key: str
    expires_at: datetime | None

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        shown = f"{self.api_key[:12]}..."
        return f"NewApiKey(id={self.id}, api_key={shown!r}, expires_at={self.expires_at!r})"


@dataclass
class User:
    """A user of the server. The changing methods need an admin's key and update this object
    from the server's answer."""

    name: str
    is_admin: bool
    disabled: bool
    has_password: bool
    created_at: datetime | None
    teams: list[str] = field(default_factory=list)
    _client: _Client | None = field(default=None, repr=False, compare=False)

    @classmethod
    def _from(cls, doc: dict[str, Any], client: _Client) -> User:
        return cls(
            name=str(doc["name"]),
            is_admin=bool(doc.get("is_admin")),
            disabled=bool(doc.get("disabled")),
            has_password=bool(doc.get("has_password")),
            created_at=_time(doc.get("created_at")),
            teams=[str(t) for t in doc.get("teams") or []],
            _client=client,
        )

    def _c(self) -> _Client:
        return _attached(self._client, f"User({self.name!r})", "user(name)")

    def _update(self, doc: dict[str, Any]) -> User:
        fresh = User._from(doc, self._c())
        self.is_admin, self.disabled = fresh.is_admin, fresh.disabled
        self.has_password, self.teams = fresh.has_password, fresh.teams
        return self

    def _patch(self, **changes: Any) -> User:
        return self._update(self._c().call("PATCH", f"/users/{_q(self.name)}", changes))

    def refresh(self) -> User:
        """Fetch the user again."""
        return self._update(self._c().call("GET", f"/users/{_q(self.name)}"))

    def api_keys(self) -> list[ApiKey]:
        """The user's keys, oldest first (admins, or the user themself)."""
        doc = self._c().call("GET", f"/users/{_q(self.name)}/keys")
        return [ApiKey._from(k) for k in doc["keys"]]

    def disable(self) -> User:
        """Disable the user: its keys and password stop working at once (admins only; not
        yourself)."""
        return self._patch(disabled=True)

    def enable(self) -> User:
        """Enable the user again: its keys that are not revoked or expired work again."""
        return self._patch(disabled=False)

    def set_password(self, password: str) -> User:
        """Set a new password (8-1024 characters); it also lifts a login lockout."""
        return self._patch(password=_check_password(password))

    def set_admin(self, is_admin: bool) -> User:
        """Grant or take the admin flag (admins only; not your own)."""
        if not isinstance(is_admin, bool):
            raise TypeError(f"is_admin must be a bool, got {is_admin!r}")
        return self._patch(is_admin=is_admin)

    def revoke_key(self, key_id: int | ApiKey) -> None:
        """Revoke one of this user's keys; it stops working at once."""
        kid = _key_id(key_id)
        if kid not in {k.id for k in self.api_keys()}:
            raise ValueError(
                f"user {self.name!r} has no API key with id {kid!r}; hint: "
                "user.api_keys() lists them"
            )
        self._c().call("DELETE", f"/keys/{kid}")


@dataclass
class Team:
    """A team and its members (sorted)."""

    name: str
    members: list[str] = field(default_factory=list)
    _client: _Client | None = field(default=None, repr=False, compare=False)

    @classmethod
    def _from(cls, doc: dict[str, Any], client: _Client) -> Team:
        return cls(str(doc["name"]), [str(m) for m in doc.get("members") or []], client)

    def _c(self) -> _Client:
        return _attached(self._client, f"Team({self.name!r})", "team(name)")

    def _update(self, doc: dict[str, Any]) -> Team:
        self.members = [str(m) for m in doc.get("members") or []]
        return self

    def refresh(self) -> Team:
        """Fetch the members again."""
        return self._update(self._c().call("GET", f"/teams/{_q(self.name)}"))

    def add_member(self, user: str | User) -> Team:
        """Add a user (admins and members may)."""
        name = _name_of(user, "user")
        return self._update(
            self._c().call("POST", f"/teams/{_q(self.name)}/members", {"user": name})
        )

    def remove_member(self, user: str | User) -> Team:
        """Remove a user (admins and members may); they lose access to the team's projects
        at once."""
        name = _name_of(user, "user")
        return self._update(self._c().call("DELETE", f"/teams/{_q(self.name)}/members/{_q(name)}"))


def _key_id(key_id: object) -> int:
    """The id of an `ApiKey`, or `key_id` when it is a positive int."""
    if isinstance(key_id, ApiKey):
        return key_id.id
    if isinstance(key_id, bool) or not isinstance(key_id, int) or key_id < 1:
        raise ValueError(f"an API key id is a positive int, got {key_id!r}")
    return key_id


class AdminCalls:
    """The user, key and team calls of `fwtrack.Api` (a server's; admin-only ones say so)."""

    if TYPE_CHECKING:
        _remote: RemoteBackend | None

    def _admin_client(self, what: str) -> _Client:
        remote = getattr(self, "_remote", None)
        if remote is None:
            raise ServerRequiredError(
                f"Api.{what}() manages a fwtrack server's users, keys and teams, and this Api "
                "reads a local run directory; hint: use fwtrack.Api(base_url='http://host:8080'"
                ", api_key=...) (or set FWTRACK_BASE_URL)"
            )
        return _Client(remote.client)

    def users(self) -> list[User]:
        """Every user of the server, sorted by name (admins only)."""
        client = self._admin_client("users")
        return [User._from(u, client) for u in client.call("GET", "/users")["users"]]

    def user(self, name: str) -> User:
        """One user (admins: anyone; others: themselves). `NotFoundError` when unknown."""
        client = self._admin_client("user")
        return User._from(client.call("GET", f"/users/{_q(_check_name(name, 'user'))}"), client)

    def create_user(
        self, name: str, password: str | None = None, admin: bool = False
    ) -> tuple[User, NewApiKey]:
        """Create a user (admins only) with an optional password; returns the user and its
        first API key. `NameTakenError` when a user or team has the name in any case."""
        client = self._admin_client("create_user")
        payload: dict[str, Any] = {"name": _check_name(name, "user"), "is_admin": bool(admin)}
        if password is not None:
            payload["password"] = _check_password(password)
        doc = client.call("POST", "/users", payload)
        first = NewApiKey(id=int(doc["key_id"]), api_key=str(doc["api_key"]), expires_at=None)
        return User._from(doc, client), first

    def create_api_key(self, description: str = "", expires_in: int | None = None) -> NewApiKey:
        """A new API key for the key's own user, working for `expires_in` seconds (60 s to
        10 years; None: until revoked). The key is shown only in the answer."""
        client = self._admin_client("create_api_key")
        if not isinstance(description, str) or len(description) > 256:
            raise ValueError(
                f"description must be a str of at most 256 characters, got {description!r:.80}"
            )
        payload: dict[str, Any] = {"description": description}
        if expires_in is not None:
            if (
                isinstance(expires_in, bool)
                or not isinstance(expires_in, int)
                or not _MIN_EXPIRES_IN <= expires_in <= _MAX_EXPIRES_IN
            ):
                raise ValueError(
                    f"expires_in must be an int of seconds from {_MIN_EXPIRES_IN} to "
                    f"{_MAX_EXPIRES_IN} (10 years), got {expires_in!r}"
                )
            payload["expires_in"] = expires_in
        doc = client.call("POST", "/keys", payload)
        return NewApiKey(
            id=int(doc["id"]), api_key=str(doc["api_key"]), expires_at=_time(doc.get("expires_at"))
        )

    def api_keys(self) -> list[ApiKey]:
        """The key's own user's API keys, oldest first."""
        client = self._admin_client("api_keys")
        return [ApiKey._from(k) for k in client.call("GET", "/keys")["keys"]]

    def revoke_api_key(self, key_id: int | ApiKey) -> None:
        """Revoke a key: one of your own, or (admins) anyone's. It stops working at once."""
        client = self._admin_client("revoke_api_key")
        client.call("DELETE", f"/keys/{_key_id(key_id)}")

    def teams(self) -> list[Team]:
        """Admins: every team; others: the teams they belong to. Sorted by name."""
        client = self._admin_client("teams")
        return [Team._from(t, client) for t in client.call("GET", "/teams")["teams"]]

    def team(self, name: str) -> Team:
        """One team (admins and its members). `NotFoundError` when unknown."""
        client = self._admin_client("team")
        return Team(_check_name(name, "team"), [], client).refresh()

    def create_team(self, name: str) -> Team:
        """Create a team with yourself as its first member. `NameTakenError` when a user or
        team has the name in any case."""
        client = self._admin_client("create_team")
        doc = client.call("POST", "/teams", {"name": _check_name(name, "team")})
        return Team._from(doc, client)
