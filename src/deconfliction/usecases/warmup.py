"""Compile the tick's kernels before the service takes its first report.

numba compiles a kernel on its first call and keeps it in a cache beside the source. On a fresh
install that first call takes about a minute, and it would come inside the first tick: the
first reports would be looked at a minute late, with no sign of it, while conflicts may already
be there. A ``serve`` process therefore runs this before it listens, on a small invented scene
through the same calls a tick makes (detection with its alerting profiles, resolution), so a
slow first start is a slow start, not a silent gap. With the cache filled it takes well under a
second.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from deconfliction.config.settings import Settings
from deconfliction.core.alerting import Alerting
from deconfliction.usecases.resolutions import Resolutions

__all__ = ["warm_up"]

_LOG = logging.getLogger("deconfliction")


def warm_up(settings: Settings, now_s: float = 0.0) -> float:
    """Run detection and resolution once on an invented head-on pair of two parties (plus a
    third aircraft of the first), so that every compiled kernel a tick calls is compiled or
    loaded; returns the seconds it took. Nothing is stored or announced."""
    started = time.perf_counter()
    _LOG.info("loading the detection kernels (on a fresh install numba compiles them: ~1 min)")
    keys = ["warm-a/1", "warm-b/1", "warm-a/2"]
    party = np.array(["warm-a", "warm-b", "warm-a"], dtype=str)
    lon = np.array([36.0, 36.2, 36.1])
    lat = np.array([33.5, 33.5, 33.6])
    alt = np.array([3000.0, 3000.0, 3100.0])
    gs = np.array([200.0, 200.0, 150.0])
    trk = np.array([90.0, 270.0, 180.0])
    vs = np.zeros(3)
    states = (lon, lat, alt, gs, trk, vs)
    alerting = Alerting(settings.profile, settings.profile_map(), r_m=settings.r_m,
                        h_m=settings.h_m, lookahead_s=settings.lookahead_s,
                        minima=settings.minima_map())
    pic = alerting.detect(keys, party, states, now_s)
    if len(pic.found.i) == 0:  # the invented pair is head-on: it is always a conflict
        raise RuntimeError("the warm-up scene found no conflict: detection is broken")
    changed = {"warm": (keys[int(pic.found.i[0])], keys[int(pic.found.j[0])])}
    Resolutions().update(changed, keys, states, party, settings)
    seconds = time.perf_counter() - started
    _LOG.info("detection kernels ready in %.1f s", seconds)
    return seconds
