"""Importing this registers every flow module with the registry."""

from bot.flows import (ballots, choice, community, cycles, dots, election, evaluation, facilitators,  # noqa: F401
                       linking, matrix, monitoring, nominations, onboarding, pairwise, plan, privacy, problems,
                       remind, reminders, report, resources, tree)
