"""Lazy re-exports of a package's public names (PEP 562), written once.

A package lists where each public name lives; the module is imported when the name is
first asked for, so ``import ecomap`` and ``ecomap --help`` stay free of the geo stack::

    __getattr__, __dir__ = lazy_exports(__name__, {"zonal_stats": ".zonal"}, __all__)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: dict[str, str], public: list[str], *,
                 compute: dict[str, Callable[[], Any]] | None = None):
    """``__getattr__`` and ``__dir__`` for ``package``: ``where`` maps a name to its
    module (relative names, ``.zonal``, are within the package); ``compute`` maps a
    name to a function giving its value.  A value is looked up once."""
    compute = compute or {}

    def __getattr__(name: str) -> Any:
        if name in compute:
            value = compute[name]()
        elif name in where:
            value = getattr(importlib.import_module(where[name], package), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *public})

    return __getattr__, __dir__
