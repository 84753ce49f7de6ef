"""Rich values to log: `Histogram`, the media `Image`, `Audio`, `Video`, `Html`, and `Table`.

None of these modules imports numpy, pandas, Pillow or PyAV at import time.
"""

from fwtrack.data_types.audio import Audio
from fwtrack.data_types.histogram import Histogram
from fwtrack.data_types.html import Html
from fwtrack.data_types.image import Image
from fwtrack.data_types.media import Media, from_descriptor
from fwtrack.data_types.table import Table
from fwtrack.data_types.video import Video

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
