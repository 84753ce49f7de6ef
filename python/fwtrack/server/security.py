"""What keeps web pages out: the `fwtrack ui` Host check and access token, and the security
headers (Content-Security-Policy, X-Frame-Options) on every answer.

`fwtrack ui` has no sign-in, so a page on another site could reach it through DNS rebinding
(`attacker.example` resolving to 127.0.0.1): `UiAccessMiddleware` answers only the loopback
names and the name given with `--host`, and when the ui listens beyond loopback (or a token is
set) it also asks for a per-launch token: `?token=` on a page load (then an HttpOnly,
SameSite=Strict cookie), or `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import cookie_parser
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fwtrack.server.jsonutil import JsonResponse

__all__ = [
    "DASHBOARD_CSP",
    "LOOPBACK_HOSTS",
    "SecurityHeadersMiddleware",
    "UiAccessMiddleware",
    "dashboard_csp",
    "docs_page",
    "is_wildcard",
    "store_origins",
    "token_cookie_name",
]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Host names `fwtrack ui` always answers (with any port)."""

_WILDCARDS = ("0.0.0.0", "::", "")


def dashboard_csp(origins: Sequence[str] = ()) -> str:
    """The dashboard's policy; `origins` (an object store's public endpoint, which large
    files are redirected to) may also serve images, media and fetches."""
    extra = "".join(f" {o}" for o in origins)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Inline styles: the dashboard's own (style attributes) and those of HTML media
            # (srcdoc frames inherit this policy); styles cannot run code.
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob:{extra}",
            f"media-src 'self' blob:{extra}",
            "font-src 'self' data:",
            f"connect-src 'self' blob:{extra}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


DASHBOARD_CSP = dashboard_csp()
"""The dashboard's policy: its own scripts, styles and API only; media through blob: URLs;
never framed. Sent on every answer that does not carry a policy of its own (with the object
store's public origin added when large files are served from presigned URLs)."""

_FRAME_ANCESTORS = "frame-ancestors 'none'"

HEALTH_PATH = "/api/v1/health"
"""Answered without the ui token (probes; it tells only the version)."""


