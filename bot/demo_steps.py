"""The demo's walk through the methodology: the foundation, then one function a step."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.scheduler import Scheduler
from bot.sim import CHANNEL, WHATSAPP, Group, Person, Shown, Sim
from bot.storage import ballots, nominations, problems, resources, tree

LANGUAGES = {"kk": "қазақша", "ru": "русский", "en": "English"}
WHATSAPP_MEMBER = "Ерлан"  # takes part on WhatsApp; everyone else on Telegram
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
# Step 2: who nominates whom to the ҚМҰТ, in which category, who they are in the village, and how
# much the village trusts them (the members approve candidates with these weights). "" nominates
# oneself; a trust of None declines the nomination.
NOMINATIONS = [
    ("Ерлан", "Гүлнар", "activist", "teaches at the village school", 8),
    ("Ольга", "Мария", "vulnerable", "is a pensioner", 6),
    ("Жанар", "", "vulnerable", "is a mother of six", 7),
    ("Данияр", "Бауыржан", "business", "owns the shop by the bus stop", None),
    ("John", "Асель", "ngo", "volunteers for a local NGO", 6),
    ("Светлана", "Дина", "media", "runs the village WhatsApp channel", 5),
    ("Нұрлан", "Серік", "authority", "is the akimat's specialist for the village", 6),
    ("Айжан", "Ерлан", "activist", "started the water petition", 7),
    ("Қайрат", "", "activist", "coaches the boys' football team", 4),
    ("Татьяна", "Анна", "vulnerable", "cares for her disabled son", 4),
]
# Step 3: the problem tree of each problem the village may choose in step 1 (by its number): who
# adds what, a cause or a consequence ("effect"), on the problem (None) or under an earlier entry
# (by its key). "dup" repeats another cause in other words and "off" is off the topic: the ҚМҰТ
# merges the one and removes the other.
OFF_TOPIC = ("off", "Данияр", "effect", None, "Сенбі күні клубта той болады, бәріңіз келіңіздер!")
TREES = {
    1: [("c1", "Ерлан", "cause", None, "Жол жиегінде арық жоқ, көктемде қар суы жолда тұрып қалады"),
        ("c2", "Ольга", "cause", None, "Дорогу не ремонтировали больше двадцати лет"),
        ("c3", "Гүлнар", "cause", "c2", "Жол жөндеуге аудан бюджетінде қаржы қарастырылмаған"),
        ("c4", "John", "cause", None, "Heavy grain trucks drive through the village and break the road"),
        ("c5", "Светлана", "cause", "c4", "Нет объездной дороги для грузовиков"),
        ("e1", "Асель", "effect", None, "Балалар мектепке бара алмай, сабақ қалдырады"),
        ("e2", "Ольга", "effect", None, "Весной скорая помощь не может проехать к домам"),
        ("e3", "Данияр", "effect", "e1", "Балалардың үлгерімі төмендейді"),
        ("e4", "Светлана", "effect", "e2", "Больных приходится нести до трассы на руках"),
        ("e5", "Гүлнар", "effect", None, "Көліктер тез бұзылып, жөндеуге көп ақша кетеді"),
        ("dup", "Бауыржан", "cause", None, "Жол шетінде арық жоқ, сондықтан қар суы жолда тұрады"),
        OFF_TOPIC],
    2: [("c1", "Ерлан", "cause", None, "Су құбыры 1970 жылдары салынған, әбден тозып, жиі жарылады"),
        ("c2", "Ольга", "cause", None, "Насос на скважине старый и не справляется с нагрузкой"),
        ("c3", "Гүлнар", "cause", "c1", "Құбырды ауыстыруға аудан бюджетінен қаржы бөлінбеген"),
        ("c4", "John", "cause", None, "In summer many families water their gardens with drinking water"),
        ("c5", "Светлана", "cause", "c2", "Из-за перепадов напряжения насос часто перегорает"),
        ("e1", "Асель", "effect", None, "Әйелдер мен балалар суды құдықтан шелекпен тасиды"),
        ("e2", "Ольга", "effect", None, "Люди пьют воду из арыка, дети болеют"),
        ("e3", "Данияр", "effect", "e1", "Балалар сабаққа кешігіп, үй тапсырмасын үлгермейді"),
        ("e4", "Светлана", "effect", "e2", "Медпункт переполнен, больных приходится возить в район"),
        ("e5", "Гүлнар", "effect", None, "Бақшалар қурап, мал суарылмай қалады"),
        ("dup", "Бауыржан", "cause", None, "Құбырлар тым ескі, сондықтан жиі жарылып қалады"),
        OFF_TOPIC],
    6: [("c1", "Ерлан", "cause", None, "Ауылда тұрақты фельдшер жоқ, ол аудан орталығынан келеді"),
        ("c2", "Ольга", "cause", None, "Молодые медики не хотят ехать работать в село"),
        ("c3", "Гүлнар", "cause", "c1", "Фельдшерге ауылдан тұратын үй берілмейді"),
        ("c4", "John", "cause", None, "The district clinic has too few staff for all its villages"),
        ("c5", "Светлана", "cause", "c2", "Зарплата фельдшера в селе слишком низкая"),
        ("e1", "Асель", "effect", None, "Науқастар аудан орталығына дейін 40 шақырым жол жүреді"),
        ("e2", "Ольга", "effect", None, "Пожилые люди остаются без помощи по выходным"),
        ("e3", "Данияр", "effect", "e1", "Жол ақысына отбасының соңғы ақшасы кетеді"),
        ("e4", "Светлана", "effect", "e2", "Хронические болезни находят слишком поздно"),
        ("e5", "Гүлнар", "effect", None, "Балаларға екпе уақытында салынбайды"),
        ("dup", "Бауыржан", "cause", None, "Өз фельдшеріміз жоқ, аудан орталығынан келіп тұрады"),
        OFF_TOPIC],
}
DUPLICATE_OF = "c1"  # the cause "dup" repeats
# Step 4: what the village has to work with, by kind, added by who knows of it: what on line 1, who
# holds it on line 2, where on line 3. The same few things serve any of the problems; each problem
# adds its own. Nobody thinks of an organisation as a resource (they go on the institutional
# diagram), so that kind stays empty and the caption names the gap. "off" is an advertisement the
# ҚМҰТ takes off the map.
RESOURCES = [
    ("Ерлан", "people", "Тәжірибелі дәнекерлеуші, құбыр мен темір жұмысын біледі\nМарат Сейітов\nОрталық көше, 5"),
    ("Ольга", "materials", "Трактор МТЗ-80 с ковшом и прицепом\nфермер Серик Ахметов\nферма на краю села"),
    ("Гүлнар", "premises", "Мектептің акт залы, 120 орын — жиналыстарға\nМектеп директоры\nАбай көшесі, 2"),
    ("Светлана", "money", "Гранты акимата на малые проекты села (до 1 млн тенге)\nаппарат акима сельского округа"),
    ("Асель", "people", "«Жасыл ауыл» қоғамдық бірлестігінің 12 еріктісі\nАсель Нұрланқызы, үйлестіруші"),
]
PROBLEM_RESOURCES = {
    1: [("Данияр", "materials",
         "Жол жөндеуден қалған 20 текше метр қиыршық тас\nШаруа қожалығы\nАстық қоймасының жанында")],
    2: [("Данияр", "materials",
         "Пластик су құбырлары, 150 метрдей\nСу шаруашылығы учаскесі\nСу мұнарасының жанындағы қойма"),
        ("Ольга", "money", "Жители готовы сдать по 2000 тенге со двора на новый насос")],
    6: [("Данияр", "premises",
         "Бос тұрған екі бөлмелі үй — фельдшерге баспана болады\nАуыл әкімдігі\nБейбітшілік көшесі, 14")],
}
OFF_RESOURCE = ("Қайрат", "materials", "Сатылады: ВАЗ-2107, жақсы күйде, бағасы келісімді")
# The organisations and people that matter, who puts each on the diagram, and every member's estimate
# of it (importance, closeness: 1-3), the author's first. The district utility matters most and is far.
ORGS = [
    ("Ауылдық округ әкімдігі", [("Ерлан", 3, 2), ("Ольга", 3, 1), ("Гүлнар", 3, 2), ("Нұрлан", 3, 2),
                                ("Асель", 2, 1), ("Мария", 3, 2)]),
    ("Районный водоканал", [("Ольга", 3, 1), ("Ерлан", 3, 1), ("Данияр", 3, 2), ("Нұрлан", 2, 1),
                            ("Светлана", 3, 1)]),
    ("Ауыл мектебі", [("Гүлнар", 2, 3), ("Асель", 2, 3), ("Мария", 1, 3), ("Ерлан", 2, 2)]),
    ("Мешіт пен имам", [("Нұрлан", 2, 3), ("Данияр", 1, 3), ("Гүлнар", 2, 2)]),
    ("Жастар кеңесі", [("Асель", 2, 3), ("Светлана", 1, 2), ("Данияр", 2, 2)]),
    ("Фермер Серик Ахметов", [("Светлана", 2, 2), ("Ольга", 2, 3), ("Нұрлан", 1, 2)]),
    ("«Жасыл ауыл» қоғамдық бірлестігі", [("Асель", 2, 3), ("Гүлнар", 3, 3), ("Мария", 2, 2)]),
]


def weighted_order(rng: random.Random, options: list[int], weight: dict[int, float]) -> list[int]:
    """Options as one member ranks them: by weight, with personal noise."""
    return sorted(options, key=lambda o: -(weight[o] + rng.gauss(0, 2.0)))


async def join_members(sim: Sim, transcript, names: list[tuple[str, str]], code: str) -> list[Person]:
    members = []
    for name, lang in names:
        person = sim.person(name, lang, WHATSAPP if name == WHATSAPP_MEMBER else CHANNEL)
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
    village = await step1(sim, transcript, facilitator, members, group, code, rng)
    await step2(sim, transcript, facilitator, village, group, rng)
    await step3(sim, transcript, facilitator, village, group)
    await step4(sim, transcript, facilitator, village, group)
    if await step5(sim, transcript, facilitator, village, group):
        await step6(sim, transcript, facilitator, village, group)
        await step7(sim, transcript, facilitator, village, group)
        await next_cycle(sim, transcript, facilitator, village, group)


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
                code: str, rng: random.Random) -> list[Person]:
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
    return village


def buttons(message: Shown, prefix: str) -> list[str]:
    return [b.data for row in message.buttons for b in row if b.data and b.data.startswith(prefix)]


async def nominate(by: Person, nominee: Person, category: str) -> None:
    """``by`` nominates ``nominee`` (or themselves) to the ҚМҰТ: the name, then the category."""
    await by.send("/nominate")
    if nominee is by:
        await by.press_data(buttons(by.last(), "nm:")[0])
    else:
        await by.send(nominee.name)  # one match goes straight to the categories; several are offered
        if buttons(by.last(), "nm:"):
            await by.press(nominee.name)
    await by.press_data(next(d for d in buttons(by.last(), "nc:") if d.endswith(":" + category)))


async def step2(sim: Sim, transcript, facilitator: Person, village: list[Person], group: Group,
                rng: random.Random) -> None:
    """Step 2: nominations to the ҚМҰТ, the answers, the election, the confirmation."""
    by_name = {m.name: m for m in village}
    transcript.section("Step 2. Nominations to the ҚМҰТ")
    transcript.note("Who is who: " + "; ".join(f"{nominee or by} {who}" for by, nominee, _, who, _ in NOMINATIONS)
                    + ".")
    shown = {"Ерлан", "Ольга", "Жанар", "Данияр", "John", "Светлана"}
    for by, nominee, category, _, trust in NOMINATIONS:
        transcript.quiet = by not in shown
        person = by_name[nominee or by]
        await nominate(by_name[by], person, category)
        if person is not by_name[by]:
            await person.press_data(buttons(person.last(), "na:" if trust is not None else "nd:")[0])
    transcript.quiet = False
    transcript.note("Серік, Ерлан, Қайрат and Анна were nominated the same way (not shown).")
    await by_name["Игорь"].send("/nominate")  # Гүлнар is a candidate already: said at once
    await by_name["Игорь"].send("Гүлнар")

    transcript.section("Step 2. The ҚМҰТ election in the group")
    await facilitator.send("/poll election 7", group)
    post = sim.messages(group.id)[-1]
    taps = {b.text.split(" ·")[0]: b.data for row in post.buttons for b in row if b.data.startswith("el:")}
    trust = {nominee or by: t for by, nominee, _, _, t in NOMINATIONS if t is not None}
    for i, member in enumerate([facilitator] + village):
        transcript.quiet = i >= 2
        picks = weighted_order(rng, list(taps), trust)[:rng.randint(2, 6)]
        if member is by_name["Ерлан"] and "Ерлан" not in picks:
            picks.append("Ерлан")  # he approves himself, then thinks better of it (below)
        for name in picks:
            await member.press_data(taps[name], group)
    transcript.quiet = False
    await by_name["Ерлан"].press_data(taps["Ерлан"], group)  # takes back his approval of himself
    transcript.note(f"Every member approved two to six of the {len(taps)} candidates; the group message "
                    "is edited with the counts.")
    await facilitator.send("/close election", group)

    transcript.section("Step 2. The facilitator confirms the ҚМҰТ")
    result = next(m for m in reversed(sim.messages(group.id)) if m.image is not None)
    await facilitator.press_data(buttons(result, "kc:")[0], group)
    anyway = buttons(sim.messages(group.id)[-1], "kc:")
    if anyway:  # a category has no candidate: the method asks for an explicit confirmation
        await facilitator.press_data(anyway[0], group)
    await by_name["Гүлнар"].send("/status")

    transcript.section("On to step 3")
    await facilitator.send("/next", group)


async def add_to_tree(sim: Sim, person: Person, kind: str, text: str, under: int | None) -> int:
    """``person`` adds a cause or a consequence from /tree (or the buttons under their last addition),
    on the problem or under node #``under``; returns its number."""
    if not buttons(person.last(), "tn:"):
        await person.send("/tree")
    await person.press_data(next(d for d in buttons(person.last(), "tn:") if d.endswith(":" + kind)))
    await person.send(text)
    places = buttons(person.last(), "tp:")
    if places:
        await person.press_data(next(d for d in places if d.endswith(f":{under or 0}")))
    async with sim.engine.db.transaction() as tx:
        community = int(buttons(person.last(), "tn:")[0].split(":")[1])
        chosen = await problems.chosen(tx, community)
        return next(n.number for n in await tree.of_problem(tx, chosen.id) if n.text == text)


