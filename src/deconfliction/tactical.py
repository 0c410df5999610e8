"""``from deconfliction.tactical import detect`` (SPEC §4): the library face of tactical
detection, which lives in `deconfliction.core.tactical`; kept so the documented import works."""

from deconfliction.core.tactical import (
    H_M,
    LOOKAHEAD_S,
    R_M,
    Active,
    Diff,
    DiffRules,
    Event,
    Found,
    Minima,
    PairKey,
    States,
    detect,
    detect_between,
    diff,
    severity,
)

__all__ = [
    "H_M",
    "LOOKAHEAD_S",
    "R_M",
    "Active",
    "Diff",
    "DiffRules",
    "Event",
    "Found",
    "Minima",
    "PairKey",
    "States",
    "detect",
    "detect_between",
    "diff",
    "severity",
]
