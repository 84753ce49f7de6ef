"""`python -m fwtrack`: the `fwtrack` command line."""

from fwtrack.cli import main

raise SystemExit(main())
