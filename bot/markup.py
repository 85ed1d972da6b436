"""The text markup the flows write (``Message.text``, a toast's text), and how each channel shows it.

The markup is a small subset of HTML, the same whatever the channel:

- text, with ``&``, ``<`` and ``>`` escaped (``esc``): everything a person typed goes in escaped;
- ``<b>…</b>`` bold and ``<i>…</i>`` italic (``bold``, ``italic``), not nested in each other;
- ``<a href="ADDRESS">label</a>``, a link (``link``) to a ``bot.links.Link`` address; with an
  empty label the channel writes the link's own address, as a URL a person can tap.

The catalogs' strings use the same markup (``<b>{name}</b>``), so a translation keeps it.
Each channel renders it: Telegram as its HTML parse mode (``telegram``: the text as it is, the
links' addresses written as URLs), WhatsApp as ``*bold*`` and ``_italic_`` (``whatsapp``), a
template's parameter or a printed document as ``plain`` text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bot.links import Link

Address = Callable[[Link], "str | None"]  # a channel's address for a link; None: the link is left out

_LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


# --- writing (the flows) ---------------------------------------------------------------------------

def esc(text: object) -> str:
    """What a person typed (or any text not written as markup), as markup."""
    return html.escape(str(text), quote=False)


def bold(text: str) -> str:
    """``text`` (markup already: escape what a person typed first) in bold."""
    return f"<b>{text}</b>"


def italic(text: str) -> str:
    return f"<i>{text}</i>"


def link(to: Link, label: str = "") -> str:
    """A link in a text: ``label`` (markup) leads to it; without a label the address is shown."""
    return f'<a href="{html.escape(to.address)}">{label}</a>'


# --- reading (the channels) ------------------------------------------------------------------------

def _links(text: str, shown: Callable[[Link, str], str]) -> str:
    def one(found: re.Match) -> str:
        try:
            to = Link.parse(html.unescape(found.group(1)))
        except ValueError:  # no link this version knows: its label stays
            return found.group(2)
        return shown(to, found.group(2))

    return _LINK.sub(one, text)


def telegram(text: str, address: Address) -> str:
    """As Telegram's HTML parse mode reads it: a link without a label becomes its URL."""
    if "<a " not in text:
        return text

    def shown(to: Link, label: str) -> str:
        url = address(to)
        if url is None:
            return label
        return f'<a href="{html.escape(url)}">{label}</a>' if label else esc(url)

    return _links(text, shown)


def whatsapp(text: str, address: Address) -> str:
    """As WhatsApp formats text: ``*bold*``, ``_italic_``, a link as "label (URL)" or the URL."""
    def shown(to: Link, label: str) -> str:
        url = address(to)
        if url is None:
            return label
        return f"{label} ({esc(url)})" if label else esc(url)

    text = _links(text, shown)
    text = re.sub(r"</?b>", "*", text)
    text = re.sub(r"</?i>", "_", text)
    text = re.sub(r"</?s>", "~", text)
    return html.unescape(_TAG.sub("", text))


def plain(text: str, address: Address | None = None) -> str:
    """Without any formatting (a template's parameter, a printed document); links as their
    label, or as ``address`` writes them."""
    if "<a " in text:
        text = _links(text, lambda to, label: label or esc((address(to) if address else None) or ""))
    return html.unescape(_TAG.sub("", text))
