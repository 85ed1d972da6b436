"""Typed button payloads (bot/flows/payloads.py): each kind builds and reads back exactly the
strings the flows wrote by hand before the types, so a button sent before an upgrade still
works; anything else is refused as stale; every channel's size budget is checked when built."""

from __future__ import annotations

import pytest

import bot.flows.all  # noqa: F401  (declares every kind)
from bot.flows import registry
from bot.flows.payloads import BUDGETS, BY_PREFIX, BadPayload, Payload
from bot.whatsapp.render import MORE, START
from tests.conftest import build_community
from tests.test_flows_step1 import TEXTS, propose_all

# Payloads as the flows wrote them before the types (the f-strings of the flows), one or more a
# kind: each must decode to its kind and encode back to the same bytes.
TODAY = {
    "d": ["d:12:7"],
    "open": ["open:12"],
    "close": ["close:12"],
    "mx": ["mx:12:7:a:3", "mx:12:7:b:1"],
    "mxr": ["mxr:12"],
    "pw": ["pw:12:3:9:9", "pw:12:3:9:3"],
    "pwr": ["pwr:12"],
    "el": ["el:12:40"],
    "kc": ["kc:12", "kc:12:1"],
    "ev": ["ev:12:g:yes", "ev:12:g:partly", "ev:12:r:5", "ev:12:a:0", "ev:12:a:1", "ev:12:x:0",
           "ev:12:s:worked", "ev:12:d:change"],
    "ch": ["ch:7:12:3F9A21", "ch:7:12:"],  # an empty check code is written, as before
    "vol": ["vol:3", "vol:3:0"],
    "m": ["m:propose", "m:problems", "m:new", "m:status", "m:help", "m:communities", "m:lang", "m:phone",
          "m:menu"],
    "tz": ["tz:3", "tz:3:moscow"],
    "c": ["c:3"],
    "cy": ["cy:3:1"],
    "forget": ["forget:yes", "forget:no"],
    "lang": ["lang:kk", "lang:ru", "lang:en"],
    "consent": ["consent:yes", "consent:no"],
    "onbname": ["onbname"],
    "ci": ["ci:3:2"],
    "cs": ["cs:3:2:done", "cs:3:2:on_track"],
    "cp": ["cp:3:2:late:0", "cp:3:2:blocked:75"],
    "cn": ["cn:3"],
    "nm": ["nm:3:8"],
    "nc": ["nc:3:8:activist", "nc:3:8:ngo"],
    "na": ["na:40"],
    "nd": ["nd:40"],
    "fc": ["fc:3:add:8", "fc:3:to:8"],
    "kp": ["kp:3"],
    "ka": ["ka:3"],
    "kv": ["kv:3:2", "kv:3:2:0"],
    "ko": ["ko:3:2:8"],
    "pl": ["pl:12:1", "pl:12:0"],
    "tc": ["tc:3"],
    "tn": ["tn:3:cause", "tn:3:effect", "tn:3:cause:new"],
    "tp": ["tp:3:0", "tp:3:14"],
    "ra": ["ra:3"],
    "rp": ["rp:3"],
    "rk": ["rk:3:money"],
    "oa": ["oa:3"],
    "op": ["op:3"],
    "oe": ["oe:3"],
    "or": ["or:3:2"],
    "oi": ["oi:3:2:1"],
    "oc": ["oc:3:2:1:3"],
}
# Old buttons that the flows no longer draw, still honoured.
OLDER = {"ch": ["ch:7"]}


def test_every_kind_has_examples_of_its_wire_format():
    assert sorted(TODAY) == sorted(BY_PREFIX)
    assert set(registry.BUTTONS) == set(BY_PREFIX)  # every button routes by a declared kind, and only those
    assert all(registry.BUTTONS[prefix].payload is BY_PREFIX[prefix] for prefix in BY_PREFIX)


@pytest.mark.parametrize("data", [d for ds in TODAY.values() for d in ds])
def test_todays_payloads_decode_and_encode_byte_identical(data):
    kind = BY_PREFIX[data.partition(":")[0]]
    tap = kind.decode(data)
    assert isinstance(tap, kind)
    assert tap.encode() == data
    assert type(tap).decode(tap.encode()) == tap


