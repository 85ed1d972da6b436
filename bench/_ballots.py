"""The ballots ``vote_burst.py`` measures: how the facilitator opens each, what every member
presses, and the exact checks afterwards of what the bot stored and computes.

* ``Dots``, ``Election`` and ``Plan`` — ballots voted on with the group message's buttons
  (``GroupBallot``: stickers on problems; approvals of the ҚМҰТ's candidates; approval of the
  action plan or "not yet"): every tap is known in advance (the group message's buttons do not
  change), so the whole burst is queued at once.
* ``Matrix``, ``Pairwise`` and ``Evaluation`` — ballots in each member's private chat, opened by
  the group message's deep link. Every answer edits the member's message into the next question (in an
  order of their own), so a member presses a button of the message as the fake shows it now,
  and only once the bot has answered the last press and edited the message: one update in flight
  per member, all members at once.

A burst's ``feed`` queues the updates and returns them as ``Queued`` (callback id, when, the
press); ``replay`` feeds the bare dispatcher the same number of callback updates the same way;
``check`` returns ``(ok, name, detail)`` rows.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from _common import percentile  # noqa: E402  (bench/ is on sys.path; vote_burst.py puts it there)

STICKERS_PER_MEMBER = 3


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


async def say(tg, user, text, chat=None, contains=None, timeout=30.0):
    tg.send(user, text, chat)
    return await tg.next_message(chat or user.id, contains=contains, timeout=timeout)


@dataclass(frozen=True)
class Press:
    """One button press: by ``member`` (an index into the members) on ``message``."""

    member: int
    user: Any
    message: dict
    data: str
    chat: Any = None
    label: Any = None  # what it answers, for the checks' details (dots: the tap number)
    toast: str = ""  # how the bot's answer should begin (in the member's language)
    strict: bool = True  # the message must carry the button now (False: a replay to the bare bot)


class Queued(NamedTuple):
    callback_id: str
    at: float
    press: Press


def push(tg, press: Press) -> Queued:
    update = tg.press(press.user, press.message, press.data, chat=press.chat, strict=press.strict)
    return Queued(update["callback_query"]["id"], time.monotonic(), press)


async def queue_all(tg, presses: list[Press], rate: float) -> list[Queued]:
    """Queue every press at once, or ``rate`` a second (in batches of 1 % of it)."""
    if rate <= 0:
        return [push(tg, press) for press in presses]
    queued: list[Queued] = []
    t_first = time.monotonic()
    batch = max(1, int(rate / 100))
    for start in range(0, len(presses), batch):
        delay = t_first + start / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        queued.extend(push(tg, press) for press in presses[start:start + batch])
    return queued


async def new_calls(tg, since: int, deadline: float):
    """The Bot API calls the fake records from index ``since`` on, each as it comes, until the
    deadline (the caller stops iterating when it has what it waits for)."""
    cursor = since
    while time.monotonic() < deadline:
        if cursor == tg.mark():
            try:
                await tg.wait_for(lambda call: True, timeout=max(0.01, deadline - time.monotonic()), since=cursor)
            except AssertionError:  # timed out
                return
        for call in tg.calls(since=cursor):
            cursor += 1
            yield call


async def feed_in_turn(tg, users, next_press: Callable[[int], Press | None], *, until_edited: bool,
                       deadline: float) -> tuple[list[Queued], list[float]]:
    """Every member presses at once, then each presses again as soon as the bot has answered
    the last press (and, ``until_edited``, edited their private message): one update in flight
    per member. ``next_press(i)`` is member i's next press, None when done. Returns the queued
    updates and, per press, the seconds from queued to the edit."""
    queued: list[Queued] = []
    to_edit: list[float] = []
    member_of_chat = {user.id: i for i, user in enumerate(users)}
    member_of_callback: dict[str, int] = {}
    waiting: dict[int, list] = {}  # member → [their update queued, answered yet, edited yet]

    def press_next(i: int) -> None:
        press = next_press(i)
        if press is None:
            return
        q = push(tg, press)
        queued.append(q)
        member_of_callback[q.callback_id] = i
        waiting[i] = [q, False, not until_edited]

    mark = tg.mark()
    for i in range(len(users)):
        press_next(i)
    if not waiting:
        return queued, to_edit
    async with aclosing(new_calls(tg, mark, deadline)) as calls:
        async for call in calls:
            method = call.method.lower()
            if not call.ok or method not in ("answercallbackquery", "editmessagetext"):
                continue
            if method == "answercallbackquery":
                i, slot = member_of_callback.pop(call.params.get("callback_query_id"), None), 1
            else:
                i, slot = member_of_chat.get(call.message["chat_id"]), 2
            state = waiting.get(i)
            if state is None or state[slot]:
                continue
            state[slot] = True
            if slot == 2:
                to_edit.append(call.time - state[0].at)
            if state[1] and state[2]:
                del waiting[i]
                press_next(i)
                if not waiting:
                    break
    return queued, to_edit


def answered_once(run: dict) -> tuple[bool, str, str]:
    return (run["answered"] == run["updates"] and run["double_answers"] == 0,
            "every update answered exactly once",
            f"{run['answered']}/{run['updates']} answered, {run['double_answers']} twice")


def none_failed(run: dict) -> tuple[bool, str, str]:
    return (run["n_failed"] == 0, "no Bot API call failed",
            f"{run['n_failed']} failed" + (f": {run['failed']}" if run["failed"] else ""))


def toasts_as_expected(tg, queued: list[Queued], name: str, exact: bool = False) -> tuple[bool, str, str]:
    """Every answer begins with the toast its press expects (``exact``: is that toast, "" for
    an answer without one)."""
    bad = []
    for cb, _, press in queued:
        answer = tg.callback_answers.get(cb)
        text = answer and (answer["text"] or "")
        if answer is None or not (text == press.toast if exact else text.startswith(press.toast)):
            bad.append((press.user.id, press.label, press.toast, answer and answer["text"]))
    return (not bad, name, f"{len(bad)} unexpected toasts, e.g. {bad[:3]}" if bad else
            f"all {len(queued)} toasts as expected")


async def read_db(db_path: str, read: Callable):
    """``await read(tx)`` in one transaction on the bench's database (a SQLite file or a
    PostgreSQL URL), through the app's code."""
    from bot.storage.stores import database

    db = await database(db_path).open()
    try:
        async with db.transaction() as tx:
            return await read(tx)
    finally:
        await db.close()


