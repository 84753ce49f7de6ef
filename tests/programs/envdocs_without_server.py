"""Prints `docs/env.md` as `python -m fwtrack.sdk.envdocs` does, with the server's
dependencies made unimportable: the server's environment variables are declared in a module
that needs none of them."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import runpy
import sys
from collections.abc import Sequence
from types import ModuleType

SERVER_ONLY = {"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "pydantic"}


class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in SERVER_ONLY:
            raise ImportError(f"{fullname} is not installed (the server extra is missing)")
        return None


sys.meta_path.insert(0, _Refuse())
runpy.run_module("fwtrack.sdk.envdocs", run_name="__main__")