async def step3(sim: Sim, transcript, facilitator: Person, village: list[Person], group: Group) -> None:
    """Step 3: the problem tree of the chosen problem, curated by the ҚМҰТ, drawn for the group."""
    by_name = {m.name: m for m in village}
    async with sim.engine.db.transaction() as tx:
        chosen = await problems.chosen(tx, 1)
        kmut = {name for _, name in await nominations.group(tx, 1)}
    assert chosen is not None
    entries = TREES.get(chosen.number)
    if entries is None:
        transcript.note(f"The village chose #{chosen.number}; the demo has no tree for it, so step 3 is skipped.")
        return
    curator = next((by_name[n] for n in ("Гүлнар", "Асель", "Ерлан") if n in kmut),
                   next(m for m in village if m.name in kmut))

    transcript.section("Step 3. The problem tree (мәселе ағашы)")
    transcript.note(f"The village builds the tree of its problem #{chosen.number} in private chat: causes "
                    "(the roots) and consequences (the leaves), each on the problem or under another. "
                    "Each member opens /tree first (shown for the first only) and presses ➕.")
    number: dict[str, int] = {}
    for i, (key, who, kind, under, text) in enumerate(entries):
        person = by_name[who]
        if not buttons(person.last(), "tn:"):
            transcript.quiet = i > 0  # the outline /tree shows is shown once; the curator's below
            await person.send("/tree")
            transcript.quiet = False
        number[key] = await add_to_tree(sim, person, kind, text, number.get(under) if under else None)
    dup, off, original = number["dup"], number["off"], number[DUPLICATE_OF]

    transcript.section("Step 3. The ҚМҰТ tidies the tree")
    transcript.note(f"#{dup} says what #{original} says; #{off} is not about the problem. "
                    f"{curator.name} is in the ҚМҰТ; Бауыржан is not.")
    await by_name["Бауыржан"].send(f"/tree merge {dup} {original}")  # refused: only the ҚМҰТ curates
    await curator.send("/tree")
    await curator.send(f"/tree merge {dup} {original}")
    await curator.send(f"/tree remove {off}")

    transcript.section("Step 3. The tree in the group")
    await by_name["Асель"].send("/tree", group)

    transcript.section("On to step 4")
    await facilitator.send("/next", group)


