"""Webhooks: registry events and run alerts of an entity POSTed, signed, to the URLs its
admins registered (docs/server.md "Webhooks"; the routes are in `routes/webhooks.py`).

A change that emits an event calls `enqueue(session, entity, event, payload)` inside its own
write transaction: one `webhook_deliveries` row per active webhook of the entity that takes
the event, holding the exact JSON body to send. So an event is recorded if and only if the
change is, and a receiver that is slow, down or failing never fails the request that caused
it. After the commit the route calls `wake(ctx)`.

Each server process runs one `Dispatcher`: a thread that claims due deliveries (every second,
and at once when woken) and a few sender threads that POST them. A claim is a conditional
UPDATE (`status = 'pending'` and no live lease) that sets `claimed_until`, so with several
server processes on one database each delivery is sent by one of them. A 2xx answer makes a
delivery `delivered`; anything else (another status, a refused connection, a timeout) counts
an attempt and schedules the next one `retry_base * 2**(attempts - 1)` seconds later (at most
an hour), until `max_attempts` have failed: then it is `failed`. A process killed while
sending leaves the lease to expire (`LEASE` seconds), and the delivery is sent again: delivery
is at least once, and `X-Fwtrack-Delivery` lets a receiver drop a repeat.

Every request is signed: `X-Fwtrack-Signature-256: sha256=<hex>` is the HMAC-SHA256 with the
webhook's secret of `f"{timestamp}.{body}"`, `timestamp` being `X-Fwtrack-Timestamp`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fwtrack import _core
from fwtrack.server.config import DEFAULT_WEBHOOK_MAX_ATTEMPTS, DEFAULT_WEBHOOK_RETRY_BASE
from fwtrack.server.context import AppContext
from fwtrack.server.db import Database, Webhook, WebhookDelivery, now

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_RETRY_BASE",
    "EVENTS",
    "MAX_BACKOFF",
    "RUN_ALERT",
    "SUBSCRIBABLE",
    "Dispatcher",
    "backoff",
    "enqueue",
    "ping",
    "sign",
    "start_dispatcher",
    "wake",
]

log = logging.getLogger("fwtrack.server")

VERSION_LINKED = "registry.version_linked"
ALIAS_MOVED = "registry.alias_moved"
RUN_ALERT = "run.alert"
"""A run of the entity raised an alert (`fwtrack.alert`; `fwtrack.server.alerts`)."""
PING = "ping"
SUBSCRIBABLE = (VERSION_LINKED, ALIAS_MOVED, RUN_ALERT)
"""The events a webhook can take (`events`; all of them by default)."""
EVENTS = (*SUBSCRIBABLE, PING)
"""Every event a webhook receives: `ping` is sent by `POST .../test` whatever it takes."""

DEFAULT_RETRY_BASE = DEFAULT_WEBHOOK_RETRY_BASE
"""Seconds before the second attempt (`FWTRACK_WEBHOOK_RETRY_BASE`); each further wait
doubles it."""
DEFAULT_MAX_ATTEMPTS = DEFAULT_WEBHOOK_MAX_ATTEMPTS
"""Attempts before a delivery is `failed` (`FWTRACK_WEBHOOK_MAX_ATTEMPTS`)."""
MAX_BACKOFF = 3600.0
"""The longest wait between two attempts."""
TIMEOUT = 10.0
"""Seconds to connect, send and wait for an answer (each)."""
LEASE = 120.0
"""Seconds a claim lasts: a process that died while sending lets the delivery go again."""
POLL_INTERVAL = 1.0
"""Seconds between two looks for due deliveries (a delivery also goes at once when woken)."""
SENDERS = 4
"""Deliveries one server process sends at once (a slow receiver holds one sender)."""
MAX_ERROR_CHARS = 1000
"""Longest `last_error` kept: the status and the start of the receiver's answer."""

USER_AGENT = f"fwtrack-webhooks/{_core.__version__}"
_RESERVED = ("event", "delivery", "created_at", "entity")


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """`sha256=<hex>`: the HMAC-SHA256 with `secret` of `f"{timestamp}.{body}"` (the value of
    `X-Fwtrack-Signature-256`)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int, retry_base: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: `retry_base * 2**(attempts-1)`,
    at most `MAX_BACKOFF`."""
    return float(min(retry_base * 2.0 ** min(max(attempts - 1, 0), 40), MAX_BACKOFF))


