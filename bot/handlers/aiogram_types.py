"""Import aiogram with its Telegram types built on first use instead of all at import.

``aiogram.types`` ends by calling ``model_rebuild`` on every one of its ~450 pydantic models,
which builds each validator and serializer at once: on our machine 2.3 s of a 3.0 s import and
~100 MB of memory (aiogram issues #1513, #1891). A bot uses a few dozen of those models.

``load()`` imports aiogram while those calls are only recorded, and puts the namespace aiogram
passes to them (``Message``, ``Chat``, ``Optional``...) into the globals of every module of
``aiogram.types`` and ``aiogram.methods`` where that name is not already bound. Those modules
import these names only for type checkers; with them bound, pydantic resolves every forward
reference from the module, as it does for any model, and builds each model the first time it
is used (``defer_build``, which aiogram's ``TelegramObject`` already sets) — also when it is
built inside another one (``Response[Message]``, ``SendMessage``). Nothing else about the models
changes; ``tests/test_aiogram_types.py`` builds every one of them this way.

It must run before anything imports aiogram: ``bot/handlers/__init__.py`` calls it, and the modules
that import aiogram import ``bot.handlers`` first. If aiogram is already imported, it does nothing.
Models are built on the event loop's thread only (pydantic's lazy build is not thread-safe).
"""

from __future__ import annotations

import sys
from typing import Any

_PACKAGES = ("aiogram.types.", "aiogram.methods.")


def load() -> bool:
    """Import aiogram, deferring its types' builds; False when aiogram was already imported."""
    if "aiogram" in sys.modules:
        return False
    from pydantic import BaseModel

    original = BaseModel.__dict__["model_rebuild"]
    namespaces: list[dict[str, Any]] = []

    def record(cls: type[BaseModel], *, _types_namespace: dict[str, Any] | None = None, **kwargs: Any):
        if _types_namespace is not None and not kwargs and cls.__module__.startswith(_PACKAGES):
            if not namespaces or namespaces[-1] is not _types_namespace:
                namespaces.append(_types_namespace)
            return None
        return original.__func__(cls, _types_namespace=_types_namespace, **kwargs)

    BaseModel.model_rebuild = classmethod(record)  # type: ignore[method-assign, assignment]
    try:
        import aiogram  # noqa: F401
        import aiogram.methods  # noqa: F401
    finally:
        BaseModel.model_rebuild = original  # type: ignore[method-assign]
    for name, module in list(sys.modules.items()):
        if name.startswith(_PACKAGES) and module is not None:
            for namespace in namespaces:
                for key, value in namespace.items():
                    module.__dict__.setdefault(key, value)
    return True
