"""Units of the contract and the aviation units people read.

Inside, everything is SI plus degrees: lon/lat in degrees WGS84, metres AMSL, seconds, m/s,
angles in degrees clockwise from true north. ft, kt and NM appear only at the edges for people
(``cli``, ``web``), through the factors below.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import numpy.typing as npt

__all__ = [
    "FT_M",
    "KT_MPS",
    "NM_M",
    "Degrees",
    "DegreesArray",
    "IndexArray",
    "Metres",
    "MetresArray",
    "Mps",
    "MpsArray",
    "PartyArray",
    "Seconds",
    "SecondsArray",
]

FT_M = 0.3048
"""One foot in metres."""
NM_M = 1852.0
"""One nautical mile in metres."""
KT_MPS = NM_M / 3600.0
"""One knot in metres per second."""

Degrees = Annotated[float, "deg"]
Metres = Annotated[float, "m"]
Seconds = Annotated[float, "s"]
Mps = Annotated[float, "m/s"]

FloatArray = npt.NDArray[np.float64]
DegreesArray = Annotated[FloatArray, "deg"]
MetresArray = Annotated[FloatArray, "m"]
SecondsArray = Annotated[FloatArray, "s"]
MpsArray = Annotated[FloatArray, "m/s"]
IndexArray = npt.NDArray[np.intp]
PartyArray = npt.NDArray[np.generic]
