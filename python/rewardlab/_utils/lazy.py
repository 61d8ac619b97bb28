"""Lazy re-exports (PEP 562): a package lists its public names without importing the modules that
define them until one is used, so that ``import rewardlab`` and ``rewardlab --help`` stay free of
torch (about 1.5 s to import)."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``where`` maps each public name to the
    module (absolute, or relative to ``package`` when it starts with a dot) that defines it."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        globals_of(package)[name] = value  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals_of(package)) | set(where))

    return __getattr__, __dir__


def globals_of(package: str) -> dict[str, Any]:
    """The namespace of the (already imported) module ``package``."""
    return vars(sys.modules[package])
