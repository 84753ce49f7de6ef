"""`python -m fwtrack.wandb script.py [args...]`: run a script that imports `wandb` with
`import wandb` resolving to fwtrack's shim (`fwtrack.wandb.install()` first)."""

from __future__ import annotations

import runpy
import sys

from fwtrack.wandb import install


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m fwtrack.wandb SCRIPT.py [ARGS...]")
    install()
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
