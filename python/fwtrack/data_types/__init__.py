"""Rich values to log: `Histogram`, the media `Image` (with `BoundingBoxes2D`, `ImageMask`
and `Classes` overlays), `Audio`, `Video`, `Html`, `Object3D` (with `box3d`) and `Table`.

None of these modules imports numpy, pandas, Pillow or PyAV at import time.
"""

from fwtrack.data_types.audio import Audio
from fwtrack.data_types.histogram import Histogram
from fwtrack.data_types.html import Html
from fwtrack.data_types.image import Image
from fwtrack.data_types.media import Media, from_descriptor
from fwtrack.data_types.object3d import Object3D, box3d
from fwtrack.data_types.overlays import BoundingBoxes2D, Classes, ImageMask
from fwtrack.data_types.table import Table
from fwtrack.data_types.video import Video

__all__ = [
    "Audio",
    "BoundingBoxes2D",
    "Classes",
    "Histogram",
    "Html",
    "Image",
    "ImageMask",
    "Media",
    "Object3D",
    "Table",
    "Video",
    "box3d",
    "from_descriptor",
]