def _add(
    session: Session, webhook_id: int, entity: str, event: str, payload: dict[str, Any]
) -> WebhookDelivery:
    at = now()
    row = WebhookDelivery(
        webhook_id=webhook_id,
        event=event,
        payload="",
        status="pending",
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )
    session.add(row)
    session.flush()  # the id goes into the body
    body = {"event": event, "delivery": row.id, "created_at": at, "entity": entity}
    body.update((k, v) for k, v in payload.items() if k not in _RESERVED)
    row.payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return row


def enqueue(session: Session, entity: str, event: str, payload: dict[str, Any]) -> None:
    """Record a delivery of `event` for each active webhook of `entity` that takes it, in the
    caller's transaction (nothing when none does). The body sent is `{"event", "delivery",
    "created_at", "entity"}` followed by `payload`'s other keys. Call `wake(ctx)` after the
    commit."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}; expected one of {EVENTS}")
    hooks = session.execute(
        sa.select(Webhook.id, Webhook.events)
        .where(Webhook.entity == entity, Webhook.active.is_(True))
        .order_by(Webhook.id)
    ).all()
    for hook_id, events in hooks:
        if event in (events or SUBSCRIBABLE):
            _add(session, hook_id, entity, event, payload)


def ping(session: Session, hook: Webhook, user: str | None) -> WebhookDelivery:
    """Record a `ping` delivery to `hook` (whatever events it takes, active or not)."""
    return _add(
        session,
        hook.id,
        hook.entity,
        PING,
        {"webhook": hook.id, "url": hook.url, "events": list(hook.events), "user": user},
    )


_DISPATCHERS: dict[int, Dispatcher] = {}
_DISPATCHERS_LOCK = threading.Lock()


def wake(ctx: AppContext) -> None:
    """Send what was just enqueued now rather than at the next look (after the commit).
    Nothing when this process runs no dispatcher."""
    with _DISPATCHERS_LOCK:
        dispatcher = _DISPATCHERS.get(id(ctx))
    if dispatcher is not None:
        dispatcher.wake()


def start_dispatcher(ctx: AppContext) -> Dispatcher:
    """Start the dispatcher of this server process (the app's lifespan does, and stops it)."""
    dispatcher = Dispatcher(
        ctx.db, ctx.config.webhook_retry_base, ctx.config.webhook_max_attempts, key=id(ctx)
    )
    dispatcher.start()
    return dispatcher


@dataclass(frozen=True)
class _Claim:
    id: int
    event: str
    payload: str
    attempts: int
    url: str
    secret: str
    until: float  # the lease: the result is recorded only while it is still ours


def _claim(db: Database, limit: int) -> list[_Claim]:
    """Lease up to `limit` due deliveries of active webhooks to this process."""
    at = now()
    free = sa.or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < at)
    due = sa.and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= at, free)
    with db.read() as session:  # a look without the write lock first: mostly nothing is due
        ids = session.scalars(
            sa.select(WebhookDelivery.id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(due, Webhook.active.is_(True))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        ).all()
    if not ids:
        return []
    until = at + LEASE
    with db.write() as session:
        # Conditional: a row another process claimed meanwhile no longer matches (PostgreSQL
        # re-checks the condition on the row it waited for; SQLite serializes writers).
        got = session.scalars(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), due)
            .values(claimed_until=until)
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        ).all()
        if not got:
            return []
        rows = session.execute(
            sa.select(
                WebhookDelivery.id,
                WebhookDelivery.event,
                WebhookDelivery.payload,
                WebhookDelivery.attempts,
                Webhook.url,
                Webhook.secret,
            )
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.id.in_(got))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        ).all()
    return [_Claim(*row, until=until) for row in rows]


