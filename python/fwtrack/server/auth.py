"""API keys, passwords, and who may reach which entity.

Keys are `fwk_` + 40 base62 characters; only their SHA-256 and an 8-character prefix are
stored. Passwords are hashed with scrypt. Access is decided on the entity alone: a user reaches
their own entity, their teams' entities, and (admins) everything. A key works while it is not
revoked, not past its `expires_at`, and its user is not disabled; each is checked on every
request, so revoking, expiring or disabling takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fwtrack.server.db import ApiKey, Database, EntityName, Team, TeamMember, User, now
from fwtrack.server.errors import ApiError

__all__ = [
    "KEY_PREFIX",
    "LAST_USED_RESOLUTION",
    "Viewer",
    "add_user",
    "authenticate",
    "check_password",
    "claim_name",
    "create_key",
    "disabled_detail",
    "entity_exists",
    "generate_key",
    "hash_key",
    "hash_password",
    "is_valid_key",
    "name_taken_detail",
    "require_entity",
    "viewer_for_key",
]

LAST_USED_RESOLUTION = 60.0
"""A key's `last_used_at` is written at most once per this many seconds (not per request)."""

KEY_PREFIX = "fwk_"
_KEY_CHARS = string.ascii_letters + string.digits
_KEY_LEN = 40
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Viewer:
    """The user a request acts as, with the teams it belongs to."""

    id: int
    name: str
    is_admin: bool
    teams: tuple[str, ...] = field(default=())
    # The teams where this user's role is `viewer`: they read and comment, never write.
    read_only: tuple[str, ...] = field(default=())

    def reaches(self, entity: str) -> bool:
        """True when this user may read the projects of `entity` (and comment on them)."""
        return self.is_admin or entity == self.name or entity in self.teams

    def writes(self, entity: str) -> bool:
        """True when this user may write to `entity`: reach it with a role above `viewer`."""
        return self.reaches(entity) and (self.is_admin or entity not in self.read_only)


def generate_key() -> str:
    """A new random API key."""
    return KEY_PREFIX + "".join(secrets.choice(_KEY_CHARS) for _ in range(_KEY_LEN))


def is_valid_key(key: str) -> bool:
    """True when `key` has the shape of an API key."""
    body = key[len(KEY_PREFIX) :]
    return (
        key.startswith(KEY_PREFIX) and len(body) == _KEY_LEN and all(c in _KEY_CHARS for c in body)
    )


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session,
    user_id: int,
    description: str = "",
    key: str | None = None,
    *,
    expires_at: float | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key (or `key`, when seeding) for `user_id`, working until `expires_at`
    (Unix seconds; None: until revoked); return the row and the key."""
    key = key or generate_key()
    if not is_valid_key(key):
        raise ValueError(
            f"an API key looks like {KEY_PREFIX}<40 letters or digits>, got one of length "
            f'{len(key)}; hint: generate one with `python -c "import secrets, string; '
            "print('fwk_' + ''.join(secrets.choice(string.ascii_letters + string.digits) "
            'for _ in range(40)))"`'
        )
    row = ApiKey(
        user_id=user_id,
        key_hash=hash_key(key),
        prefix=key[len(KEY_PREFIX) : len(KEY_PREFIX) + 8],
        description=description,
        created_at=now(),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, key


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$<salt b64>$<hash b64>`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return "$".join(
        [
            "scrypt",
            str(_SCRYPT_N),
            str(_SCRYPT_R),
            str(_SCRYPT_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def check_password(password: str, stored: str | None) -> bool:
    """True when `password` matches the stored scrypt hash (constant-time comparison)."""
    if not stored:
        # Spend the same time as a real check, so a missing user is not told apart by timing.
        hashlib.scrypt(b"x", salt=b"0" * 16, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
        return False
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def _teams_of(session: Session, user_id: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The user's teams, and those of them where the user's role is `viewer`."""
    rows = session.execute(
        sa.select(Team.name, TeamMember.role)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == user_id)
        .order_by(Team.name)
    ).all()
    return tuple(r[0] for r in rows), tuple(r[0] for r in rows if r[1] == "viewer")


def viewer_of(session: Session, user: User) -> Viewer:
    """The viewer for a user row."""
    teams, read_only = _teams_of(session, user.id)
    return Viewer(user.id, user.name, user.is_admin, teams, read_only)


def disabled_detail(name: str) -> str:
    """The answer to a disabled user's key or login."""
    return (
        f"user {name!r} is disabled; hint: ask an admin to enable it "
        f'(PATCH /api/v1/users/{name} with {{"disabled": false}})'
    )


