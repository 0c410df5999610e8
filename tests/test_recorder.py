"""What every use case shares (`deconfliction.usecases.recorder`): ids."""

from __future__ import annotations

import time
import uuid

from deconfliction.usecases.recorder import new_id


def test_new_id_is_a_version_7_uuid_in_time_order() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        u = uuid.UUID(text)
        assert u.version == 7 and u.variant == uuid.RFC_4122 and str(u) == text
    # The first 48 bits are the creation's milliseconds: ids made later sort later.
    first = new_id()
    time.sleep(0.002)
    assert new_id()[:13] > first[:13]
    assert abs(int(first.replace("-", "")[:12], 16) - time.time_ns() // 1_000_000) < 60_000
