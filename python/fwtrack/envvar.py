"""`EnvVar`: the declaration of one `FWTRACK_*` environment variable (standard library only,
so that the client's and the server's declarations can both use it without importing more)."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["EnvVar"]


@dataclass(frozen=True)
class EnvVar:
    """One `FWTRACK_*` environment variable: its name, a doc line and its default."""

    name: str
    doc: str
    default: str | None = None
    allowed: tuple[str, ...] | None = None

    def get(self) -> str | None:
        """The variable's value, or None when it is unset or blank.

        A value outside `allowed` raises ValueError naming the variable and the allowed values.
        """
        raw = os.environ.get(self.name)
        if raw is None or not raw.strip():
            return None
        value = raw.strip()
        if self.allowed is not None and value not in self.allowed:
            allowed = ", ".join(repr(a) for a in self.allowed)
            raise ValueError(f"{self.name}={raw!r} is not valid: allowed values are {allowed}")
        return value
