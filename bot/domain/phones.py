"""Phone numbers as stored: E.164, a "+" and the digits (no I/O).

A shared contact's number comes as the client formats it ("+7 701 000 00 02", "77010000002");
WhatsApp's ``wa_id`` is the same number's digits. Stored one way, the two compare equal.
"""

from __future__ import annotations

E164_MIN, E164_MAX = 8, 15  # digits, country code included


def normalise(raw: str) -> str | None:
    """``+`` and the digits of an international number, or None when it is not one (letters, a
    second "+", too few or too many digits). A leading international prefix ``00`` is dropped."""
    text = raw.strip()
    if text.startswith("+"):
        text = text[1:]
    kept = "".join(ch for ch in text if ch not in " -().\u00a0")
    if not kept.isascii() or not kept.isdigit():
        return None
    if kept.startswith("00"):
        kept = kept[2:]
    if not E164_MIN <= len(kept) <= E164_MAX or kept.startswith("0"):
        return None
    return "+" + kept


def digits(phone: str) -> str:
    """The stored number without its "+": what WhatsApp calls the ``wa_id``."""
    return phone.removeprefix("+")
