"""Importing this registers every flow module with the registry."""

from bot.flows import (ballots, choice, community, dots, election, matrix, nominations, onboarding, pairwise,  # noqa: F401
                       evaluation, linking, plan, privacy, problems, resources, tree)
