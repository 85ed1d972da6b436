"""The seven steps: their names and goals (messages to translate), what each puts in the menu
while the community is at it, and how each states its result when it closes — filled in by the
step modules, shown by ``community``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain.models import Community
from bot.i18n import N_, Translator

if TYPE_CHECKING:
    from bot.flows.context import Context

STEP_TITLES = {
    1: N_("Problems and priorities"),
    2: N_("Initiative group (ҚМҰТ)"),
    3: N_("Problem analysis"),
    4: N_("Resources"),
    5: N_("Action plan"),
    6: N_("Implementation and monitoring"),
    7: N_("Evaluation"),
}

STEP_GOALS = {
    1: N_("Find the community's problems and agree which one is most pressing."),
    2: N_("Nominate and elect the initiative group that will lead the work."),
    3: N_("Find the causes and consequences of the chosen problem with a problem tree."),
    4: N_("Map the resources at hand and the organisations that matter."),
    5: N_("Agree the tasks, who does them and when."),
    6: N_("Do the work, check in and keep everyone informed."),
    7: N_("Ask together: did we reach the goal we wanted?"),
}


@dataclass(frozen=True)
class MenuItem:
    step: int | None       # shown while the community is at this step (None: always)
    label: str             # message id
    command: str
    facilitator: bool = False


MENU: list[MenuItem] = []
# Per step: a function that states the step's result for the group when the step closes.
STEP_RESULTS: dict[int, Callable[[Context, Community, Translator], Awaitable[str | None]]] = {}


def menu_item(step: int | None, label: str, command_name: str, facilitator: bool = False) -> None:
    MENU.append(MenuItem(step, label, command_name, facilitator))