async def add_resource(person: Person, kind: str, text: str) -> int:
    """``person`` adds a resource from /resources (or the ➕ under their last addition); returns its number."""
    if not buttons(person.last(), "ra:"):
        await person.send("/resources")
    await person.press_data(buttons(person.last(), "ra:")[0])
    await person.press_data(next(d for d in buttons(person.last(), "rk:") if d.endswith(":" + kind)))
    await person.send(text)
    return int(re.search(r"#(\d+)", person.last().text).group(1))


async def estimate(sim: Sim, person: Person, name: str, importance: int, closeness: int) -> None:
    """``person`` estimates the organisation ``name`` from /orgs, adding it first if it is not there."""
    await person.send("/orgs")
    community = int(buttons(person.last(), "oa:")[0].split(":")[1])
    async with sim.engine.db.transaction() as tx:
        number = next((o.number for o in await resources.orgs_of(tx, community) if o.name == name), None)
    if number is None:
        await person.press_data(buttons(person.last(), "oa:")[0])
        await person.send(name)
    else:
        offered = f"or:{community}:{number}"  # the button "Estimate #n …" under /orgs
        assert offered in buttons(person.last(), "or:"), (person.name, name)
        await person.press_data(offered)
    await person.press_data(buttons(person.last(), "oi:")[importance - 1])
    await person.press_data(buttons(person.last(), "oc:")[closeness - 1])


