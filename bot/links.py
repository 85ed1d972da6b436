"""A link as the flows name it: by what it opens, not by a channel's address for it.

- ``Link.private(payload)``: the person's private chat with the bot, started with ``payload``
  (a join code, ``b_12`` for a ballot, ``g_3_tree`` for a command of community 3).
- ``Link.add_to_group(code)``: adding the bot to a group chat, which then links to the
  community whose join code is ``code``.
- ``Link.web(url)``: a web page.

Each channel writes the address (Telegram: ``t.me/<bot>?start=…`` and ``?startgroup=…``;
WhatsApp: ``wa.me/<number>?text=/start …`` or an option of the message, and no group link,
WhatsApp having no group chats the bot can join). A link is stored, and written into a text's
markup (``bot.markup``), as its ``address``: ``private:PAYLOAD``, ``group:CODE`` or the URL.

Rows written before links were neutral (schema 1) hold Telegram URLs; ``from_telegram`` reads
them back (``bot.messages`` does so for those rows only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRIVATE = "private"
GROUP = "group"
WEB = "web"
_KINDS = (PRIVATE, GROUP)
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what Telegram accepts in a start parameter


@dataclass(frozen=True)
class Link:
    kind: str      # PRIVATE, GROUP or WEB
    target: str    # the start payload, the join code, or the URL

    def __post_init__(self) -> None:
        if self.kind in _KINDS and not _PAYLOAD.fullmatch(self.target):
            raise ValueError(f"a {self.kind} link's target must be 1-64 of A-Z a-z 0-9 _ -, got {self.target!r:.80}")
        if self.kind == WEB and not self.target.startswith(("https://", "http://")):
            raise ValueError(f"a web link must be an http(s) URL, got {self.target!r:.80}")
        if self.kind not in (*_KINDS, WEB):
            raise ValueError(f"no link kind {self.kind!r}")

    @classmethod
    def private(cls, payload: str) -> Link:
        return cls(PRIVATE, payload)

    @classmethod
    def add_to_group(cls, code: str) -> Link:
        return cls(GROUP, code)

    @classmethod
    def web(cls, url: str) -> Link:
        return cls(WEB, url)

    @property
    def address(self) -> str:
        return self.target if self.kind == WEB else f"{self.kind}:{self.target}"

    @classmethod
    def parse(cls, address: str) -> Link:
        """The link an ``address`` names (``ValueError`` for one that names none)."""
        kind, colon, target = address.partition(":")
        if colon and kind in _KINDS:
            return cls(kind, target)
        return cls(WEB, address)


# --- rows written before links were neutral ----------------------------------------------------

_TME = re.compile(r"https://t\.me/[A-Za-z0-9_]+\?(start|startgroup)=([A-Za-z0-9_-]{1,64})")


def from_telegram(url: str) -> Link | None:
    """A Telegram URL an older version stored, as the link it meant (``None``: one to drop)."""
    found = _TME.fullmatch(url)
    if found is not None:
        return Link(PRIVATE if found.group(1) == "start" else GROUP, found.group(2))
    if re.match(r"https?://t\.me/", url):
        return None
    try:
        return Link.web(url)
    except ValueError:
        return None


def text_from_telegram(text: str) -> str:
    """A stored text's Telegram links as the markup's links (``bot.markup``), shown as they were."""
    if "t.me/" not in text:
        return text
    return _TME.sub(lambda m: f'<a href="{PRIVATE if m.group(1) == "start" else GROUP}:{m.group(2)}"></a>', text)
