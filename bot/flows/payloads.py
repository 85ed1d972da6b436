"""Typed button payloads: one small declared type per kind of button, that builds the payload a
button carries and, registered with ``registry.button``, routes it back to its handler.

A kind is declared once, in the flow module that handles it::

    class DotTap(Payload, prefix="d"):
        ballot: int
        problem: int

``DotTap(12, 7).encode()`` is ``"d:12:7"``; ``DotTap.decode("d:12:7")`` gives it back, and
anything else (another prefix, fields missing or too many, a number that is not one, more than a
channel can carry) raises ``BadPayload``: refused as stale or forged. Fields are ``int`` (a
non-negative number, written in decimal) or ``str`` (no ``:``); trailing fields may be optional
(``int | None = None``), left out of the wire when None (``"kv:3:2"`` beside ``"kv:3:2:0"``). The
wire format is the one the flows wrote by hand before the types: a button sent before an upgrade
still works. Every channel's size budget is checked here, when a payload is built.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Self, dataclass_transform

from bot.audiences import PROFILES
from bot.domain.text import small_int


class BadPayload(Exception):
    """A button payload that does not name anything that exists (stale or forged)."""


# Every place a payload travels, as each channel's profile declares it: a payload must fit them
# all, whichever channel shows it.
BUDGETS = tuple(budget for profile in PROFILES.values() for budget in profile.payloads)
BY_PREFIX: dict[str, type[Payload]] = {}  # every kind of payload declared, by its prefix
_TYPES = {"int": (int, False), "str": (str, False), "int | None": (int, True), "str | None": (str, True)}


def prefix_of(data: str) -> str:
    return data.partition(":")[0]


@dataclass_transform(frozen_default=True)
class Payload:
    """A kind of button payload (subclass it with ``prefix=``); instances are frozen dataclasses."""

    prefix: ClassVar[str]
    _fields: ClassVar[tuple[tuple[str, type], ...]]  # (name, int or str)
    _required: ClassVar[int]  # the fields before the optional ones

    def __init_subclass__(cls, *, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix or ":" in prefix:
            raise ValueError(f"payload prefix {prefix!r}: not empty, no ':'")
        if prefix in BY_PREFIX:
            raise ValueError(f"payload prefix {prefix!r} declared twice")
        cls.prefix = prefix
        dataclass(frozen=True)(cls)
        fields, required = [], 0
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            kind, optional = _TYPES.get(f.type if isinstance(f.type, str) else getattr(f.type, "__name__", ""),
                                        (None, False))
            if kind is None:
                raise TypeError(f"{cls.__name__}.{f.name}: a payload field is int, str or optional, not {f.type!r}")
            if optional and f.default is not None:
                raise TypeError(f"{cls.__name__}.{f.name}: an optional field defaults to None")
            if not optional and (f.default is not dataclasses.MISSING or required < len(fields)):
                raise TypeError(f"{cls.__name__}.{f.name}: only the last fields may be optional, none has a default")
            fields.append((f.name, kind))
            required += not optional
        cls._fields, cls._required = tuple(fields), required
        BY_PREFIX[prefix] = cls

    def encode(self) -> str:
        """The payload as a button carries it; ValueError if it cannot (a bug in the flow)."""
        parts = [getattr(self, name) for name, _ in self._fields]
        while len(parts) > self._required and parts[-1] is None:
            parts.pop()  # an optional field left out, as the hand-written payloads did
        for (name, kind), value in zip(self._fields, parts):
            if type(value) is not kind or (kind is int and value < 0) or (kind is str and ":" in value):
                raise ValueError(f"{type(self).__name__}.{name} = {value!r} cannot be sent")
        data = ":".join([self.prefix, *map(str, parts)])
        for budget in BUDGETS:
            if not budget.fits(data):
                raise ValueError(f"button payload too long for {budget.where} "
                                 f"({budget.limit} {budget.unit}): {data!r}")
        return data

    @classmethod
    def decode(cls, data: str) -> Self:
        """The payload ``data`` carries; BadPayload if it is not one of this kind."""
        if not all(budget.fits(data) for budget in BUDGETS):
            raise BadPayload(f"{data[:20]!r}… is longer than a channel carries")
        prefix, _, rest = data.partition(":")
        raw = rest.split(":") if rest else []
        if prefix != cls.prefix or not cls._required <= len(raw) <= len(cls._fields):
            raise BadPayload(f"{data!r} is not a {cls.__name__}")
        values: dict[str, Any] = {}
        for (name, kind), text in zip(cls._fields, raw):
            if kind is int:
                number = small_int(text)
                if number is None or str(number) != text:
                    raise BadPayload(f"{data!r}: {name} is not a number")
                values[name] = number
            else:
                values[name] = text
        return cls(**values)


# --- kinds that flows other than their handler's build ---------------------------------------
class MenuPress(Payload, prefix="m"):
    """A menu button: runs the ``command`` as if typed (handled in ``community``)."""

    command: str


class CheckinTask(Payload, prefix="ci"):
    """The member reports on their task ``number`` (handled in ``monitoring``; reminders offer it)."""

    community: int
    number: int