async def step4(sim: Sim, transcript, facilitator: Person, village: list[Person], group: Group) -> None:
    """Step 4: the resource map and the institutional diagram, tidied by the ҚМҰТ, drawn for the group."""
    by_name = {m.name: m for m in village}
    async with sim.engine.db.transaction() as tx:
        chosen = await problems.chosen(tx, 1)
        kmut = {name for _, name in await nominations.group(tx, 1)}
    assert chosen is not None
    curator = next((by_name[n] for n in ("Гүлнар", "Асель", "Ерлан") if n in kmut),
                   next(m for m in village if m.name in kmut))
    entries = RESOURCES[:3] + PROBLEM_RESOURCES.get(chosen.number, [])[:1] + [OFF_RESOURCE] + RESOURCES[3:] \
        + PROBLEM_RESOURCES.get(chosen.number, [])[1:]

    transcript.section("Step 4. The resource map (ресурстар картасы)")
    transcript.note(f"Members list in private chat what the village has for problem #{chosen.number}: people and "
                    "skills, materials and equipment, money, premises and land, organisations. One message each: "
                    "what it is, then who holds it and where, if they know.")
    shown = {"Ерлан", "Ольга"}
    off = 0
    for who, kind, text in entries:
        transcript.quiet = who not in shown
        number = await add_resource(by_name[who], kind, text)
        if (who, kind, text) == OFF_RESOURCE:
            off = number
    transcript.quiet = False
    authors = sorted({who for who, _, _ in entries} - shown)
    transcript.note(f"{', '.join(authors)} added theirs the same way (not shown). Nobody listed an organisation: "
                    "those go on the institutional diagram below.")
    await by_name["Асель"].send("/resources")

    transcript.section("Step 4. The ҚМҰТ tidies the map")
    transcript.note(f"#{off} is an advertisement, not a resource for the problem. {curator.name} is in the ҚМҰТ.")
    await curator.send(f"/resources remove {off}")

    transcript.section("Step 4. The institutional diagram (институционалдық диаграмма)")
    transcript.note("Members put the organisations and people that matter on the diagram and each estimates how "
                    "important they are for the problem and how close to the village (1 to 3). The first "
                    "addition and Гүлнар's estimate of the akimat are shown.")
    first_added = False
    raters: set[str] = set()
    for round_ in range(max(len(votes) for _, votes in ORGS)):
        for name, votes in ORGS:
            if round_ >= len(votes):
                continue
            who, importance, closeness = votes[round_]
            adding = round_ == 0  # the first to name it puts it on the diagram
            transcript.quiet = first_added if adding else (who, name) != ("Гүлнар", ORGS[0][0])
            await estimate(sim, by_name[who], name, importance, closeness)
            first_added = first_added or adding
            raters.add(who)
    transcript.quiet = False
    transcript.note(f"{len({v[0][0] for _, v in ORGS})} members put {len(ORGS)} organisations and people on the "
                    f"diagram; {len(raters)} members gave {sum(len(v) for _, v in ORGS)} estimates in all. The "
                    "diagram shows their means.")
    await by_name["Светлана"].send("/orgs")

    transcript.section("Step 4. The map and the diagram in the group")
    await by_name["Нұрлан"].send("/resources", group)
    await by_name["Серік"].send("/orgs", group)

    transcript.section("On to step 5")
    await facilitator.send("/next", group)


