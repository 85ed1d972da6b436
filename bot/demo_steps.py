"""The demo's walk through the methodology's steps, one function a step."""

from __future__ import annotations

import random

from bot.sim import Group, Person, Sim


async def run_steps(sim: Sim, transcript, facilitator: Person, members: list[Person], group: Group,
                    code: str, rng: random.Random) -> None:
    transcript.section("The facilitator moves on")
    await facilitator.send("/next", group)
    await members[1].send("/status")
