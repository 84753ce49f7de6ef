"""Rich values to log: `Histogram` (more types come with media support)."""

from fwtrack.data_types.histogram import Histogram

__all__ = ["Histogram"]
