"""The strategic check finds the same conflicts with a shape memo as without, warm or cold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from deconfliction.core import geometry, ledger
from deconfliction.core.geometry import Memo
from deconfliction.core.limits import Limits
from deconfliction.core.model import Circle, Operation, OperationState, Polygon, Volume4D
from deconfliction.core.strategic import find_conflicts

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def _volume(rng: np.random.Generator) -> Volume4D:
    lon, lat = float(rng.uniform(179.0, 181.0)), float(rng.uniform(30.0, 31.0))
    size_deg = float(rng.uniform(0.05, 0.6))
    if rng.random() < 0.4:
        outline: Circle | Polygon = Circle(((lon + 180.0) % 360.0 - 180.0, lat),
                                           size_deg * 50_000.0)
    else:
        h = size_deg / 2
        ring = [(lon - h, lat - h), (lon + h, lat - h), (lon + h, lat + h), (lon - h, lat + h),
                (lon - h, lat - h)]
        # Input longitudes lie in [-180, 180]: across the antimeridian they wrap.
        outline = Polygon(tuple(((x + 180.0) % 360.0 - 180.0, y) for x, y in ring))
    lower_m = float(rng.uniform(0.0, 1000.0))
    start = T0 + timedelta(minutes=float(rng.uniform(0.0, 60.0)))
    return geometry.check_volume(
        Volume4D(outline, lower_m, lower_m + 500.0, start, start + timedelta(minutes=30)),
        field="volume", limits=Limits())


def test_memo_changes_no_answer() -> None:
    rng = np.random.default_rng(3)
    ops = [
        Operation(id=f"op{k}", party="RU", version=1, state=OperationState.ACCEPTED,
                  volumes=(_volume(rng), _volume(rng)), priority=0, submitted_at=T0)
        for k in range(60)
    ]
    memo: Memo = {}
    found_any = False
    for _ in range(3):  # cold, then warm twice
        for _ in range(10):
            mine = [_volume(rng)]
            plain = find_conflicts(mine, "IL", operations=ops, zones=[])
            cached = find_conflicts(mine, "IL", operations=ops, zones=[], memo=memo)
            assert cached == plain
            found_any |= bool(plain)
    assert found_any
    assert memo


def test_append_line_is_the_exported_line() -> None:
    key = ledger.generate_key()
    body = {"b": [1.0, -0.0, 1e21, 0.5, "é\n"], "a": {"z": None, "y": True}}
    entry, line = ledger.append_line(None, time=T0, actor="IL", kind="k", body=body,
                                     private_digest=ledger.private_digest("x", salt=bytes(16)),
                                     key=key)
    assert line == ledger.to_json_line(entry)
    assert entry == ledger.append(None, time=T0, actor="IL", kind="k", body=body,
                                  private_digest=entry.private_digest, key=key)
    assert ledger.from_json_line(line) == entry
