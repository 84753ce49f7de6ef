"""A small HTTP client for the fwtrack server's API (`/api/v1`, see docs/server.md).

Standard library only (`urllib`): JSON and raw bytes, `Authorization: Bearer <key>`, a timeout
per request, a few retries on `429`/`503` (honouring `Retry-After`), and every failure mapped to
a `ServerError` subclass carrying the server's `detail` and a `hint:` on what to do about it.

Redirects of a `GET` are followed (a large file is answered `307` to a presigned URL of the
server's object store); the API key goes only to the server's own origin, never to another
(a presigned URL carries its own credentials).
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import IO, Any

from fwtrack.errors import FwTrackError, RunNotFoundError

__all__ = [
    "API_PREFIX",
    "AuthenticationError",
    "HttpClient",
    "InvalidRequestError",
    "MissingApiKeyError",
    "NameTakenError",
    "NotFoundError",
    "PermissionDeniedError",
    "Response",
    "ServerConnectionError",
    "ServerError",
    "StreamResponse",
    "normalize_base_url",
]

API_PREFIX = "/api/v1"

_RETRY_STATUSES = (429, 503)
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_MAX_RETRIES = 4
_MAX_RETRY_WAIT = 10.0


class ServerError(FwTrackError):
    """The server answered with an error (or not at all). `status` is the HTTP status (0 when
    there was no answer), `detail` the server's explanation, `url` the request's URL."""

    def __init__(self, message: str, *, status: int = 0, detail: str = "", url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.url = url


class AuthenticationError(ServerError):
    """`401`: no API key, or one the server does not know (or has revoked)."""


class MissingApiKeyError(AuthenticationError):
    """A server to read from but no API key for it (argument, environment, `fwtrack login`)."""


class PermissionDeniedError(ServerError):
    """`403`: a valid key whose user may not reach the entity (not a member of the team)."""


class NotFoundError(ServerError, RunNotFoundError):
    """`404`: no such project or run in a reachable entity."""


class ServerConnectionError(ServerError, ConnectionError):
    """No answer: the server is down, the address is wrong, or the request timed out."""


class InvalidRequestError(ServerError, ValueError):
    """`400`: the server refused the request as malformed (e.g. an admin disabling
    themself); `detail` says what to change."""


class NameTakenError(ServerError):
    """`409`: a user or team already has that name (names are unique regardless of case)."""


def normalize_base_url(url: str) -> str:
    """`url` without a trailing slash and without a trailing `/api/v1`; raises ValueError
    when it is not an http(s) URL."""
    if not isinstance(url, str):
        raise TypeError(f"base_url must be a str like 'http://host:8080', got {url!r}")
    text = url.strip().rstrip("/")
    if text.endswith(API_PREFIX):
        text = text[: -len(API_PREFIX)].rstrip("/")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"base_url {url!r} is not a server address: expected http(s)://host[:port], "
            "e.g. 'http://localhost:8080'"
        )
    return text


@dataclass(frozen=True)
class Response:
    """A successful answer: status, headers and body bytes."""

    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class StreamResponse:
    """An open answer: `status`, `headers`, and `read(n)` on the body."""

    def __init__(self, status: int, headers: Message, body: IO[bytes]) -> None:
        self.status = status
        self.headers = headers
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(size)


class HttpClient:
    """Requests to one server with one API key. Thread-safe (no shared connection state)."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 30.0) -> None:
        self.base_url = normalize_base_url(base_url)
        self._api_key = api_key
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The full URL of API path `path` (e.g. `/runs/e/p`), with query `params` (None
        values left out)."""
        url = f"{self.base_url}{API_PREFIX}{path}"
        if params:
            query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
            if query:
                url = f"{url}?{query}"
        return url

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def post_json(self, path: str, payload: Any, params: Mapping[str, Any] | None = None) -> Any:
        return self.send_json("POST", path, payload, params=params)

    def send_json(
        self,
        method: str,
        path: str,
        payload: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """`method` with `payload` as a JSON body (none when None); the answer's JSON."""
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if body is not None else None
        return self.request(method, path, params=params, body=body, headers=headers).json()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (),
    ) -> Response:
        """Send one request and return the answer; statuses in `ok` are returned as answers
        rather than raised (2xx always are). `429`/`503` are retried a few times."""
        with self.stream(method, path, params=params, body=body, headers=headers, ok=ok) as r:
            return Response(r.status, r.headers, r.read())

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (),
    ) -> Iterator[StreamResponse]:
        """Like `request`, but yields the open response so a large body can be copied to a
        file in chunks (`shutil.copyfileobj(resp, f)`) instead of being held in memory."""
        url = self.url(path, params)
        all_headers = {"Accept": "application/json, application/octet-stream"}
        if self._api_key:
            all_headers["Authorization"] = f"Bearer {self._api_key}"
        all_headers.update(headers or {})
        home = _origin(url)
        hops = 0
        attempt = 0
        while True:
            req = urllib.request.Request(url, data=body, headers=all_headers, method=method)
            try:
                resp = _OPENER.open(req, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                location = exc.headers.get("Location") if exc.headers is not None else None
                if (
                    exc.code in _REDIRECTS
                    and location
                    and method in ("GET", "HEAD")
                    and hops < _MAX_REDIRECTS
                ):
                    with exc:
                        exc.read()
                    hops += 1
                    url = urllib.parse.urljoin(url, location)
                    if _origin(url) != home:  # e.g. a presigned URL of the object store
                        all_headers = {
                            k: v for k, v in all_headers.items() if k.lower() != "authorization"
                        }
                    continue
                if exc.code in ok:
                    with exc:
                        yield StreamResponse(exc.code, exc.headers, exc)
                    return
                with exc:
                    payload = exc.read()
                if exc.code in _RETRY_STATUSES and attempt < _MAX_RETRIES:
                    time.sleep(_retry_after(exc.headers, attempt))
                    attempt += 1
                    continue
                raise _error(method, url, exc.code, payload) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                raise self._unreachable(method, url, exc) from exc
            with resp:
                yield StreamResponse(resp.status, resp.headers, resp)
            return

    def _unreachable(self, method: str, url: str, exc: BaseException) -> ServerConnectionError:
        reason = getattr(exc, "reason", exc)
        return ServerConnectionError(
            f"{method} {url} failed: {reason}\n"
            f"hint: is the server running at {self.base_url}? Check the address, or start "
            f"one with `fwtrack server`; a slow server may need a larger timeout "
            f"(now {self.timeout:g} s)",
            url=url,
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand redirects back to `HttpClient.stream`, which decides what they may carry."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _retry_after(headers: Message, attempt: int) -> float:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        wait = float(raw) if raw is not None else 0.1 * 2**attempt
    except ValueError:
        wait = 0.1 * 2**attempt
    return min(max(wait, 0.0), _MAX_RETRY_WAIT)


def _detail(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace").strip()[:500]
    if isinstance(data, dict) and "detail" in data:
        detail = data["detail"]
        return detail if isinstance(detail, str) else json.dumps(detail)
    return json.dumps(data)[:500]


def _error(method: str, url: str, status: int, payload: bytes) -> ServerError:
    detail = _detail(payload)
    base = urllib.parse.urlsplit(url)
    server = f"{base.scheme}://{base.netloc}"
    head = f"{method} {url} failed with {status}: {detail or 'no detail'}"
    cls: type[ServerError]
    if status == 401:
        cls = AuthenticationError
        hint = (
            f"log in with `fwtrack login {server}`, or pass api_key= "
            "(or set FWTRACK_API_KEY) with a key the server knows"
        )
    elif status == 403:
        cls = PermissionDeniedError
        hint = (
            "your user is not a member of that entity: ask an admin or a team member to add "
            "you, or use a key of a user who is"
        )
    elif status == 404:
        cls = NotFoundError
        hint = "check the entity/project/run id; list them with Api(base_url=...).runs(project)"
    else:
        cls = ServerError
        hint = (
            "the server is busy; try again later"
            if status in _RETRY_STATUSES
            else "see the server's log for the cause"
        )
    return cls(f"{head}\nhint: {hint}", status=status, detail=detail, url=url)
