"""Print `docs/env.md`: `python -m fwtrack.sdk.envdocs > docs/env.md`."""

from __future__ import annotations

import sys

from fwtrack.sdk.settings import render_env_docs

if __name__ == "__main__":
    sys.stdout.write(render_env_docs())