async def numbering(tx) -> tuple[dict[int, int], dict[int, int]]:
    """Telegram id → member id, problem number → problem id."""
    ids = {int(r[0]): r[1] for r in await tx.all(
        "SELECT external_id, member_id FROM identities WHERE channel = 'telegram'")}
    pid_of = {r[0]: r[1] for r in await tx.all("SELECT number, id FROM problems")}
    return ids, pid_of


def differences(got: dict, expected: dict, what: str) -> tuple[bool, str]:
    """Whether two dicts by member are equal, and a line saying how they differ."""
    wrong = [k for k in expected if got.get(k) != expected[k]]
    strangers = [k for k in got if k not in expected]
    detail = (f"{len(wrong)} {what} differ" + (f", e.g. member {wrong[0]}: stored {got.get(wrong[0])}, expected "
                                               f"{expected[wrong[0]]}" if wrong else "")
              + (f"; {len(strangers)} unexpected voters" if strangers else ""))
    return not wrong and not strangers, detail


def competition_ranks(scores: dict[int, Any]) -> dict[int, int]:
    """1 + how many score strictly more (ties share a rank), computed here, not by the bot."""
    return {k: 1 + sum(other > v for other in scores.values()) for k, v in scores.items()}


# ============================================================================ ballots in the group
class GroupBallot:
    """A ballot voted on with the group message's buttons (stickers, the election, the plan):
    every tap is known in advance, as the buttons do not change, so the whole burst is queued at
    once. Every member taps five times; by default on the options (numbered from 0 in ``labels``'
    order) ``r``, ``r+1``, ``r+2`` (3 marks placed), ``r`` again (taken back) and ``r+3`` (placed
    elsewhere), mod the number of options, ``r`` drawn from a fixed seed, skewed so that the
    tallies differ (``member_taps``; ``final`` says which taps a member ends with). Subclasses say
    how the ballot is opened, what the buttons and toasts say and how the stored votes are read."""

    kind = ""
    per_member = 5
    private = False
    command = ""  # what the facilitator sends in the group
    marks = STICKERS_PER_MEMBER  # what every member has at the end (stickers, approvals)
    flag = ""  # how the header names the run ("" for the default ballot)
    done = ""  # the toast check's name
    tallied = "online counts (trigger-kept) equal the expected tallies"  # the counts check's name

    def __init__(self, n: int, seed: int) -> None:
        self.labels = self.option_labels(n)
        self.plans = self.member_taps(n, seed)

    def member_taps(self, n: int, seed: int) -> list[list]:
        """Per member, the labels of the five options tapped, in order."""
        weights = list(range(len(self.labels), 0, -1))  # the first options drawn most often as r
        return [[self.labels[k] for k in taps] for taps in plan_taps(n, seed, len(self.labels), weights)]

    def final(self, taps: list) -> tuple:
        """The options a member's taps leave marked (taps 2, 3 and 5: tap 4 took tap 1 back)."""
        return taps[1], taps[2], taps[4]

    def button(self, label) -> str:
        """The callback data of the group message's button for ``label``."""
        return button_data(self.message, label)

    def counts_shown(self, live: dict) -> dict:
        """The count the group message (as the fake shows it) gives each option: its lines
        matching ``shown`` (the option's label, its count)."""
        kind = type(self.labels[0])
        return {kind(m.group(1)): int(m.group(2)) for line in live["text"].splitlines()
                if (m := re.match(self.shown, line))}

    async def prepare(self, tg, facilitator, group) -> None:
        """What the facilitator does before the members are inserted (nothing by default)."""

    def header(self, n: int, rate: float) -> list[str]:
        return [f"vote_burst{self.flag}: {n:,} members × {self.per_member} taps = {self.per_member * n:,} callback "
                f"updates ({'all queued at once' if rate <= 0 else f'queued at {rate:,.0f}/s'})"]

    async def open(self, tg, facilitator, group, users) -> str:
        from bot.i18n import translator

        self.message = await say(tg, facilitator, self.command, group)
        self.ballot_id = int(self.message["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1])
        self.group = group
        presses = []
        for k in range(self.per_member):  # round by round: everyone's tap 1, then everyone's tap 2, ...
            for i, (user, plan) in enumerate(zip(users, self.plans)):
                presses.append(Press(i, user, self.message, self.button(plan[k]), group, k + 1,
                                     self.toast(translator(user.language_code), k, plan[k])))
        self.presses = presses
        return ""

    async def feed(self, tg, users, args) -> list[Queued]:
        return await queue_all(tg, self.presses, args.rate)

    replay = feed  # the bare dispatcher gets the same taps on the same message

    def notes(self) -> list[str]:
        return []

    async def check(self, tg, db_path: str, users, mine: dict) -> list[tuple[bool, str, str]]:
        from bot.storage import ballots

        async def read(tx):
            return (await ballots.get(tx, self.ballot_id), *await self.read(tx))

        stored_ballot, marks, counts, option_id, ids, total, voters = await read_db(db_path, read)
        n = len(users)
        final = [self.final(plan) for plan in self.plans]  # what each member ends with
        expected_member = {ids[u.id]: self.as_stored([option_id[o] for o in labels])
                           for u, labels in zip(users, final)}
        expected_counts = Counter(option_id[o] for labels in final for o in labels)
        stored_ok, stored_detail = differences(marks, expected_member, "members")
        label_of = {v: k for k, v in option_id.items()}
        exp_by_label = {label_of[o]: expected_counts[o] for o in sorted(option_id.values())}
        got_by_label = {label_of[o]: c for o, c in counts.items()}
        shows_ok, shows_detail = group_shows(tg, self.group, self.message, exp_by_label, self.counts_shown)
        return [
            (stored_ok, f"every member's stored {self.what} equal the plan", stored_detail),
            (counts == {o: expected_counts[o] for o in option_id.values()} and total == self.marks * n,
             self.tallied,
             f"stored {got_by_label}, expected {exp_by_label}, {self.what} stored {total}"),
            (stored_ballot.turnout == n == voters, "turnout equals the number of members",
             f"turnout {stored_ballot.turnout}, distinct voters {voters}, members {n}"),
            answered_once(mine),
            toasts_as_expected(tg, mine["queued"], self.done),
            none_failed(mine),
            (shows_ok, "the group message ends with the final counts", shows_detail),
        ]

    # --- what subclasses say
    what = ""  # what a member places, plural ("stickers", "approvals")
    shown = r""  # a line of the group message: (label, count)

    def option_labels(self, n: int) -> list:
        """The options as the buttons name them (the text before " ·")."""
        raise NotImplementedError

    def toast(self, tr, k: int, label) -> str:
        """How the bot's answer to tap ``k`` (from 0) on ``label`` begins."""
        raise NotImplementedError

    async def read(self, tx) -> tuple:
        """(every member's stored marks by member id, the online counts by option id, option id by
        label, member id by Telegram id, marks stored, distinct voters)."""
        raise NotImplementedError

    def as_stored(self, option_ids: list[int]) -> Any:
        """A member's marks as ``read`` gives them."""
        raise NotImplementedError


class Dots(GroupBallot):
    """The group's sticker ballot (``/poll dots``: 3 stickers, one per problem, counts live)."""

    kind, command, what = "dots", "/poll dots", "stickers"
    done = "toasts: taps 1-3 and 5 placed, tap 4 taken back"
    shown = r"^(\d+)\. .* — (\d+)$"

    def option_labels(self, n):
        return [1, 2, 3, 4, 5]  # the problems' numbers

    def toast(self, tr, k, number):
        return tr.t("Sticker taken back from #{number}.", number=number) if k == 3 else \
            tr.t("Sticker placed on #{number}.", number=number)

    async def read(self, tx):
        from bot.storage import ballots

        ids, pid_of = await numbering(tx)
        options = dict(await ballots.options(tx, self.ballot_id))
        pid_of = {number: pid for number, pid in pid_of.items() if pid in options}  # the ballot's problems
        return (await ballots.all_stickers(tx, self.ballot_id), options, pid_of, ids,
                await tx.scalar("SELECT COALESCE(SUM(count), 0) FROM dot_votes WHERE ballot_id = ?", (self.ballot_id,)),
                await tx.scalar("SELECT COUNT(DISTINCT member_id) FROM dot_votes WHERE ballot_id = ?",
                                (self.ballot_id,)))

    def as_stored(self, option_ids):
        return {p: 1 for p in option_ids}


class Election(GroupBallot):
    """The ҚМҰТ election (``/poll election 3``): 10 candidates — seeded members 0..9, their
    nominations accepted, across the six categories — 3 seats, counts live."""

    kind, flag, what = "election", " --ballot election", "approvals"
    seats = 3
    command = f"/poll election {seats}"
    marks = seats
    candidates = 10
    done = "toasts: taps 1-3 and 5 approved, tap 4 taken back, with the approvals left"
    shown = r"^• (.+?) · .* — (\d+)$"

    def option_labels(self, n):
        from bot.domain.election import CATEGORIES

        if n < self.candidates:
            raise SystemExit(f"--ballot election needs at least {self.candidates} members (the candidates)")
        # (member index, category) of the nominations the seed step inserts, accepted
        self.nominees = [(i, CATEGORIES[i % len(CATEGORIES)]) for i in range(self.candidates)]
        return [member_name(i) for i in range(self.candidates)]

    def toast(self, tr, k, name):
        approved = (1, 2, 3, 2, 3)[k]  # the member's approvals after tap k
        said = tr.t("Approval taken back from {name}.", name=name) if k == 3 else tr.t("You approved {name}.", name=name)
        return said + " " + tr.tn("{left} of {n} left.", "{left} of {n} left.", self.seats, left=self.seats - approved)

    async def read(self, tx):
        from bot.storage import ballots

        ids, _ = await numbering(tx)
        nid_of = {r[0]: r[1] for r in await tx.all(
            "SELECT m.name, o.nomination_id FROM election_options o JOIN nominations n ON n.id = o.nomination_id"
            " JOIN members m ON m.id = n.member_id WHERE o.ballot_id = ?", (self.ballot_id,))}
        return (await ballots.all_approvals(tx, self.ballot_id), dict(await ballots.candidates(tx, self.ballot_id)),
                nid_of, ids,
                await tx.scalar("SELECT COUNT(*) FROM election_votes WHERE ballot_id = ?", (self.ballot_id,)),
                await tx.scalar("SELECT COUNT(DISTINCT member_id) FROM election_votes WHERE ballot_id = ?",
                                (self.ballot_id,)))

    def as_stored(self, option_ids):
        return set(option_ids)


class Plan(GroupBallot):
    """Step 5's plan ballot (``/poll plan``): with problem #1 chosen (``/choose 1``) and its
    action plan of 10 tasks (inserted through the app's storage with the members: the tasks
    cannot change while the vote is open), every member approves the plan or says "not yet",
    one vote each, changeable until it closes; the counts are live on the two buttons.

    A member taps the side they start on, the other, the first again, the other, the first
    (``s``, ``¬s``, ``s``, ``¬s``, ``s``; ``s`` "approve" two times in three, from a fixed seed)
    and ends where they started. With two buttons some tap repeats the one two taps before it:
    taps 1, 3 and 5 are the same button, 2 × members updates apart in the queue (see the
    double-tap window in vote_burst.py's docstring)."""

    kind, flag, what = "plan", " --ballot plan", "votes"
    command = "/poll plan"
    marks = 1  # one vote a member
    done = "toasts: taps 1, 3, 5 the side the member starts on, taps 2, 4 the other"
    tallied = "the tally the app reads (bot.storage.plan.tally) equals the expected one"
    VALUE = {"approve": 1, "not yet": 0}  # label → plan_votes.approve, the buttons' pl:<ballot>:<value>
    # (title, start in days from today or None, days it takes, what it needs): inserted by the seed step
    TASKS = [
        ("Су басатын жердегі құбырды тазалау", 3, 4, "Екі күрек, бір сағатқа жүк көлігі"),
        ("Әкімдікке жол жөндеу туралы хат жазу", 1, 2, ""),
        ("Грейдер сұрау", 10, 20, "Грейдер"),
        ("Жолдың шұңқырларын қиыршық таспен толтыру", 14, 7, "Қиыршық тас, екі тачка"),
        ("Су ағатын арық қазу", 21, 10, "Күректер, он адам"),
        ("Жол бойына белгі қою", None, None, "Бояу, тақтай"),
        ("Көктемгі су тасуына кезекшілік кестесін жасау", 30, 3, ""),
        ("Ауыл тұрғындарынан қаражат жинау", 5, 30, "Есеп кітабы"),
        ("Көпірдің қоршауын жөндеу", 40, 5, "Дәнекерлеу аппараты"),
        ("Жұмыс нәтижесін суретке түсіріп, әкімдікке жіберу", 60, 2, "Телефон"),
    ]

    def option_labels(self, n):
        self.tasks = self.TASKS
        return list(self.VALUE)

    def member_taps(self, n, seed):
        rng = random.Random(seed)
        taps = []
        for _ in range(n):
            s = rng.choices(range(2), weights=[2, 1])[0]  # approve more often, so the sides differ
            first, other = self.labels[s], self.labels[1 - s]
            taps.append([first, other, first, other, first])
        return taps

    def final(self, taps):
        return (taps[-1],)  # the last tap is the member's vote

    def button(self, label):
        data = f"pl:{self.ballot_id}:{self.VALUE[label]}"
        if data not in {b["callback_data"] for row in self.message["reply_markup"]["inline_keyboard"] for b in row}:
            raise LookupError(data)
        return data

    def counts_shown(self, live):
        """The counts on the buttons ("I approve the plan · 12", in the group's language)."""
        label_of = {v: k for k, v in self.VALUE.items()}
        return {label_of[int(b["callback_data"].rsplit(":", 1)[1])]: int(b["text"].rsplit(" · ", 1)[1])
                for row in live["reply_markup"]["inline_keyboard"] for b in row if " · " in b["text"]}

    async def prepare(self, tg, facilitator, group):
        await say(tg, facilitator, "/choose 1", group)  # step 1: the problem the plan is for

    def toast(self, tr, k, label):
        return tr.t("You approve the plan. You can change your vote until it closes.") if label == "approve" else \
            tr.t("You do not approve the plan yet. You can change your vote until it closes.")

    async def read(self, tx):
        from bot.storage import plan

        ids, _ = await numbering(tx)
        votes = {r[0]: bool(r[1]) for r in await tx.all(
            "SELECT member_id, approve FROM plan_votes WHERE ballot_id = ?", (self.ballot_id,))}
        yes, no = await plan.tally(tx, self.ballot_id)
        return (votes, {1: yes, 0: no}, dict(self.VALUE), ids, len(votes),
                await tx.scalar("SELECT COUNT(DISTINCT member_id) FROM plan_votes WHERE ballot_id = ?",
                                (self.ballot_id,)))

    def as_stored(self, option_ids):
        return bool(option_ids[0])


def member_name(i: int) -> str:
    """The i-th seeded member's name (vote_burst.py's ``member_row``)."""
    return f"Мүше {i}"


def button_data(message, label) -> str:
    """The callback data of the button named ``label`` (its text up to " ·")."""
    for row in message["reply_markup"]["inline_keyboard"]:
        for b in row:
            if b["text"].startswith(f"{label} ·"):
                return b["callback_data"]
    raise LookupError(label)


def plan_taps(n: int, seed: int, options: int = 5, weights: list[int] | None = None) -> list[list[int]]:
    """Per member, the five options tapped, numbered from 0 (see ``GroupBallot``); the final
    marks are taps 2, 3 and 5."""
    rng = random.Random(seed)
    weights = weights or list(range(options, 0, -1))
    plans = []
    for _ in range(n):
        r = rng.choices(range(options), weights=weights)[0]
        a, b, c, d = ((r + k) % options for k in range(4))
        plans.append([a, b, c, a, d])
    return plans


def group_shows(tg, group, ballot, expected: dict, counts_shown: Callable[[dict], dict]) -> tuple[bool, str]:
    """Whether the group message, as the fake shows it now, gives the expected count for each
    option (``counts_shown(message)``: label → count)."""
    live = tg.message(group.id, ballot["message_id"])
    shown = counts_shown(live)
    ok = shown == expected
    return ok, (f"group message shows {shown} after {live['edits']} edits"
                + ("" if ok else f", expected {expected}"))


# ============================================================================ ballots in private chats
class PrivateBallot:
    """A ballot each member answers in the private chat, question by question (one message,
    edited). Subclasses say what a member answers to the message in front of them and how the
    bot's stored answers and result are read and recomputed."""

    kind = ""
    prefix = ""  # of the answer buttons' callback data
    again = ""  # of the "change my answers" button on the closing message
    reader = ""  # bot.storage.ballots' reader of every member's answers
    private = True
    per_member = 0
    questions = ""  # for the header
    exact_toasts = False  # toasts must equal the expected ones (else: begin with them)

    def __init__(self, n: int, seed: int) -> None:
        rng = random.Random(seed)
        self.plans = [self.plan_member(rng) for _ in range(n)]
        self.answers: list[dict] = [{} for _ in range(n)]  # member → what they pressed, by question
        self.asked: list[Counter] = [Counter() for _ in range(n)]  # member → times each question came
        self.to_edit: list[float] = []

    def header(self, n: int, rate: float) -> list[str]:
        return [
            f"vote_burst --ballot {self.kind}: {n:,} members × {self.per_member} answers ({self.questions}) = "
            f"{self.per_member * n:,} callback updates in private chats",
            "measured: the answers, one in flight per member: the next is queued once the bot has answered the "
            "last and edited the member's message, pressing a button of that message as the fake shows it",
            f"set-up, not measured: /poll {self.kind} in the group; every member opens the ballot by the group "
            "message's deep link (/start b_<id>, all at once) and gets the first question",
            "bare aiogram: the same presses, one in flight per member, the next once the last is answered",
        ]

    async def prepare(self, tg, facilitator, group) -> None:
        """What the facilitator does before the members are inserted (nothing)."""

    async def open(self, tg, facilitator, group, users) -> str:
        invitation = await say(tg, facilitator, f"/poll {self.kind}", group)
        payload = invitation["reply_markup"]["inline_keyboard"][0][0]["url"].split("start=")[1]
        self.ballot_id = int(payload.removeprefix("b_"))
        mark, t0 = tg.mark(), time.monotonic()
        for user in users:
            tg.send(user, f"/start {payload}")
        self.messages: dict[int, dict] = {}  # member index → the ballot's message in their private chat
        member_of_chat = {user.id: i for i, user in enumerate(users)}
        async with aclosing(new_calls(tg, mark, t0 + 120)) as calls:
            async for call in calls:
                i = member_of_chat.get(call.message["chat_id"]) if call.message is not None else None
                if i is not None and self.answer_buttons(call.message):
                    self.messages[i] = call.message
                    if len(self.messages) == len(users):
                        break
        seconds = time.monotonic() - t0
        if len(self.messages) < len(users):
            raise RuntimeError(f"only {len(self.messages)} of {len(users)} members got the first question")
        return (f"; {len(users):,} members opened the ballot by its deep link in {seconds:.1f} s "
                f"({len(users) / seconds:,.0f} /start updates/s)")

    @staticmethod
    def buttons(message: dict, prefix: str) -> list[dict]:
        return [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
                if b.get("callback_data", "").startswith(prefix + ":")]

    def answer_buttons(self, message: dict) -> list[dict]:
        """The buttons that answer the question ``message`` asks (none: it is the thank-you)."""
        return self.buttons(message, self.prefix)

    def closing(self, message: dict) -> bool:
        """Whether ``message`` is the thank-you, with its button to change the answers."""
        return bool(self.buttons(message, self.again))

    async def feed(self, tg, users, args) -> list[Queued]:
        def next_press(i: int) -> Press | None:
            message = tg.message(users[i].id, self.messages[i]["message_id"])
            if not self.answer_buttons(message):
                return None  # the closing "thank you"
            button, question, answer, toast = self.choose(i, users[i], message)
            self.answers[i][question] = answer
            self.asked[i][question] += 1
            return Press(i, users[i], message, button["callback_data"], label=question, toast=toast)

        queued, self.to_edit = await feed_in_turn(tg, users, next_press, until_edited=True,
                                                  deadline=time.monotonic() + args.timeout)
        self.pressed = queued
        return queued

    async def replay(self, tg, users, args) -> list[Queued]:
        """The bare dispatcher: each member's presses again, in their order; the bare handler
        only answers, so the next goes once the last is answered."""
        todo: list[list[Press]] = [[] for _ in users]
        for _, _, press in self.pressed:
            todo[press.member].append(Press(press.member, press.user, press.message, press.data, strict=False))
        for presses in todo:
            presses.reverse()
        queued, _ = await feed_in_turn(tg, users, lambda i: todo[i].pop() if todo[i] else None,
                                       until_edited=False, deadline=time.monotonic() + args.timeout)
        return queued

    def notes(self) -> list[str]:
        shown = sorted(self.to_edit)
        return [f"a member waits for the next question (their answer queued → their message edited to it): p50 "
                f"{fmt_ms(percentile(shown, 50))}, p95 {fmt_ms(percentile(shown, 95))}, "
                f"p99 {fmt_ms(percentile(shown, 99))}, max {fmt_ms(shown[-1] if shown else float('nan'))} "
                f"({len(shown):,} edits)"]

    async def check(self, tg, db_path: str, users, mine: dict) -> list[tuple[bool, str, str]]:
        from bot.storage import ballots

        async def read(tx):
            ballot = await ballots.get(tx, self.ballot_id)
            return (await self.stored(tx), await self.result(tx, ballot), await ballots.voters(tx, ballot),
                    *await numbering(tx))

        stored, result, voters, ids, pid_of = await read_db(db_path, read)
        n = len(users)
        number_of = {v: k for k, v in pid_of.items()}
        twice = sum(1 for asked in self.asked for c in asked.values() if c > 1)
        unplanned = [i for i in range(n) if self.answers[i] != self.planned_answers(i)]
        stored_ok, stored_detail = differences(
            {m: self.by_number(answers, number_of) for m, answers in stored.items()},
            {ids[u.id]: self.answers[i] for i, u in enumerate(users)}, "members")
        got, expected = self.bot_result(result, number_of), self.bench_result()
        closed = [i for i, u in enumerate(users) if self.closing(tg.message(u.id, self.messages[i]["message_id"]))]
        return [
            (not unplanned and not twice, "every member was asked each question once and answered as planned",
             f"{n - len(unplanned):,}/{n:,} members as planned, {twice} questions asked twice"),
            (stored_ok, "every member's stored answers equal what the bench pressed", stored_detail),
            (got == expected, "the bot's result from storage equals the bench's tally of what it pressed",
             f"bot {self.brief(got)}" if got == expected else f"bot {got}, bench {expected}"),
            (voters == self.result_voters(result) == n, "turnout equals the number of members",
             f"turnout {voters}, result's voters {self.result_voters(result)}, members {n}"),
            answered_once(mine),
            toasts_as_expected(tg, mine["queued"], self.toasts_checked, self.exact_toasts),
            none_failed(mine),
            (len(closed) == n, "every member's message ends with the thank-you",
             f"{len(closed):,}/{n:,} show it, with its button to change the answers"),
        ]

    # --- what subclasses say
    def plan_member(self, rng: random.Random) -> Any:
        raise NotImplementedError

    def planned_answers(self, i: int) -> dict:
        raise NotImplementedError

    def choose(self, i: int, user, message: dict) -> tuple[dict, Any, Any, str]:
        """Member i's answer to ``message``: (button, question, answer, expected toast)."""
        raise NotImplementedError

    toasts_checked = "toasts: each answer confirmed as pressed"  # the toast check's name

    async def result(self, tx, ballot) -> Any:
        """The result the bot computes from storage (its own ``results.build``)."""
        import bot.flows.all  # noqa: F401  (the kinds of ballot register as their modules load)
        from bot.flows import results

        return await results.build(tx, ballot)

    def result_voters(self, result) -> int:
        return result.voters

    async def stored(self, tx) -> dict[int, dict]:
        """Every member's stored answers (the storage module's own reader), by member id."""
        from bot.storage import ballots

        return await getattr(ballots, self.reader)(tx, self.ballot_id)

    def by_number(self, stored: dict, number_of: dict[int, int]) -> dict:
        raise NotImplementedError

    def bot_result(self, result, number_of: dict[int, int]) -> dict:
        raise NotImplementedError

    def bench_result(self) -> dict:
        raise NotImplementedError

    def brief(self, result: dict) -> str:
        return str(result)


class Matrix(PrivateBallot):
    """``/poll matrix``: each problem scored on importance (a), then urgency (b), 1–3."""

    kind, prefix, again, reader = "matrix", "mx", "mxr", "all_scores"
    per_member = 10
    questions = "5 problems × importance and urgency"
    # weights of the scores 1, 2, 3 by problem number, so that the means differ
    IMPORTANCE = {1: (1, 2, 6), 2: (2, 3, 4), 3: (3, 4, 2), 4: (4, 3, 2), 5: (6, 2, 1)}
    URGENCY = {1: (3, 3, 3), 2: (1, 2, 6), 3: (2, 2, 5), 4: (5, 3, 1), 5: (3, 4, 2)}

    def plan_member(self, rng):
        return {number: (rng.choices((1, 2, 3), self.IMPORTANCE[number])[0],
                         rng.choices((1, 2, 3), self.URGENCY[number])[0]) for number in range(1, 6)}

    def planned_answers(self, i):
        return {(number, axis): ab[k] for number, ab in self.plans[i].items() for k, axis in enumerate("ab")}

    def choose(self, i, user, message):
        from bot.i18n import translator

        tr = translator(user.language_code)
        number = int(re.search(r"#(\d+)", message["text"]).group(1))
        if tr.t("How <b>important</b> is it for the community?") in message["source"]:
            axis = "a"
        elif tr.t("How <b>urgent</b> is it — how soon must it be solved?") in message["source"]:
            axis = "b"
        else:
            raise AssertionError(f"neither question in {message['text']!r}")
        a, b = self.plans[i][number]
        value = a if axis == "a" else b
        button = next(b for b in self.buttons(message, self.prefix) if b["text"].removeprefix("✅ ") == str(value))
        toast = tr.t("Importance: {value}", value=value) if axis == "a" else \
            tr.t("Saved: #{number} importance {a}, urgency {b}.", number=number, a=self.answers[i].get((number, "a")),
                 b=value)
        return button, (number, axis), value, toast

    def by_number(self, stored, number_of):
        return {(number_of[p], axis): ab[k] for p, ab in stored.items() for k, axis in enumerate("ab")}

    def bot_result(self, result, number_of):
        """Per problem number: (scored by, mean importance, mean urgency, mean cell, drawn in cell, rank)."""
        return {number_of[r.option]: (r.n, r.mean_a, r.mean_b, r.mean_score, (r.cell_a, r.cell_b), r.rank)
                for r in result.rows}

    def bench_result(self):
        sums = {number: [0, 0, 0] for number in range(1, 6)}
        for answers in self.answers:
            for (number, axis), value in answers.items():
                sums[number]["ab".index(axis)] += value
                sums[number][2] += axis == "a"
        cell = lambda total, n: min(3, max(1, (2 * total + n) // (2 * n)))  # noqa: E731 (half up)
        means = {number: (a + b - n) / n for number, (a, b, n) in sums.items()}
        ranks = competition_ranks(means)
        return {number: (n, a / n, b / n, means[number], (cell(a, n), cell(b, n)), ranks[number])
                for number, (a, b, n) in sums.items()}


    def brief(self, result):
        return "; ".join(f"#{number} rank {rank}: {n} scored, importance {a:.2f}, urgency {b:.2f}, cell {cell:.2f}"
                         f" drawn at {drawn}" for number, (n, a, b, cell, drawn, rank)
                         in sorted(result.items(), key=lambda item: item[1][-1]))


class Pairwise(PrivateBallot):
    """``/poll pairwise``: "which is more pressing?" for each of the 10 pairs of 5 problems."""

    kind, prefix, again, reader = "pairwise", "pw", "pwr", "all_answers"
    per_member = 10
    questions = "all 10 pairs of 5 problems"
    APPEAL = {1: 2.0, 2: 1.0, 3: 2.5, 4: 0.5, 5: 0.0}  # how pressing each problem seems, on average

    def plan_member(self, rng):
        """The member's own order of the problems, most pressing first."""
        return sorted(self.APPEAL, key=lambda number: -(self.APPEAL[number] + rng.gauss(0, 1.2)))

    def planned_answers(self, i):
        order = self.plans[i]
        return {(a, b): min(a, b, key=order.index) for a in range(1, 6) for b in range(a + 1, 6)}

    def choose(self, i, user, message):
        from bot.i18n import translator

        sides = {int(re.search(r"#(\d+)", b["text"]).group(1)): b for b in self.buttons(message, self.prefix)}
        winner = min(sides, key=self.plans[i].index)
        toast = translator(user.language_code).t("Saved: #{number} is more pressing.", number=winner)
        return sides[winner], (min(sides), max(sides)), winner, toast

    def by_number(self, stored, number_of):
        return {(number_of[low], number_of[high]): number_of[winner] for (low, high), winner in stored.items()}

    def bot_result(self, result, number_of):
        """The method, wins per ordered pair (winner, loser), wins per problem, ranks."""
        outcome = result.extra["outcome"]
        return {"method": outcome.method, "voters": outcome.voters,
                "wins": {(number_of[w], number_of[l]): c for (w, l), c in sorted(outcome.wins.items()) if c},
                "win_counts": {number_of[p]: c for p, c in sorted(outcome.win_counts.items())},
                "ranks": {number_of[p]: rank for p, _, rank in outcome.ranking}}

    def bench_result(self):
        wins = Counter()
        for answers in self.answers:
            for pair, winner in answers.items():
                wins[(winner, pair[0] + pair[1] - winner)] += 1
        win_counts = {number: sum(c for (w, _), c in wins.items() if w == number) for number in range(1, 6)}
        return {"method": "wins", "voters": len(self.answers), "wins": dict(sorted(wins.items())),
                "win_counts": win_counts, "ranks": dict(sorted(competition_ranks(win_counts).items()))}


    def brief(self, result):
        return (f"{ {k: v for k, v in result.items() if k != 'wins'} } and the {len(result['wins'])} counts "
                "of wins per ordered pair")



class Evaluation(PrivateBallot):
    """Step 7's evaluation (``/poll evaluation``): three questions on one private message edited
    in place — did we reach the goal (``ev:<ballot>:g:yes|partly|no``), a rating
    (``ev:<ballot>:r:1..5``), will you take part again (``ev:<ballot>:a:1|0``) — then "What worked
    well?" and "What should we change?", each skipped with its button (``ev:<ballot>:s:worked``,
    ``ev:<ballot>:s:change``). Every answer is toasted "Saved." in the member's language except
    the first skip, which only moves on to the second question (no toast): the toasts must be
    exactly these. The thank-you's "Answer again" button (``ev:<ballot>:x:0``) shares the prefix,
    so it is told apart by its kind."""

    kind, prefix, reader = "evaluation", "ev", ""
    per_member = 5
    questions = "goal, rating, take part again, skip what worked, skip what to change"
    exact_toasts = True
    toasts_checked = "toasts: \"Saved.\" for goal, rating, again and the last skip; none for the first skip"
    QUESTION = {"g": "goal", "r": "rating", "a": "again"}  # the buttons' kind → evaluation_answers' column
    GOAL = {"yes": 5, "partly": 3, "no": 2}  # weights, so that the totals differ
    RATING = {1: 1, 2: 2, 3: 4, 4: 6, 5: 3}
    AGAIN = {1: 3, 0: 1}

    def plan_member(self, rng):
        return {"goal": rng.choices(list(self.GOAL), list(self.GOAL.values()))[0],
                "rating": rng.choices(list(self.RATING), list(self.RATING.values()))[0],
                "again": rng.choices(list(self.AGAIN), list(self.AGAIN.values()))[0],
                "worked": "", "change": ""}  # the texts skipped: stored empty

    def planned_answers(self, i):
        return self.plans[i]

    @staticmethod
    def parts(button: dict) -> tuple[str, str]:
        """(kind, value) of an ``ev:<ballot>:<kind>:<value>`` button."""
        _, _, kind, value = button["callback_data"].split(":")
        return kind, value

    def answer_buttons(self, message):
        return [b for b in self.buttons(message, self.prefix) if self.parts(b)[0] != "x"]

    def closing(self, message):
        return any(self.parts(b)[0] == "x" for b in self.buttons(message, self.prefix))

    def choose(self, i, user, message):
        from bot.i18n import translator

        saved = translator(user.language_code).t("Saved.")
        options = {self.parts(b): b for b in self.answer_buttons(message)}
        kinds = {kind for kind, _ in options}
        if len(kinds) != 1:
            raise AssertionError(f"not one question in {message['text']!r}: {sorted(options)}")
        kind = kinds.pop()
        if kind == "s":  # the texts: only the Skip button
            (_, field), = options
            return options[("s", field)], field, "", saved if field == "change" else ""
        question = self.QUESTION[kind]
        value = self.plans[i][question]
        return options[(kind, str(value))], question, value, saved

    async def stored(self, tx):
        """Every member's row of ``evaluation_answers`` (the storage module reads one member at a time)."""
        from bot.storage import evaluation

        rows = await tx.all("SELECT member_id FROM evaluation_answers WHERE ballot_id = ?", (self.ballot_id,))
        return {r[0]: await evaluation.of_member(tx, self.ballot_id, r[0]) for r in rows}

    def by_number(self, stored, number_of):
        return {"goal": stored.goal, "rating": stored.rating,
                "again": None if stored.again is None else int(stored.again), "worked": stored.worked,
                "change": stored.change}

    async def result(self, tx, ballot):
        from bot.storage import evaluation

        return await evaluation.summary(tx, ballot.id)

    def result_voters(self, result):
        return result[3]

    def bot_result(self, result, number_of):
        """bot.storage.evaluation.summary: (yes, partly, no), ratings 1-5, (again yes, no), respondents."""
        return {"goal": result[0], "ratings": result[1], "again": result[2], "respondents": result[3]}

    def bench_result(self):
        count = lambda field, values: tuple(sum(a.get(field) == v for a in self.answers) for v in values)  # noqa: E731
        return {"goal": count("goal", ("yes", "partly", "no")), "ratings": count("rating", range(1, 6)),
                "again": count("again", (1, 0)), "respondents": sum(1 for a in self.answers if a)}


BALLOTS = {"dots": Dots, "election": Election, "evaluation": Evaluation, "matrix": Matrix, "pairwise": Pairwise,
           "plan": Plan}
