"""Importing this registers every flow module with the registry."""

from bot.flows import community, onboarding  # noqa: F401
