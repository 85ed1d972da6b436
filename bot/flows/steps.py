"""The seven steps' names and goals, as messages to translate."""

from bot.i18n import N_

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
