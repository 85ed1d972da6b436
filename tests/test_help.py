"""/help shows each person what their role can do (member, ҚМҰТ, facilitator: their own commands
and those of the roles below), and Telegram's command menus are set per scope and language."""

from __future__ import annotations

import re

from bot.flows import registry
from tests.conftest import build_community, onboard
from tests.test_flows_step3 import make_kmut

MEMBER = ["/propose", "/problems", "/vote", "/results", "/nominate", "/tree", "/resources", "/orgs", "/plan",
          "/status", "/lang", "/mydata", "/forget"]
KMUT = ["/tree merge 5 2", "/tree remove 5", "/resources remove 3", "/orgs remove 3", "/plan owner 3",
        "/plan dates 3 01.12 20.12", "/plan remove 3"]
FACILITATOR = ["/poll dots|matrix|pairwise", "/poll election 7", "/poll plan", "/poll evaluation", "/close",
               "/paper 12 3:10 5:4", "/choose 2", "/merge 5 2", "/hide 5", "/next"]


def commands_in(text: str) -> set[str]:
    """The commands a /help lists, each as written at the start of its line."""
    return {line.split(" — ")[0] for line in text.splitlines() if line.startswith("/")}


async def help_of(person, group=None) -> str:
    await person.send("/help", group)
    return "\n".join(shown.text for shown in person.sim.messages(group.id if group else person.id)[-1:])


async def test_each_role_sees_its_commands_and_those_of_the_roles_below(sim):
    c = await build_community(sim, 3, ("en", "en", "en"))
    member, kmut = c.members[0], c.members[1]
    await make_kmut(c, kmut)
    await c.facilitator.send("/lang")
    await c.facilitator.press("English")

    shown = commands_in(await help_of(member))
    assert set(MEMBER) <= shown
    assert not shown & set(KMUT + FACILITATOR)

    text = await help_of(kmut)
    shown = commands_in(text)
    assert set(MEMBER + KMUT) <= shown
    assert not shown & set(FACILITATOR)
    assert "For the ҚМҰТ" in text and "For the facilitator" not in text

    text = await help_of(c.facilitator)
    shown = commands_in(text)
    assert set(MEMBER + KMUT + FACILITATOR) <= shown
    assert text.index("For the ҚМҰТ") < text.index("For the facilitator") < text.index("/paper 12 3:10 5:4")
    assert "/poll — " not in text, "the /poll lines say what each vote is, not only 'Start a vote'"


async def test_in_the_group_help_lists_what_works_there(sim):
    c = await build_community(sim, 1, ("en",))
    member = c.members[0]
    await c.facilitator.send("/lang")
    await c.facilitator.press("English")
    shown = commands_in(await help_of(member, c.group))
    assert {"/propose", "/vote", "/results", "/status"} <= shown
    assert not shown & {"/mydata", "/forget", "/new", "/communities", "/poll dots|matrix|pairwise", "/next"}
    shown = commands_in(await help_of(c.facilitator, c.group))
    assert {"/poll dots|matrix|pairwise", "/poll election 7", "/close", "/next", "/link K7M2QX9P"} <= shown
    assert not shown & {"/mydata", "/forget", "/new"}


async def test_someone_in_no_community_sees_how_to_join_or_create_one(sim):
    person = sim.person("Ерлан", "en")
    await onboard(person)
    shown = commands_in(await help_of(person))
    assert {"/new", "/join K7M2QX9P", "/start", "/help", "/mydata"} <= shown
    assert not shown & {"/propose", "/vote", "/tree merge 5 2", "/merge 5 2"}


async def test_help_speaks_the_members_language(sim):
    c = await build_community(sim, 2, ("kk", "ru"))
    kk, ru = c.members
    assert "Мен не істей аламын" in await help_of(kk)
    text = await help_of(ru)
    assert "Что я умею" in text and "Предложить проблему" in text


async def test_every_command_is_in_the_facilitators_help():
    """A command left out of /help is one a facilitator never learns of (/paper, /choose, /merge
    and /hide were); only /menu, another name for /start, is not listed."""
    import bot.flows.all  # noqa: F401

    listed = {re.match(r"/(\w+)", line.usage).group(1) for chat in ("private", "group")
              for line in registry.help_lines("facilitator", chat)}
    assert set(registry.COMMANDS) - listed == {"menu"}


async def test_the_command_menus_are_set_per_scope_in_each_language(tg, bot):
    def names(scope: str, language: str = "") -> list[str]:
        commands = tg.commands_for({"type": scope}, language_code=language)
        assert commands, f"no menu for {scope} in {language or 'the default language'}"
        return [c["command"] for c in commands]

    for scope in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        for language in ("", "kk", "ru", "en"):
            assert names(scope, language)[:2] == ["start", "help"]
    private, group, admins = names("all_private_chats"), names("all_group_chats"), names("all_chat_administrators")
    assert {"propose", "vote", "plan", "mydata", "forget", "new"} <= set(private)
    assert not {"poll", "close", "next"} & set(private)
    assert {"propose", "vote", "results", "status"} <= set(group)
    assert not {"poll", "close", "next", "mydata", "forget", "new"} & set(group)
    assert {"poll", "close", "next", "propose", "vote"} <= set(admins)
    descriptions = {scope: {c["command"]: c["description"] for c in tg.commands_for({"type": scope}, language)}
                    for scope, language in (("default", ""), ("all_private_chats", "ru"), ("all_group_chats", "en"))}
    assert descriptions["default"]["start"] == "Мәзір"  # without a language code: Kazakh
    assert descriptions["all_private_chats"]["propose"] == "Предложить проблему"
    assert descriptions["all_group_chats"]["propose"] == "Propose a problem"


async def test_a_menu_telegram_refuses_does_not_keep_the_bot_from_running(tg, tmp_path, caplog):
    from tests.test_e2e_telegram import Bot, say

    tg.fail_next(2, 400, description="Bad Request: BOT_COMMAND_DESCRIPTION_INVALID", methods=["setMyCommands"])
    runner = Bot(tg, str(tmp_path / "menu.db"))
    await runner.start()
    try:
        reply = await say(tg, tg.user(1, "Asel", "en"), "/start")
        assert "Choose your language" in reply["text"]
    finally:
        await runner.stop()
    assert "2 of 16 command menus not set" in caplog.text