def _record(
    db: Database,
    claim: _Claim,
    status: int | None,
    error: str | None,
    retry_base: float,
    max_attempts: int,
) -> str | None:
    """Record one attempt's outcome while the lease is ours; the new status (None: lost)."""
    at = now()
    attempts = claim.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status": status,
        "last_error": error,
        "claimed_until": None,
    }
    if error is None:
        values.update(status="delivered", delivered_at=at)
    elif attempts >= max_attempts:
        values.update(status="failed")
    else:
        values.update(next_attempt_at=at + backoff(attempts, retry_base))
    with db.write() as session:
        done = session.execute(
            sa.update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claim.id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.claimed_until == claim.until,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if getattr(done, "rowcount", 0) != 1:
        return None  # the webhook was deleted meanwhile (or the lease ran out)
    return str(values.get("status", "pending"))


def _describe(exc: Exception) -> str:
    text = str(exc) or "no detail"
    return f"{type(exc).__name__}: {text}"[:MAX_ERROR_CHARS]


class Dispatcher:
    """The webhook deliveries of one server process: a claiming thread and `senders` sending
    threads (all daemons: a hanging receiver never holds up the process's exit)."""

    def __init__(
        self,
        db: Database,
        retry_base: float = DEFAULT_RETRY_BASE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        *,
        senders: int = SENDERS,
        poll_interval: float = POLL_INTERVAL,
        key: int | None = None,
    ) -> None:
        self.db = db
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.senders = senders
        self.poll_interval = poll_interval
        self._key = key
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._queue: queue.Queue[_Claim | None] = queue.Queue()
        self._outstanding = 0  # claimed, not yet recorded
        self._lock = threading.Lock()
        self._http = httpx.Client(
            timeout=TIMEOUT,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # never through a proxy of the server's environment
        )
        self._threads = [threading.Thread(target=self._loop, name="fwtrack-webhooks", daemon=True)]
        self._threads += [
            threading.Thread(target=self._send_loop, name=f"fwtrack-webhook-{i}", daemon=True)
            for i in range(senders)
        ]

    def start(self) -> None:
        if self._key is not None:
            with _DISPATCHERS_LOCK:
                _DISPATCHERS[self._key] = self
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming; give the deliveries under way `timeout` seconds, then leave them to
        their lease (another process, or this one restarted, sends them again)."""
        if self._key is not None:
            with _DISPATCHERS_LOCK:
                if _DISPATCHERS.get(self._key) is self:
                    del _DISPATCHERS[self._key]
        self._stop.set()
        self._wake.set()
        for _ in range(self.senders):
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(deadline - time.monotonic(), 0.0))
        if not any(t.is_alive() for t in self._threads[1:]):
            self._http.close()

    def wake(self) -> None:
        """Look for due deliveries now."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._lock:
                free = self.senders - self._outstanding
            claimed: list[_Claim] = []
            if free > 0:
                try:
                    claimed = _claim(self.db, free)
                except Exception:  # keep delivering: a failed look must not stop it
                    log.exception("claiming webhook deliveries failed")
            if claimed:
                with self._lock:
                    self._outstanding += len(claimed)
                for claim in claimed:
                    self._queue.put(claim)
                if len(claimed) == free:
                    continue  # more may be due: look again once a sender is free
            self._wake.wait(self.poll_interval)

    def _send_loop(self) -> None:
        while True:
            claim = self._queue.get()
            if claim is None:
                return
            try:
                self._deliver(claim)
            except Exception:
                log.exception("webhook delivery %d failed", claim.id)
            finally:
                with self._lock:
                    self._outstanding -= 1
                self._wake.set()

    def _deliver(self, claim: _Claim) -> None:
        body = claim.payload.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Fwtrack-Event": claim.event,
            "X-Fwtrack-Delivery": str(claim.id),
            "X-Fwtrack-Timestamp": timestamp,
            "X-Fwtrack-Signature-256": sign(claim.secret, timestamp, body),
        }
        status: int | None = None
        error: str | None = None
        try:
            with self._http.stream("POST", claim.url, content=body, headers=headers) as resp:
                status = resp.status_code
                if not 200 <= status < 300:
                    answer = b""
                    for chunk in resp.iter_bytes():
                        answer += chunk
                        if len(answer) >= MAX_ERROR_CHARS:
                            break
                    text = answer[:MAX_ERROR_CHARS].decode("utf-8", "replace").strip()
                    error = f"HTTP {status}" + (f": {text}" if text else "")
                    error = error[:MAX_ERROR_CHARS]
        except httpx.HTTPError as exc:
            error = _describe(exc)
        outcome = _record(self.db, claim, status, error, self.retry_base, self.max_attempts)
        if outcome == "failed":
            log.warning(
                "webhook delivery %d (%s to %s) failed after %d attempts: %s",
                claim.id,
                claim.event,
                claim.url,
                claim.attempts + 1,
                error,
            )
