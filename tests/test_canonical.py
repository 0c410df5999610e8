"""Canonical JSON and times: the module's own examples (the ledger's tests cover the rest)."""

from __future__ import annotations

import doctest

from deconfliction import canonical


def test_doctests() -> None:
    result = doctest.testmod(canonical)
    assert result.attempted > 0 and result.failed == 0