def test_fields_are_typed():
    tap = BY_PREFIX["d"].decode("d:12:7")
    assert (tap.ballot, tap.problem) == (12, 7)
    score = BY_PREFIX["mx"].decode("mx:12:7:a:3")
    assert (score.axis, score.value) == ("a", 3)
    assert BY_PREFIX["kv"].decode("kv:3:2").withdraw is None and BY_PREFIX["kv"].decode("kv:3:2:0").withdraw == 0
    assert BY_PREFIX["ch"].decode("ch:7:12:").code == "" and BY_PREFIX["ch"].decode("ch:7").ballot is None
    assert BY_PREFIX["ch"].decode(OLDER["ch"][0]).encode() == "ch:7"


@pytest.mark.parametrize("data", [
    "", "d", "d:", "d:1", "d:1:2:3", "d::1", "d:1:", "d:x:1", "d:-1:1", "d:01:1", "d: 1:1", "d:1 :1",
    "d:²:1", "d:٣:1", "d:" + "9" * 13 + ":1", "D:1:2", "open:1:2", "onbname:1", "kv:3:2:0:0", "m:",
    "mx:1:1:a:x", "d:1:1\x00", "open:" + "1" * 70,
])
def test_what_does_not_decode_is_refused_as_stale(data):
    kind = BY_PREFIX.get(data.partition(":")[0], BY_PREFIX["d"])
    with pytest.raises(BadPayload):
        kind.decode(data)


def test_the_prefix_must_be_the_kinds():
    with pytest.raises(BadPayload):
        BY_PREFIX["open"].decode("close:12")


def test_budgets_are_checked_when_built():
    telegram = next(b for b in BUDGETS if b.unit == "bytes")
    assert telegram.limit == 64
    menu = BY_PREFIX["m"]
    fits = menu("x" * (64 - len("m:")))
    assert len(fits.encode().encode()) == 64
    with pytest.raises(ValueError, match="Telegram"):
        menu("x" * (65 - len("m:"))).encode()
    with pytest.raises(ValueError, match="Telegram"):  # bytes, not characters: Kazakh letters take two
        menu("ә" * 32).encode()
    assert len(menu("ә" * 31).encode()) == 33


def test_what_a_field_cannot_carry_is_a_bug_in_the_flow():
    with pytest.raises(ValueError):
        BY_PREFIX["m"]("a:b").encode()  # would read back as two fields
    with pytest.raises(ValueError):
        BY_PREFIX["d"](-1, 2).encode()
    with pytest.raises(ValueError):
        BY_PREFIX["d"]("12", 2).encode()  # a str where a number goes


def test_declarations_are_checked():
    with pytest.raises(ValueError):
        class Twice(Payload, prefix="d"):
            ballot: int
    with pytest.raises(ValueError):
        class Colon(Payload, prefix="a:b"):
            ballot: int
    with pytest.raises(TypeError):
        class Floaty(Payload, prefix="zz-float"):
            value: float
    with pytest.raises(TypeError):
        class Gap(Payload, prefix="zz-gap"):
            first: int | None = None
            second: int
    assert not {"a:b", "zz-float", "zz-gap"} & set(BY_PREFIX)


def test_the_whatsapp_channels_own_option_ids_are_no_flows_prefix():
    assert MORE.partition(":")[0] not in BY_PREFIX and START.partition(":")[0] not in BY_PREFIX


async def test_the_engine_hands_the_decoded_tap_and_refuses_what_does_not_decode(sim):
    c = await build_community(sim, 1, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    member = c.members[0]
    await member.send("/vote")
    await member.press("Sticker voting")
    data = member.last().buttons[0][0].data
    tap = BY_PREFIX["d"].decode(data)
    ballot_id, problem_id = tap.ballot, tap.problem
    for forged in (f"d:0{ballot_id}:{problem_id}", f"d:{ballot_id}:{problem_id}:1", f"d:{ballot_id}: {problem_id}",
                   f"d:{ballot_id}:{problem_id}" + "0" * 60):
        outcome = await member.press_data(forged)
        assert outcome.toast.text == "This button no longer works. Open /start for the current menu.", forged
    outcome = await member.press_data(data)  # (with one sticker a problem, a second tap would take it back)
    assert outcome.toast.text.startswith("Sticker placed on #") and "2 of 3 stickers left" in outcome.toast.text
