"""Importing this registers every flow module with the registry."""

from bot.flows import ballots, choice, community, dots, matrix, onboarding, pairwise, privacy, problems  # noqa: F401
