"""Failed-login throttling for `POST /login`, kept in SQL so every server process shares it.

Two counters: one per username (lowercased) and one per client address. Each counts failures
over a window (`login_window`); reaching its limit locks it for `login_lockout` seconds,
doubling with each further lockout (up to an hour, or the first lockout when longer), and a
window without failures after a lockout ends starts the doubling over.

- A locked address is refused (`429` with `Retry-After`) whatever the username.
- A locked username is refused only from addresses that failed a login within the window.
  A client with a clean record still gets its password checked, so an attacker who keeps a
  username locked cannot keep its owner out; each address they try becomes a failing one
  after its first wrong guess.
- A successful login clears its username's counter (not the address's: logging into one's
  own account must not buy more guesses at others).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fwtrack.server.db import Database, LoginThrottle
from fwtrack.server.errors import ApiError

__all__ = [
    "LoginRules",
    "check_login_allowed",
    "clear_user",
    "record_login_failure",
    "record_login_success",
]

_MAX_LOCKOUT = 3600.0


@dataclass(frozen=True)
class LoginRules:
    """The limits (from the server's configuration)."""

    window: float
    lockout: float
    max_user_failures: int
    max_address_failures: int

    @property
    def max_lockout(self) -> float:
        return max(self.lockout, _MAX_LOCKOUT)


def _user_scope(username: str) -> str:
    return f"user:{username.lower()}"


def _address_scope(address: str) -> str:
    return f"addr:{address[:190]}"


def _wait(row: LoginThrottle | None, now: float) -> str | None:
    """The `Retry-After` (whole seconds, at least 1) while `row` is locked, else None."""
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return str(max(1, math.ceil(row.locked_until - now)))


def _refused(wait: str, whose: str, hint: str) -> ApiError:
    return ApiError(
        429,
        f"too many failed logins {whose}; retry after {wait} s (each further lockout doubles "
        f"the wait, up to an hour); hint: {hint}",
        headers={"Retry-After": wait},
    )


def check_login_allowed(
    db: Database, rules: LoginRules, username: str, address: str, now: float
) -> None:
    """429 with `Retry-After` when the address is locked, or the username is locked and this
    address failed within the window."""
    user_scope, address_scope = _user_scope(username), _address_scope(address)
    with db.read() as session:
        rows = {
            row.scope: row
            for row in session.scalars(
                sa.select(LoginThrottle).where(LoginThrottle.scope.in_([user_scope, address_scope]))
            )
        }
    by_address = rows.get(address_scope)
    if (wait := _wait(by_address, now)) is not None:
        raise _refused(
            wait,
            "from your address",
            "check the username and password, or ask an admin to set a new password",
        )
    address_failing = (
        by_address is not None
        and by_address.last_failure_at is not None
        and now - by_address.last_failure_at < rules.window
    )
    if address_failing and (wait := _wait(rows.get(user_scope), now)) is not None:
        raise _refused(
            wait,
            f"for user {username!r}",
            f"an admin can set a new password (PATCH /api/v1/users/{username})",
        )


def _locked_row(session: Session, scope: str) -> LoginThrottle:
    """The row of `scope`, created when missing, locked for this transaction."""
    values = {"scope": scope, "failures": 0, "lockouts": 0}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(LoginThrottle).values(values).on_conflict_do_nothing())
    row = session.scalars(
        sa.select(LoginThrottle)
        .where(LoginThrottle.scope == scope)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return row


def _count_failure(row: LoginThrottle, limit: int, rules: LoginRules, now: float) -> None:
    if row.locked_until is not None and now > row.locked_until + rules.window:
        row.lockouts = 0  # quiet for a window since the last lockout: the doubling starts over
    if row.window_start is None or now - row.window_start >= rules.window:
        row.window_start = now
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= limit:
        row.lockouts += 1
        row.locked_until = now + min(rules.lockout * 2 ** (row.lockouts - 1), rules.max_lockout)
        row.failures = 0
        row.window_start = None


def record_login_failure(
    db: Database, rules: LoginRules, username: str, address: str, now: float
) -> None:
    """Count a wrong password (or unknown user) against the username and the address."""
    with db.write() as session:
        for scope, limit in sorted(
            [
                (_user_scope(username), rules.max_user_failures),
                (_address_scope(address), rules.max_address_failures),
            ]
        ):  # always the same order, so two processes never wait on each other's rows
            _count_failure(_locked_row(session, scope), limit, rules, now)


def record_login_success(db: Database, username: str) -> None:
    """Clear the username's counter after a correct password."""
    clear_user(db, username)


def clear_user(db: Database, username: str) -> None:
    """Forget the username's failures and lockout (a successful login, a new password)."""
    scope = _user_scope(username)
    with db.read() as session:
        present = session.scalar(sa.select(LoginThrottle.scope).where(LoginThrottle.scope == scope))
    if present is not None:
        with db.write() as session:
            session.execute(sa.delete(LoginThrottle).where(LoginThrottle.scope == scope))
