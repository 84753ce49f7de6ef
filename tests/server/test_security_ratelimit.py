"""`POST /login` is throttled per username and per client address, in the database, so two
worker processes share the counters; lockouts are short, double when repeated, and never keep
a user with a clean address out."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from .accessutil import Http, admin_http, start_server
from .apputil import BACKENDS
from .conftest import ServerFactory

PASSWORD = "correct horse battery"
# A 2 s first lockout (doubling), failures counted over a minute; 5 per user, 20 per address.
FAST = ("--login-lockout", "2", "--login-window", "60")


@pytest.fixture(params=BACKENDS)
def fast_admin(request: pytest.FixtureRequest, server_factory: ServerFactory) -> Iterator[Http]:
    """The admin of a two-worker server with the `FAST` limits, on each backend."""
    yield from admin_http(start_server(request, server_factory, request.param, *FAST, workers=2))


def fail(admin: Http, username: str, address: str, times: int) -> None:
    for i in range(times):
        r = admin.login(username, "wrong password", address=address)
        assert r.status_code == 401, (i, r.text)


def refused(admin: Http, username: str, address: str, says: str) -> httpx.Response:
    """The 429 answering the right password of `username` from `address`, whose detail
    holds `says` and a hint."""
    r = admin.login(username, PASSWORD, address=address)
    assert r.status_code == 429, r.text
    assert says in r.json()["detail"]
    assert "hint:" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) >= 1
    return r


def test_wrong_passwords_lock_the_user_briefly_from_failing_addresses(fast_admin: Http) -> None:
    admin = fast_admin
    admin.new_user("alice", PASSWORD)
    admin.new_user("bob", PASSWORD)
    attacker = "198.51.100.7"

    fail(admin, "alice", attacker, 5)
    r = refused(admin, "alice", attacker, "too many failed logins for user 'alice'")
    assert r.headers["Retry-After"] == "2"
    # other users are unaffected, from the same address too
    assert admin.login("bob", PASSWORD, address=attacker).status_code == 200

    # the lockout lifts: the next wrong passwords are counted again (401, not 429) ...
    time.sleep(int(r.headers["Retry-After"]))
    fail(admin, "alice", attacker, 5)
    # ... and the next lockout is twice as long
    r = refused(admin, "alice", attacker, "too many failed logins for user 'alice'")
    assert r.headers["Retry-After"] == "4"

    # alice, from an address that has not been failing, still gets in; that clears her
    # counter, so her own address works again too
    assert admin.login("alice", PASSWORD, address="203.0.113.5").status_code == 200
    assert admin.login("alice", PASSWORD, address=attacker).status_code == 200


def test_an_address_with_many_failures_is_locked_for_every_user(fast_admin: Http) -> None:
    admin = fast_admin
    admin.new_user("bob", PASSWORD)
    sprayer = "198.51.100.9"
    for i in range(20):  # one guess per username: no user lockout, the address's limit
        fail(admin, f"user{i}", sprayer, 1)
    r = refused(admin, "bob", sprayer, "too many failed logins from your address")
    assert admin.login("bob", PASSWORD, address="203.0.113.8").status_code == 200
    time.sleep(int(r.headers["Retry-After"]))
    assert admin.login("bob", PASSWORD, address=sprayer).status_code == 200


def test_an_admin_password_reset_lifts_the_users_lockout(
    request: pytest.FixtureRequest, server_factory: ServerFactory
) -> None:
    server = start_server(request, server_factory, "sqlite", "--login-lockout", "600")
    for admin in admin_http(server):
        admin.new_user("alice", PASSWORD)
        fail(admin, "alice", "198.51.100.7", 5)
        r = refused(admin, "alice", "198.51.100.7", "too many failed logins for user 'alice'")
        assert r.headers["Retry-After"] == "600"
        assert admin.patch("/users/alice", {"password": "a brand new one"}).status_code == 200
        assert admin.login("alice", "a brand new one", address="198.51.100.7").status_code == 200
