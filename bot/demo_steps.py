"""The demo's walk through the methodology: the foundation, then one function a step."""

from __future__ import annotations

import random
import re

from bot.sim import Group, Person, Sim

LANGUAGES = {"kk": "қазақша", "ru": "русский", "en": "English"}
NAMES = [("Ерлан", "kk"), ("Ольга", "ru"), ("John", "en"), ("Гүлнар", "kk"), ("Данияр", "kk"), ("Светлана", "ru"),
         ("Асель", "kk"), ("Нұрлан", "kk"), ("Мария", "ru"), ("Бауыржан", "kk"), ("Жанар", "kk"), ("Игорь", "ru"),
         ("Айжан", "kk"), ("Серік", "kk"), ("Татьяна", "ru"), ("Мадина", "kk"), ("Қайрат", "kk"), ("Анна", "ru"),
         ("Әлия", "kk"), ("Ұлан", "kk"), ("Дина", "ru"), ("Өмір", "kk"), ("Sarah", "en"), ("Ғалым", "kk")]
# What the village proposes, and how pressing each problem really is to its people (the demo's
# members vote with these weights, so the three methods agree roughly, as in a real village).
PROBLEMS = [
    ("Ауыл ішіндегі жол жөндеуді қажет етеді: көктемде су басып, балалар мектепке бара алмайды", 9),
    ("Ауыз су күніне бірнеше сағат қана беріледі", 8),
    ("Нет освещения на центральной улице, вечером опасно ходить", 6),
    ("Балалар ойнайтын алаң жоқ", 5),
    ("The school bus is late almost every day", 4),
    ("Медпункт аптасына екі күн ғана жұмыс істейді", 7),
    ("Қоқыс шығарылмайды, ауыл шетінде үйінді пайда болды", 3),
]


def weighted_order(rng: random.Random, options: list[int], weight: dict[int, float]) -> list[int]:
    """Options as one member ranks them: by weight, with personal noise."""
    return sorted(options, key=lambda o: -(weight[o] + rng.gauss(0, 2.0)))


async def join_members(sim: Sim, transcript, names: list[tuple[str, str]], code: str) -> list[Person]:
    members = []
    for name, lang in names:
        person = sim.person(name, lang)
        transcript.names[person.id] = name
        await person.send(f"/start {code}")
        await person.press(LANGUAGES[lang])
        await person.press_data("consent:yes")
        await person.press(name)
        members.append(person)
    return members


def button_number(label: str) -> int:
    return int(label.replace("✅", "").strip().split(" ")[0].lstrip("#🅰🅱 ").split("·")[0])


async def run_all(sim: Sim, transcript, rng: random.Random) -> None:
    facilitator, members, group, code = await foundation(sim, transcript)
    await step1(sim, transcript, facilitator, members, group, code, rng)


async def foundation(sim: Sim, transcript) -> tuple[Person, list[Person], Group, str]:
    """A facilitator creates the community and links the group; three members join."""
    facilitator = sim.person("Айгерим", "kk")
    group = Group("-100200300", "Көктерек ауылы")
    transcript.names.update({facilitator.id: facilitator.name, group.id: f"group «{group.title}»"})

    transcript.section("Onboarding and a new community")
    await facilitator.send("/start")
    await facilitator.press("қазақша")
    await facilitator.press_data("consent:yes")
    await facilitator.press(facilitator.name)
    await facilitator.send("/new")
    await facilitator.send("Көктерек ауылы")
    await facilitator.send("Алматы облысы, Талғар ауданы")
    await facilitator.press("Asia/Almaty")
    code = re.search(r"start=([A-Z0-9]+)", facilitator.inbox()[-1].text).group(1)

    transcript.section("Linking the group chat")
    await facilitator.send(f"/link {code}", group)

    transcript.section("Members join by link, each in their language")
    members = await join_members(sim, transcript, NAMES[:3], code)

    transcript.section("Where are we?")
    await members[0].send("/status", group)
    await members[1].send("/next", group)
    return facilitator, members, group, code


