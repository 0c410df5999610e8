"""What every use case shares (`deconfliction.usecases.recorder`): ids."""

from __future__ import annotations

import uuid

from deconfliction.usecases.recorder import new_id


def test_new_id_is_a_random_uuid_spelled_as_uuid4() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        u = uuid.UUID(text)
        assert u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == text