# Step 5: the action plan of each problem the village may choose in step 1 (by its number): who
# proposes what, in one message — the task on line 1, the dates on line 2 (empty when the author
# does not know them), what it needs on line 3. The plans are for the winter (the demo's clock is
# in November). "dup" asks for what t3 asks in other words: the ҚМҰТ takes it off.
PLANS = {
    1: [("t1", "Ерлан", "Жол жиегімен арық қазып, қар суы ағатын жол дайындау\n01.12 – 15.12\n"
                        "МТЗ-80 тракторы, 10 күрек"),
        ("t2", "Ольга", "Собрать подписи жителей за ремонт дороги\n01.12 – 20.12\nБланки подписных листов"),
        ("t3", "Гүлнар", "Аудан әкіміне жол жөндеуге қаржы сұрап хат жазу"),
        ("t4", "Светлана", "Подать заявку на грант акимата на подсыпку дороги\n\nСмета, протокол собрания жителей"),
        ("t5", "Данияр", "Жолдың ең нашар тұстарына қиыршық тас төгу\n15.01 – 31.01\n"
                         "Трактор мен тіркеме, 20 текше метр қиыршық тас"),
        ("t6", "Мария", "Договориться с фермерами, чтобы грузовики ездили в объезд села\n01.02 – 20.02\n"
                        "Встреча в акимате"),
        ("t7", "Асель", "Көктемде балаларды мектепке жеткізу кезекшілігін ұйымдастыру\n10.02 – 28.02\n"
                        "Екі көлік, ата-аналар тізімі"),
        ("dup", "Бауыржан", "Жол жөндеуге қаржы сұрап аудан әкімдігіне өтініш жазу")],
    2: [("t1", "Ерлан", "Құбырдың жиі жарылатын жерлерін аралап, тізімін жасау\n01.12 – 12.12\n"
                        "Дәнекерлеуші Марат Сейітов, қалта шам"),
        ("t2", "Ольга", "Собрать по 2000 тенге со двора на новый насос\n01.12 – 25.12\n"
                        "Тетрадь для учёта, по одному сборщику на улицу"),
        ("t3", "Гүлнар", "Аудан әкіміне су құбырын ауыстыруға қаржы сұрап хат жазу"),
        ("t4", "Светлана", "Подать заявку на грант акимата на новый насос\n\nСмета от водоканала, протокол собрания"),
        ("t5", "Данияр", "Қоймадағы 150 метр пластик құбырды су мұнарасына тасу\n15.01 – 31.01\n"
                         "МТЗ-80 тракторы мен тіркемесі"),
        ("t6", "Мария", "Купить и установить новый насос на скважине\n01.02 – 25.02\n"
                        "Деньги со дворов и грант, электрик"),
        ("t7", "Асель", "Көктемгі бақша суару кестесін жасап, әр үйге тарату\n10.02 – 28.02\nПринтер, 200 парақ қағаз"),
        ("dup", "Бауыржан", "Құбырды ауыстыру үшін аудан әкімдігіне ақша сұрап өтініш жазу")],
    6: [("t1", "Ерлан", "Фельдшерге берілетін бос үйді жөндеу\n01.12 – 20.12\nБояу, әйнек, 5 ерікті"),
        ("t2", "Ольга", "Собрать подписи жителей за постоянного фельдшера\n01.12 – 15.12\nБланки подписных листов"),
        ("t3", "Гүлнар", "Аудандық емханаға ауылға тұрақты фельдшер сұрап хат жазу"),
        ("t4", "Светлана", "Найти выпускников медколледжа родом из нашего села\n\nСписки колледжа, звонки родителям"),
        ("t5", "Данияр", "Демалыс күндері науқастарды ауданға апаратын көлік кезекшілігін құру\n15.01 – 31.01\n"
                         "Үш жеке көлік, жанармай"),
        ("t6", "Мария", "Договориться с акиматом о доплате фельдшеру\n01.02 – 20.02\nВстреча в акимате"),
        ("t7", "Асель", "Балаларға екпе күнін ұйымдастыру\n10.02 – 28.02\nМектептің акт залы"),
        ("dup", "Бауыржан", "Аудандық емханадан ауылға тұрақты фельдшер сұрап өтініш жазу")],
}
DUPLICATE_TASK = "t3"
# Who offers to do which task, who the ҚМҰТ makes responsible, and the dates it sets where the author gave none.
OFFERS = {"t1": ["Ерлан", "Нұрлан"], "t2": ["Ольга", "Татьяна"], "t3": ["Гүлнар", "Серік"],
          "t4": ["Светлана", "Дина"], "t5": ["Данияр", "Қайрат"], "t6": ["Мария", "Игорь", "Нұрлан"],
          "t7": ["Асель", "Жанар"]}
