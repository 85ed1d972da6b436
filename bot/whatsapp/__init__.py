"""The WhatsApp Cloud API channel: webhook in, sender out (see ``app`` for how they are wired)."""
