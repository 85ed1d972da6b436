"""What goes into the flows (``Event``) and what comes out (messages and toasts, defined below
the flows in ``bot.messages`` and named here too).

Channel code translates its updates into an ``Event`` and renders the outgoing actions; nothing
here knows Telegram or WhatsApp.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Button, Chart, Message, Outcome, Toast, View

__all__ = ["Button", "Chart", "Event", "Message", "Outcome", "Toast", "View"]


@dataclass(frozen=True)
class Event:
    channel: str                 # "telegram", "whatsapp", "demo"
    user_id: str                 # the person's id on that channel
    chat_id: str                 # where it happened (== user_id in a private chat)
    is_group: bool = False
    update_id: str | None = None  # processed once; None for events that need no dedupe
    # Delivered again because its first handling may not have ended (a restart replaying the
    # inbox, a webhook retry): if it did, the first answer is given again, as it may not have gone out.
    retry: bool = False
    text: str | None = None      # free text, when not a command
    command: str | None = None   # "start" for "/start CODE" (lower case, no slash, no @bot)
    args: str = ""               # what followed the command
    button: str | None = None    # callback payload of a pressed button
    pressed_at: float | None = None  # when it was pressed (epoch seconds), where the channel knows it
                                     # better than the time it is handled (a WhatsApp burst, handled later)
    phone: str | None = None     # a shared contact's number (the sender's own)
    foreign_contact: bool = False  # a contact card of someone else was shared (nothing of it is kept)
    own_number: str | None = None  # the sender's own phone number, where the account is the number (WhatsApp)
    user_name: str = ""          # the name the channel's profile shows (a suggestion only)
    user_lang: str | None = None  # the client's language code
    chat_title: str = ""
    photo: str | None = None     # a photo sent (its file id on the channel; the text is its caption)
    attachment: str | None = None  # another kind of file sent ("document", "large": a photo too big), not kept
    joined_group: bool = False   # the bot was added to the group ``chat_id``
    group_moved_to: str | None = None  # the group ``chat_id`` now lives on under this id (Telegram
                                        # upgraded it to a supergroup)
