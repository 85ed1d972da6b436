"""Importing this registers every flow module with the registry."""

from bot.flows import (ballots, choice, community, dots, election, matrix, nominations, onboarding, pairwise,  # noqa: F401
                       evaluation, monitoring, plan, privacy, problems, remind, reminders, report,
                       resources, tree)