OWNERS = {"t1": "Ерлан", "t2": "Татьяна", "t3": "Гүлнар", "t4": "Дина", "t5": "Қайрат", "t6": "Игорь", "t7": "Жанар"}
TASK_DATES = {"t3": "01.12 10.12", "t4": "15.12 20.01"}
# The plan vote: who is not convinced yet (Игорь then approves after all); who does not vote.
NOT_YET = ["Игорь", "Қайрат", "Анна", "Sarah"]
CHANGES_MIND = "Игорь"
NO_VOTE = {"Ұлан", "Өмір", "Ғалым"}
# Step 7: each answering member's evaluation: did we reach the goal, a rating 1-5, will they take part
# again, and what worked and what to change (None skips), in their language.
EVALUATIONS = [
    ("Ерлан", "yes", 5, 1, "Жұмысты бөлісіп алдық, әркім өз міндетін атқарды", "Жұмысты күзде ертерек бастау керек"),
    ("Ольга", "partly", 4, 1, "Жители впервые сами собрали деньги и отчитались за каждый тенге",
     "Отчитываться перед жителями каждый месяц, а не в конце"),
    ("John", "partly", 3, 1, None, "Tell the whole village about each task, not only the group chat"),
    ("Гүлнар", "yes", 5, 1, "Ауыл адамдары бір-біріне сеніп, бірге жұмыс істеді", None),
    ("Данияр", "partly", 3, 0, None, "Техниканы алдын ала келісу керек, трактор екі апта кешікті"),
    ("Светлана", "yes", 4, 1, None, None),
    ("Асель", "yes", 4, 1, "Жастар белсенді қатысты", None),
    ("Нұрлан", "partly", 3, 1, None, None),
    ("Мария", "yes", 5, 1, "Акимат поддержал нас, когда увидел готовый план", None),
    ("Бауыржан", "no", 2, 0, None, "Жиналыстар тым көп болды, уақыт жетпеді"),
    ("Жанар", "partly", 4, 1, None, None),
    ("Игорь", "no", 2, 0, None, "Не все задачи выполнены, в нашем конце села ничего не изменилось"),
    ("Айжан", "yes", 4, 1, None, None),
    ("Серік", "partly", 3, 1, None, None),
    ("Sarah", "yes", 5, 1, "Everybody helped, and the plan showed who does what", None),
]


async def kmut_curator(sim: Sim, village: list[Person]) -> tuple[Person, set[str]]:
    by_name = {m.name: m for m in village}
    async with sim.engine.db.transaction() as tx:
        kmut = {name for _, name in await nominations.group(tx, 1)}
    return next((by_name[n] for n in ("Гүлнар", "Асель", "Ерлан") if n in kmut),
                next(m for m in village if m.name in kmut)), kmut


async def propose_task(person: Person, text: str) -> int:
    """``person`` proposes a task from /plan (or the buttons under their last message); returns its number."""
    if not buttons(person.last(), "ka:"):
        await person.send("/plan")
    await person.press_data(buttons(person.last(), "ka:")[0])
    await person.send(text)
    return int(re.search(r"#(\d+)", person.last().text).group(1))


