"""Rich values to log: `Histogram`, the media `Image`, `Audio`, `Video`, `Html`, and `Table`.

None of these modules imports numpy, pandas, Pillow or PyAV at import time.
"""

from fwtrack.data_types.histogram import Histogram
from fwtrack.data_types.media import Audio, Html, Image, Media, Video, from_descriptor
from fwtrack.data_types.table import Table

__all__ = [
    "Audio",
    "Histogram",
    "Html",
    "Image",
    "Media",
    "Table",
    "Video",
    "from_descriptor",
]