def _norm(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def is_wildcard(host: str) -> bool:
    """True for a bind address that listens on every interface (`0.0.0.0`, `::`)."""
    return _norm(host) in _WILDCARDS


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_name(header: str) -> str:
    """The name in a `Host` header, without its port or IPv6 brackets, lower case."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def token_cookie_name(port: int) -> str:
    """The cookie that carries the ui token: one per port (cookies ignore ports)."""
    return f"fwtrack_ui_{port}"


class UiAccessMiddleware:
    """`fwtrack ui` only: 421 for a `Host` it does not serve, 401 without its token.

    Served names: the loopback names, the `--host` name, and when bound to every interface
    (`0.0.0.0`) also IP addresses and this machine's host names. A name that resolves through
    someone else's DNS is what DNS rebinding needs; IP addresses cannot be rebound.
    """

    def __init__(self, app: ASGIApp, *, bind_host: str, port: int, token: str | None) -> None:
        self.app = app
        self.port = port
        self.token = token
        self.cookie = token_cookie_name(port)
        names = {*LOOPBACK_HOSTS, _norm(bind_host)}
        self.any_ip = is_wildcard(bind_host)
        if self.any_ip:
            names.discard("")
            for name in (socket.gethostname(), socket.getfqdn()):
                if name:
                    names.add(_norm(name))
        self.names = frozenset(names)

    def _host_allowed(self, name: str) -> bool:
        return name in self.names or (self.any_ip and _is_ip(name))

    def _shown_names(self) -> str:
        return ", ".join(f"[{n}]" if ":" in n else n for n in sorted(self.names))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw_host = headers.get("host", "")
        name = host_name(raw_host)
        if not self._host_allowed(name):
            shown = raw_host[:100] or "(no Host header)"
            response: Response = JsonResponse(
                {
                    "detail": f"this fwtrack ui does not serve the host {shown!r}: it answers "
                    f"only {self._shown_names()}, so that no other web site can reach it; "
                    f"hint: open http://127.0.0.1:{self.port}/, or start it with "
                    f"`fwtrack ui --host {name or 'NAME'}` to serve that name"
                },
                421,
            )
            await response(scope, receive, send)
            return
        if self.token is None or scope.get("path") == HEALTH_PATH:
            await self.app(scope, receive, send)
            return
        if self._has_token(headers):
            await self.app(scope, receive, send)
            return
        response = self._sign_in(scope) or _unauthorized(self.port)
        await response(scope, receive, send)

    def _matches(self, value: str | None) -> bool:
        assert self.token is not None
        return value is not None and hmac.compare_digest(value.encode(), self.token.encode())

    def _has_token(self, headers: dict[str, str]) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._matches(credentials.strip()):
            return True
        return self._matches(cookie_parser(headers.get("cookie", "")).get(self.cookie))

    def _sign_in(self, scope: Scope) -> Response | None:
        """A page load with `?token=`: the cookie, and a same-site reload of the page without
        the token in its URL. None when the request does not carry a token."""
        path: str = scope.get("path", "/")
        if scope.get("method") not in ("GET", "HEAD") or path.startswith("/api/"):
            return None
        query = urllib.parse.parse_qsl(
            scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        )
        given = [v for k, v in query if k == "token"]
        if not given:
            return None
        if not self._matches(given[-1]):
            return JsonResponse(
                {
                    "detail": "the token in this URL is not this fwtrack ui's; hint: open the "
                    "URL `fwtrack ui` printed when it started (each start makes a new token "
                    "unless --token or FWTRACK_UI_TOKEN sets one)"
                },
                401,
            )
        rest = urllib.parse.urlencode([(k, v) for k, v in query if k != "token"])
        # "/" + lstrip: a path like "//evil.example" must not become a protocol-relative URL.
        target = "/" + urllib.parse.quote(path.lstrip("/"), safe="/") + (f"?{rest}" if rest else "")
        shown = html.escape(target, quote=True)
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0; url={shown}"><title>fwtrack ui</title>'
            f'</head><body><p>Signed in. <a href="{shown}">Open the dashboard</a>.</p>'
            "</body></html>"
        )
        # A page that reloads itself rather than a 30x redirect: the reload is same-site, so
        # the SameSite=Strict cookie rides along even when the link was opened from another
        # site (a redirect chain that started cross-site would drop it).
        response = HTMLResponse(
            page, headers={"Cache-Control": "no-store", "Refresh": f"0; url={target}"}
        )
        response.set_cookie(
            self.cookie, self.token or "", path="/", httponly=True, samesite="strict"
        )
        return response


def _unauthorized(port: int) -> Response:
    return JsonResponse(
        {
            "detail": "this fwtrack ui listens beyond this machine and needs its access token; "
            "hint: open the URL `fwtrack ui` printed when it started "
            f"(http://HOST:{port}/?token=...), or send `Authorization: Bearer <token>`"
        },
        401,
        headers={"WWW-Authenticate": "Bearer"},
    )


class SecurityHeadersMiddleware:
    """Add the dashboard's Content-Security-Policy (unless the answer has its own, which then
    gains `frame-ancestors 'none'`), `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`
    and `Referrer-Policy: no-referrer` to every HTTP answer.

    `media_origins` names the origins the policy also allows for images, media and fetches
    (the object store's public endpoint, when large files are redirected there); by default
    they are taken once from the app's context (`app.state.ctx`, see `store_origins`)."""

    def __init__(
        self,
        app: ASGIApp,
        media_origins: Sequence[str] | Callable[[Any], Sequence[str]] | None = None,
    ) -> None:
        self.app = app
        if media_origins is None:
            media_origins = store_origins
        self._origins = media_origins
        self._csp: bytes | None = (
            None if callable(media_origins) else dashboard_csp(media_origins).encode()
        )

    def _policy(self, scope: Scope) -> bytes:
        if self._csp is None:
            assert callable(self._origins)
            self._csp = dashboard_csp(self._origins(scope.get("app"))).encode()
        return self._csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self._policy(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_security_headers(
                    list(message.get("headers", [])), policy
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def store_origins(app: Any) -> list[str]:
    """The origin of the object store's public endpoint when the app's store signs URLs
    (large files are redirected there), else none."""
    from fwtrack.server.blobs import BlobStore
    from fwtrack.server.store.presign import presigner

    ctx = getattr(getattr(app, "state", None), "ctx", None)
    blobs = getattr(ctx, "blobs", None)
    if not isinstance(blobs, BlobStore):
        return []
    signer = presigner(blobs.store)
    return [] if signer is None else [signer.origin]


def _with_security_headers(headers: list[Any], policy: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    names = set()
    for name, value in headers:
        lower = bytes(name).lower()
        names.add(lower)
        if lower == b"content-security-policy" and b"frame-ancestors" not in value:
            value = bytes(value) + b"; " + _FRAME_ANCESTORS.encode()
        out.append((lower, bytes(value)))
    for name, value in (
        (b"content-security-policy", policy),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ):
        if name not in names:
            out.append((name, value))
    return out


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

SWAGGER_UI_DIR = "swagger-ui"
"""Where the dashboard build keeps Swagger UI's files (copied from npm `swagger-ui-dist`)."""


def docs_page(title: str, openapi_url: str) -> HTMLResponse:
    """The API docs page: Swagger UI from the dashboard's own files, its one inline script
    allowed by its hash, nothing from another origin."""
    from fastapi.openapi.docs import get_swagger_ui_html

    base = f"/{SWAGGER_UI_DIR}"
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{base}/swagger-ui-bundle.js",
        swagger_css_url=f"{base}/swagger-ui.css",
        swagger_favicon_url=f"{base}/favicon-32x32.png",
        # No validator badge: it would load an image from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    body = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(body)
    )
    policy = DASHBOARD_CSP.replace("script-src 'self'", f"script-src 'self' {hashes}")
    return HTMLResponse(
        body, headers={"Content-Security-Policy": policy, "Cache-Control": "no-cache"}
    )