async def step5(sim: Sim, transcript, facilitator: Person, village: list[Person], group: Group) -> bool:
    """Step 5: tasks proposed and offered for, owners and dates named by the ҚМҰТ, the plan approved."""
    by_name = {m.name: m for m in village}
    async with sim.engine.db.transaction() as tx:
        chosen = await problems.chosen(tx, 1)
    assert chosen is not None
    entries = PLANS.get(chosen.number)
    if entries is None:
        transcript.note(f"The village chose #{chosen.number}; the demo has no plan for it, so it stops here.")
        return False
    curator, _ = await kmut_curator(sim, village)

    transcript.section("Step 5. The action plan (іс-әрекет жоспары): tasks")
    transcript.note(f"Members propose in private chat what is to be done about problem #{chosen.number} this winter: "
                    "one message each — the task, then the dates if they know them, then what it needs. Ерлан's and "
                    "Гүлнар's are shown.")
    number: dict[str, int] = {}
    for key, who, text in entries:
        transcript.quiet = who not in ("Ерлан", "Гүлнар")
        number[key] = await propose_task(by_name[who], text)
    transcript.quiet = False
    transcript.note(f"{', '.join(who for _, who, _ in entries if who not in ('Ерлан', 'Гүлнар'))} proposed theirs "
                    f"the same way (not shown): {len(entries)} tasks.")

    transcript.section("Step 5. Members offer to do the tasks")
    community = int(buttons(by_name["Ерлан"].last(), "kv:")[0].split(":")[1])
    shown = {"Нұрлан", "Татьяна"}
    for key, names in OFFERS.items():
        for name in names:
            transcript.quiet = name not in shown
            shown.discard(name)  # each one's first offer is shown
            await by_name[name].press_data(f"kv:{community}:{number[key]}")
    transcript.quiet = False
    transcript.note(f"{sum(map(len, OFFERS.values()))} offers in all, the same way (two shown).")
    await by_name["Татьяна"].send("/plan")

    transcript.section("Step 5. The ҚМҰТ names who is responsible, sets dates, takes a duplicate off")
    transcript.note(f"#{number['dup']} asks for what #{number[DUPLICATE_TASK]} asks. {curator.name} is in the ҚМҰТ.")
    await curator.send(f"/plan remove {number['dup']}")
    first = True
    for key, owner in OWNERS.items():
        transcript.quiet = not first
        await curator.send(f"/plan owner {number[key]}")
        choice = next(b.data for row in curator.last().buttons for b in row if b.text == owner)
        await curator.press_data(choice)
        first = False
    transcript.quiet = False
    transcript.note(f"{curator.name} named the responsible member of the other tasks the same way (not shown); "
                    "each is told in private.")
    for key, dates in TASK_DATES.items():
        await curator.send(f"/plan dates {number[key]} {dates}")
    await curator.send("/plan")

    transcript.section("Step 5. The plan in the group")
    await by_name["Нұрлан"].send("/plan", group)

    transcript.section("Step 5. The members approve the plan")
    await facilitator.send("/poll plan", group)
    approve, not_yet = buttons(sim.messages(group.id)[-1], "pl:")
    voters = [m for m in village if m.name not in NO_VOTE]
    for i, member in enumerate(voters):
        transcript.quiet = i >= 2 and member.name != CHANGES_MIND
        await member.press_data(not_yet if member.name in NOT_YET else approve, group)
    transcript.quiet = False
    await by_name[CHANGES_MIND].press_data(approve, group)  # thought it over: approves after all
    transcript.note(f"{len(voters)} members voted in the group: {len(NOT_YET)} said «not yet», and "
                    f"{CHANGES_MIND} changed his mind; the group message is edited with the counts.")
    await facilitator.send("/close plan", group)

    transcript.section("On to step 6")
    await facilitator.send("/next", group)
    return True


# Step 6: the owners' reports over the first weeks of winter: (day in December, who, status, percent,
# the note; "photo" sends a photo of the receipt instead). One is late, one blocked, one done early.
CHECKINS = [(8, "Гүлнар", "late", 40, "Әкім демалыста, хатты 14 желтоқсанда қабылдайды"),
            (8, "Игорь", "blocked", 0, "Фермеры не хотят встречаться до весны, нужен аким"),
            (9, "Татьяна", "done", 100, "photo")]
TZ = "Asia/Almaty"


async def sweep(sim: Sim, transcript, day: int, month: int, hour: int, show: bool) -> int:
    """The scheduler's sweep at ``hour``:00 on that day of the demo's winter, in the village's time."""
    year = 2026 if month >= 11 else 2027
    at = datetime(year, month, day, hour, 0, tzinfo=ZoneInfo(TZ)).astimezone(timezone.utc)
    sim.engine.clock.now = max(sim.engine.clock.now, at - timedelta(minutes=1))  # it adds a minute a reading
    before = len(sim.sender.log)
    await Scheduler(sim.engine, sim.delivery).sweep()
    await sim.outbox.drain()
    transcript.quiet = not show
    transcript.scheduled(f"{at.astimezone(ZoneInfo(TZ)):%d.%m.%Y %H:%M}")
    transcript.quiet = False
    return len(sim.sender.log) - before


