"""Every answer carries a Content-Security-Policy and `X-Frame-Options: DENY` (the dashboard
cannot be framed); HTML media stay sandboxed; the API docs page loads Swagger UI from the
server itself, with its one inline script allowed by hash."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path

import fwtrack

from .apputil import make_run
from .harness import ServerProcess, Ui

DASHBOARD_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "connect-src 'self' blob:",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
)


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def directives(policy: str) -> dict[str, str]:
    out = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name] = f"{name} {value}".strip()
    return out


def assert_dashboard_policy(headers: Message) -> None:
    policies = headers.get_all("Content-Security-Policy") or []
    assert len(policies) == 1, policies
    found = directives(policies[0])
    for directive in DASHBOARD_DIRECTIVES:
        assert found[directive.split()[0]] == directive, (directive, policies[0])
    assert "unsafe-eval" not in policies[0]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_dashboard_and_the_api_cannot_be_framed(server: ServerProcess) -> None:
    status, headers, body = fetch(f"{server.url}/")
    assert status == 200
    assert b"<html" in body.lower()
    assert_dashboard_policy(headers)
    for path in ("/api/v1/health", "/api/v1/viewer", "/api/v1/no-such-thing"):
        status, headers, _ = fetch(f"{server.url}{path}", server.headers)
        assert headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
    # The dashboard's own files: the policy holds for scripts and styles too.
    for ref in re.findall(rb'(?:src|href)="\./(assets/[^"]+)"', body):
        status, headers, _ = fetch(f"{server.url}/{ref.decode()}")
        assert status == 200, ref
        assert headers["X-Frame-Options"] == "DENY"


def test_the_api_docs_page_loads_everything_from_the_server(server: ServerProcess) -> None:
    status, headers, body = fetch(f"{server.url}/api/v1/docs")
    assert status == 200
    page = body.decode()
    assert "SwaggerUIBundle" in page
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert {Path(urllib.parse.urlsplit(r).path).name for r in refs} >= {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
    }
    for ref in refs:
        assert ref.startswith("/"), ref  # same origin only
        assert not ref.startswith("//"), ref
        status, asset_headers, asset = fetch(f"{server.url}{ref}")
        assert status == 200, ref
        assert asset, ref
        if ref.endswith(".js"):
            assert "javascript" in asset_headers["Content-Type"]
        if ref.endswith(".css"):
            assert asset_headers["Content-Type"].startswith("text/css")
    assert "cdn" not in page.lower()
    assert "validator.swagger.io" not in page
    # The one inline script runs (allowed by its hash), nothing else inline does.
    policy = headers["Content-Security-Policy"]
    inline = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    script_src = directives(policy)["script-src"]
    assert script_src == f"script-src 'self' 'sha256-{digest}'"
    assert "unsafe-inline" not in script_src
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY"
    # The OpenAPI document it reads is served too.
    status, _, _ = fetch(f"{server.url}/api/v1/openapi.json")
    assert status == 200


def test_html_media_stay_sandboxed(tmp_path: Path, ui: Ui) -> None:
    make_run(
        tmp_path / "fwtrack", "proj", "html", steps=1, extra={"page": fwtrack.Html("<p>x</p>")}
    )
    files = ui.wait_for(
        "the html payload",
        lambda: [
            f["path"]
            for f in ui.get("/runs/local/proj/html/files")[1]["files"]
            if f["path"].endswith(".html")
        ],
    )
    status, headers, body = fetch(f"{ui.url}/runs/local/proj/html/files/{files[0]}")
    assert status == 200
    assert b"<p>x</p>" in body
    policies = headers.get_all("Content-Security-Policy") or []
    assert len(policies) == 1, policies
    found = directives(policies[0])
    assert found["sandbox"] == "sandbox allow-scripts"  # an opaque origin: not the dashboard's
    assert found["frame-ancestors"] == "frame-ancestors 'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
