"""Importing this registers every flow module with the registry."""

from bot.flows import ballots, choice, community, dots, matrix, onboarding, pairwise, problems  # noqa: F401
