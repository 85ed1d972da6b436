"""Import aiogram with its Telegram types built on first use instead of all at import.

``aiogram.types`` ends by calling ``model_rebuild`` on every one of its ~450 pydantic models,
which builds each validator and serializer at once: on our machine 2.3 s of a 3.0 s import and
~100 MB of memory (aiogram issues #1513, #1891). A bot uses a few dozen of those models.

``load()`` imports aiogram while those calls are only recorded, keeping the namespace aiogram
passes to them (``Message``, ``Chat``, ``Optional``...: names its modules import only for type
checkers). pydantic then builds each model the first time it is used (``defer_build``, which
aiogram's ``TelegramObject`` sets), through ``model_rebuild``. On aiogram's base models that
method is replaced by one that always passes that namespace, merged over the model's own module,
as aiogram's loop did: pydantic would otherwise also read the names of whatever function first
used the model, so a local ``User`` there could change what a Telegram ``User`` is. Nothing else
about the models changes; ``tests/test_aiogram_types.py`` builds every one of them this way.

It must run before anything imports aiogram: ``bot/handlers/__init__.py`` calls it, and the modules
that import aiogram import ``bot.handlers`` first. If aiogram is already imported, it does nothing.
Models are built on the event loop's thread only (pydantic's lazy build is not thread-safe).

It also keeps one ``Response[...]`` class per Bot API method alive. aiogram parametrizes that
generic model for every request it reads, and pydantic caches generic classes only weakly: each
time the collector had freed one, the next request built it again, the whole ``Message`` schema
included (1-3 ms, ~5 % of the bot's time in a burst of private ballot taps).
"""

from __future__ import annotations

import sys
from typing import Any

_PACKAGE = "aiogram."
_RESPONSES: list[type] = []  # kept alive: see the module's docstring


def load() -> bool:
    """Import aiogram, deferring its types' builds; False when aiogram was already imported."""
    if "aiogram" in sys.modules:
        return False
    from pydantic import BaseModel

    original = BaseModel.__dict__["model_rebuild"]
    namespace: dict[str, Any] = {}

    def record(cls: type[BaseModel], *, _types_namespace: dict[str, Any] | None = None, **kwargs: Any):
        if _types_namespace is not None and not kwargs and cls.__module__.startswith(_PACKAGE):
            namespace.update(_types_namespace)
            return None
        return original.__func__(cls, _types_namespace=_types_namespace, **kwargs)

    BaseModel.model_rebuild = classmethod(record)  # type: ignore[method-assign, assignment]
    try:
        import aiogram  # noqa: F401
        import aiogram.methods  # noqa: F401
    finally:
        BaseModel.model_rebuild = original  # type: ignore[method-assign]

    def model_rebuild(cls: type[BaseModel], *, _types_namespace: dict[str, Any] | None = None,
                      _parent_namespace_depth: int = 2, **kwargs: Any):
        if _types_namespace is None:  # pydantic's own call at first use: never the caller's names
            _types_namespace = {**vars(sys.modules[cls.__module__]), **namespace}
        return original.__func__(cls, _types_namespace=_types_namespace, **kwargs)

    for base in BaseModel.__subclasses__():  # aiogram's roots: every aiogram model inherits from one
        if base.__module__.startswith(_PACKAGE):
            base.model_rebuild = classmethod(model_rebuild)  # type: ignore[method-assign, assignment]
    _keep_responses()
    return True


def _keep_responses() -> None:
    import aiogram.methods
    from aiogram.methods.base import Response, TelegramMethod

    methods = (getattr(aiogram.methods, name) for name in aiogram.methods.__all__)
    _RESPONSES.extend(Response[method.__returning__] for method in methods if isinstance(method, type)
                      and issubclass(method, TelegramMethod) and method is not TelegramMethod)