async def check_in(person: Person, status: str, percent: int, note: str) -> None:
    await person.send("/checkin")
    await person.press_data(buttons(person.last(), "ci:")[0])
    await person.press_data(next(d for d in buttons(person.last(), "cs:") if d.endswith(f":{status}")))
    if status != "done":  # a button's percent pressed, another typed
        pressed = [d for d in buttons(person.last(), "cp:") if d.endswith(f":{percent}")]
        await (person.press_data(pressed[0]) if pressed else person.send(str(percent)))
    if note == "photo":
        await person.send_photo("demo-receipt-photo", "")
    else:
        await person.send(note)


async def step6(sim: Sim, transcript, facilitator: Person, village: list[Person], group: Group) -> None:
    """Step 6: the scheduler prompts the owners weekly, reminds of due and overdue tasks, and posts
    the weekly digest; owners check in, a late and a blocked task alert the ҚМҰТ; /progress."""
    by_name = {m.name: m for m in village}
    transcript.section("Step 6. Implementation and monitoring (іске асыру және мониторинг)")
    transcript.note("The demo's clock now runs a day at a time; the scheduler sweeps at 09:00 and 10:00 village "
                    "time. The facilitator looks at the reminder settings first.")
    await facilitator.send("/remind")
    await sweep(sim, transcript, 17, 11, 16, False)  # plans the reminders (the plan was approved on the 17th)
    shown = {(23, 11, 10), (24, 11, 9), (7, 12, 9), (11, 12, 9), (14, 12, 10)}
    quiet_sent = 0
    day = datetime(2026, 11, 18)
    while day <= datetime(2026, 12, 14):
        for hour in (9, 10):
            show = (day.day, day.month, hour) in shown
            sent = await sweep(sim, transcript, day.day, day.month, hour, show)
            quiet_sent += 0 if show else sent
        if (day.day, day.month) == (24, 11):
            transcript.section("Step 6. An owner reports on their task")
            await check_in(by_name["Ерлан"], "on_track", 25, "Трактор келісілді, 1 желтоқсанда бастаймыз")
            await by_name["Ерлан"].send("/plan")
        for when, who, status, percent, note in CHECKINS:
            if (day.day, day.month) == (when, 12):
                transcript.section(f"Step 6. {who} reports: {status}")
                await check_in(by_name[who], status, percent, note)
        if (day.day, day.month) == (9, 12):
            transcript.section("Step 6. Progress in the group")
            await by_name["Нұрлан"].send("/progress", group)
        day += timedelta(days=1)
    transcript.note(f"On the other days the scheduler sent {quiet_sent} more messages (weekly check-in prompts, "
                    "digests), not shown.")


async def step7(sim: Sim, transcript, facilitator: Person, village: list[Person], group: Group) -> None:
    """Step 7, the evaluation, in March."""
    by_name = {m.name: m for m in village}
    transcript.note("The winter passes: the demo's clock moves to March.")
    sim.engine.clock.now = max(sim.engine.clock.now, datetime(2027, 3, 1, 5, 0, tzinfo=timezone.utc))
    await facilitator.send("/next", group)

    transcript.section("Step 7. The evaluation (бағалау)")
    await facilitator.send("/poll evaluation", group)
    async with sim.engine.db.transaction() as tx:
        ballot = next(b.id for b in await ballots.of_community(tx, 1, "open") if b.kind == "evaluation")
    for i, (who, goal, rating, again, worked, change) in enumerate(EVALUATIONS):
        transcript.quiet = i not in (0, 2)
        person = by_name[who]
        await person.send(f"/start b_{ballot}")
        await person.press_data(f"ev:{ballot}:g:{goal}")
        await person.press_data(f"ev:{ballot}:r:{rating}")
        await person.press_data(f"ev:{ballot}:a:{again}")
        for field, text in (("worked", worked), ("change", change)):
            if text:
                await person.send(text)
            else:
                await person.press_data(f"ev:{ballot}:s:{field}")
    transcript.quiet = False
    transcript.note(f"{len(EVALUATIONS)} members answered in private chat, the same way (Ерлан's and John's shown); "
                    f"{sum(1 for e in EVALUATIONS if e[4] or e[5])} of them wrote what worked or what to change.")
    await facilitator.send("/close evaluation", group)
    transcript.note("The facilitator received the written answers above, without names.")
    await facilitator.send("/status", group)


async def next_cycle(sim: Sim, transcript, facilitator: Person, village: list[Person], group: Group) -> None:
    """A second facilitator, who starts the next cycle: the first is archived, the problems the
    village did not choose come back to step 1, and the facilitator reads what to change."""
    by_name = {m.name: m for m in village}
    transcript.section("A second facilitator")
    await facilitator.send("/facilitator add Ерлан")
    transcript.section("The next cycle")
    erlan = by_name["Ерлан"]
    await erlan.send("/cycle new")
    await erlan.press_data(next(b.data for row in erlan.inbox()[-1].buttons for b in row))
    await by_name["Ольга"].send("/problems")
    await erlan.send("/status", group)