def _key_row(session: Session, authorization: str | None) -> tuple[ApiKey, User]:
    """The key and user of an `Authorization: Bearer <key>` header that may be used now;
    401 naming the problem for anything else."""
    if not authorization:
        raise ApiError(
            401,
            "missing API key: send 'Authorization: Bearer <api key>'; hint: create a key with "
            "POST /api/v1/login or ask an admin (POST /api/v1/users)",
            headers=_UNAUTHORIZED_HEADERS,
        )
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not is_valid_key(key):
        raise ApiError(
            401,
            "malformed Authorization header: expected 'Bearer fwk_<40 letters or digits>'",
            headers=_UNAUTHORIZED_HEADERS,
        )
    row = session.execute(
        sa.select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_hash == hash_key(key))
    ).one_or_none()
    if row is None or row[0].revoked_at is not None:
        raise ApiError(
            401,
            "unknown or revoked API key; hint: log in again (fwtrack login <url>) or create a "
            "new key",
            headers=_UNAUTHORIZED_HEADERS,
        )
    api_key, user = row[0], row[1]
    if user.disabled_at is not None:
        raise ApiError(401, disabled_detail(user.name), headers=_UNAUTHORIZED_HEADERS)
    if api_key.expires_at is not None and api_key.expires_at <= now():
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(api_key.expires_at))
        raise ApiError(
            401,
            f"API key expired on {when}; hint: log in again (fwtrack login <url>) or create a "
            "new key",
            headers=_UNAUTHORIZED_HEADERS,
        )
    return api_key, user


def viewer_for_key(session: Session, authorization: str | None) -> Viewer:
    """The viewer of an `Authorization: Bearer <key>` header; 401 for anything else (no key,
    an unknown, revoked or expired key, a disabled user)."""
    return viewer_of(session, _key_row(session, authorization)[1])


def authenticate(db: Database, authorization: str | None) -> Viewer:
    """`viewer_for_key` in a read transaction, then the key's `last_used_at` brought up to date
    when it is older than `LAST_USED_RESOLUTION` (so a busy key costs one write a minute)."""
    with db.read() as session:
        api_key, user = _key_row(session, authorization)
        viewer = viewer_of(session, user)
    stamp = now()
    if api_key.last_used_at is None or stamp - api_key.last_used_at >= LAST_USED_RESOLUTION:
        with db.write() as session:
            session.execute(
                sa.update(ApiKey)
                .where(
                    ApiKey.id == api_key.id,
                    sa.or_(
                        ApiKey.last_used_at.is_(None),
                        ApiKey.last_used_at < stamp - LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=stamp)
            )
    return viewer


def require_entity(viewer: Viewer, entity: str, *, write: bool = False) -> None:
    """403 unless `viewer` reaches `entity` (decided on the name alone, before any lookup);
    with `write`, also 403 for a team's `viewer` role (read and comment only)."""
    if not viewer.reaches(entity):
        raise ApiError(
            403,
            f"user {viewer.name!r} cannot reach entity {entity!r}: it is neither your user "
            "nor one of your teams; hint: ask a team member or an admin to add you",
        )
    if write and not viewer.writes(entity):
        raise ApiError(
            403,
            f"user {viewer.name!r} is a viewer of team {entity!r}: viewers read and comment "
            "but do not write; hint: ask a team admin to make you a member",
        )


def entity_exists(session: Session, entity: str) -> bool:
    """True when a user or a team is named `entity`."""
    user = session.scalar(sa.select(User.id).where(User.name == entity))
    if user is not None:
        return True
    return session.scalar(sa.select(Team.id).where(Team.name == entity)) is not None


def claim_name(session: Session, name: str) -> None:
    """Reserve `name` for a new user or team in this write transaction: 409 when a user or
    team holds it already in any case. A concurrent create of the same name fails on the
    `entity_names` primary key instead (an IntegrityError for the caller to answer 409)."""
    key = name.lower()
    if session.get(EntityName, key) is not None:
        raise ApiError(409, name_taken_detail(name))
    session.add(EntityName(name_key=key))
    session.flush()


def name_taken_detail(name: str) -> str:
    """The same answer for a user's and for a team's name, in any case."""
    return (
        f"the name {name!r} is taken; hint: user and team names are unique regardless of "
        "case, pick another"
    )


def add_user(
    session: Session, name: str, *, password: str | None = None, is_admin: bool = False
) -> User:
    """Claim `name` and create the user (flushed, so it has an id)."""
    claim_name(session, name)
    user = User(
        name=name,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin,
        created_at=now(),
    )
    session.add(user)
    session.flush()
    return user
