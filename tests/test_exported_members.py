"""Every module says what it exports, and everything it says it exports exists."""

from __future__ import annotations

import importlib
import pkgutil

import deconfliction

SKIP = {"deconfliction.store.migrations"}


def test_every_module_has_a_complete_all() -> None:
    names = [m.name for m in pkgutil.walk_packages(deconfliction.__path__, "deconfliction.")
             if not any(m.name.startswith(s) for s in SKIP)]
    assert "deconfliction.core.tactical" in names
    for name in names:
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            assert module.__file__ is not None and module.__file__.endswith("__init__.py"), name
            continue
        assert len(set(exported)) == len(exported), name
        for member in exported:
            assert hasattr(module, member), f"{name}.__all__ names {member}, which is missing"
