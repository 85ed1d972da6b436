"""Long listings split into messages."""

from __future__ import annotations

MESSAGE_MAX = 3500  # characters a message may hold, with room to spare


def pages(lines: list[str], limit: int = MESSAGE_MAX) -> list[str]:
    """Lines joined into as few messages as fit Telegram's 4096 characters (WhatsApp's are shorter)."""
    parts, current = [], ""
    for line in lines:
        if current and len(current) + 1 + len(line) > limit:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    return parts + [current] if current else parts