async def step1(sim: Sim, transcript, facilitator: Person, members: list[Person], group: Group,
                code: str, rng: random.Random) -> None:
    """Step 1: the brainstorm, the three methods, the choice and the volunteers."""
    transcript.quiet = True
    more = await join_members(sim, transcript, NAMES[len(members):], code)
    transcript.quiet = False
    village = members + more
    transcript.note(f"{len(more)} more members join the same way (not shown): {len(village)} members in all.")

    transcript.section("Step 1. Brainstorm (миға шабуыл)")
    await village[0].send("/propose")
    await village[0].send(PROBLEMS[0][0])
    await village[3].send(f"/propose {PROBLEMS[1][0]}")
    await village[1].send(f"/propose {PROBLEMS[2][0]}", group)
    for author, (text, _) in zip(village[4:], PROBLEMS[3:]):
        await author.send(f"/propose {text}")
    await village[2].send(f"/propose {PROBLEMS[4][0]}")  # the same again: refused
    await village[9].send("/propose Ауыз су тек бірнеше сағат қана беріледі!")  # a near-duplicate of #2
    await village[11].send("/propose ab")
    await facilitator.send("/problems")
    await facilitator.send("/merge 8 2")
    weight = {number: w for number, (_, w) in enumerate(PROBLEMS, start=1)}
    problems = list(weight)

    transcript.section("Step 1. Sticker voting (жапсырма әдісі) in the group")
    await facilitator.send("/poll dots 3", group)
    ballot = sim.messages(group.id)[-1]
    data = {button_number(b.text): b.data for row in ballot.buttons for b in row}
    shown = 0
    for member in village:
        transcript.quiet = shown >= 3
        for number in weighted_order(rng, problems, weight)[:3]:
            await member.press_data(data[number], group)
        shown += 1
    transcript.quiet = False
    await village[0].press_data(data[1], group)  # takes a sticker back…
    await village[0].press_data(data[6], group)  # …and places it elsewhere
    await village[1].press_data(data[7], group)  # a fourth sticker is refused
    transcript.note("Every member placed three stickers; the group message is edited with the counts.")
    await facilitator.send("/paper 9 1:6 2:7 6:5 3:4 4:3 5:2")
    await facilitator.send("/close", group)

    transcript.section("Step 1. Priority matrix in private chat")
    await facilitator.send("/poll matrix 1 2 3 4 5 6", group)
    for i, member in enumerate(village[:14]):
        transcript.quiet = i > 0
        await member.send("/start b_2")
        for _ in range(6):
            number = int(member.last().text.split("<b>#")[1].split("</b>")[0])
            importance = 3 if weight[number] >= 7 else 2 if weight[number] >= 5 else rng.choice((1, 2))
            urgency = max(1, min(3, importance + rng.choice((-1, 0, 0, 1))))
            await member.press(str(importance))
            await member.press(str(urgency))
    transcript.quiet = False
    transcript.note("14 members scored the six problems; the first is shown.")

    transcript.section("Step 1. Pairwise ranking (жүппен саралау) in private chat")
    await facilitator.send("/poll pairwise 1 2 3 6", group)
    for i, member in enumerate(village[:12]):
        transcript.quiet = i > 0
        await member.send("/start b_3")
        for _ in range(6):
            labels = [b for row in member.last().buttons for b in row]
            order = weighted_order(rng, [button_number(b.text.split("#")[1]) for b in labels], weight)
            await member.press(f"#{order[0]} ")
    transcript.quiet = False
    transcript.note("12 members compared the six pairs; the first is shown.")
    await facilitator.send("/close pairwise", group)
    await facilitator.send("/close matrix", group)

    transcript.section("Step 1. The choice and the volunteers")
    await facilitator.press("✅", group)  # the first of the combined ranking
    for member in village[:9]:
        transcript.quiet = member is not village[0]
        await member.press_data("vol:1", group)
    transcript.quiet = False
    transcript.note("Nine members volunteered for the next stage.")
    await village[4].send("/results")

    transcript.section("On to step 2")
    await facilitator.send("/next", group)
    await village[1].send("/status")
