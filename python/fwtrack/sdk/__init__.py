"""The writing side of fwtrack: runs, config, summary, settings and value conversion."""
