"""Plain records shared by the layers (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

STEPS = (1, 2, 3, 4, 5, 6, 7)


@dataclass(frozen=True)
class Member:
    id: int
    name: str | None
    locale: str
    active_community: int | None
    last_seen_on: str | None = None  # the day ("YYYY-MM-DD", UTC) of their last action
    unreachable: bool = False  # this channel's private chat refused the bot (blocked it) since they last wrote


@dataclass(frozen=True)
class Community:
    id: int
    name: str
    place: str
    tz: str
    locale: str
    join_code: str
    step: int


@dataclass(frozen=True)
class Membership:
    community_id: int
    member_id: int
    role: str  # 'member' | 'facilitator'
    kmut: bool

    @property
    def is_facilitator(self) -> bool:
        return self.role == "facilitator"
