"""`fwtrack.Html`: an HTML document or fragment, shown in a sandboxed frame of the dashboard."""

from __future__ import annotations

import os
from typing import Any

from fwtrack.data_types.media import Media, _read_path

__all__ = ["Html"]


_HTML_HEAD = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
    "<style>body{font-family:system-ui,sans-serif;margin:8px}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>"
    "</head><body>\n"
)


class Html(Media):
    """An HTML document or fragment, shown in a sandboxed frame of the dashboard.

    `data`: the HTML text (str), a path (`os.PathLike`, or a str naming an existing `.html` /
    `.htm` file) or a text file object. `inject=True` wraps a fragment (text without an
    `<html>` tag) in a minimal UTF-8 document with a plain default style.
    """

    _type = "html"

    _text: str | None

    def __init__(self, data: Any, inject: bool = True) -> None:
        self._init_media(None)
        self._ext = "html"
        if hasattr(data, "read"):
            text = data.read()
        elif isinstance(data, os.PathLike) or (
            isinstance(data, str)
            and data.lower().endswith((".html", ".htm"))
            and "<" not in data
            and os.path.isfile(data)
        ):
            text = _read_path("Html", data).decode("utf-8")
        else:
            text = data
        if not isinstance(text, str):
            raise TypeError(
                f"Html takes HTML text (str), a path or a text file, got {type(text).__name__}"
            )
        if inject and "<html" not in text.lower():
            text = f"{_HTML_HEAD}{text}\n</body></html>\n"
        self._text = text

    def _encode(self) -> bytes:
        assert self._text is not None
        return self._text.encode("utf-8")

    def _load_meta(self, desc: dict[str, Any]) -> None:
        self._text = None

    def _source_bytes(self) -> int:
        if self._text is not None:
            return len(self._text)
        return super()._source_bytes()

    @property
    def html(self) -> str:
        """The stored HTML text."""
        if self._text is None:
            self._text = self.bytes().decode("utf-8")
        return self._text

    def _repr_fields(self) -> str:
        return f"{len(self.bytes())} bytes"
