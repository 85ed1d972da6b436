"""WhatsApp's configuration: complete or refused with one line naming the variable."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load

WA = {"WHATSAPP_TOKEN": "EAAG-token", "WHATSAPP_PHONE_NUMBER_ID": "1055500001",
      "WHATSAPP_APP_SECRET": "secret", "WHATSAPP_VERIFY_TOKEN": "verify"}


def test_whatsapp_alone_is_a_channel_with_meta_defaults():
    config = load({**WA, "WHATSAPP_TEMPLATE_NOTICE": "qatysu_notice", "WHATSAPP_DISPLAY_NUMBER": "+7 700 123 4567"},
                  need_telegram=True)
    wa = config.whatsapp
    assert config.telegram_token is None and wa is not None
    assert (wa.api_base, wa.api_version, config.http_host) == ("https://graph.facebook.com", "v21.0", "127.0.0.1")
    assert wa.templates == {"notice": "qatysu_notice"} and wa.display_number == "77001234567"
    assert load({}).whatsapp is None


@pytest.mark.parametrize("missing", ["WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"])
def test_a_token_without_the_rest_is_refused_naming_what_is_missing(missing):
    env = {k: v for k, v in WA.items() if k != missing}
    with pytest.raises(ConfigError) as error:
        load(env)
    assert missing in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("extra, variable", [
    ({"WHATSAPP_API_BASE": "graph.facebook.com"}, "WHATSAPP_API_BASE"),
    ({"WHATSAPP_API_VERSION": "21"}, "WHATSAPP_API_VERSION"),
    ({"WHATSAPP_PHONE_NUMBER_ID": "+7700"}, "WHATSAPP_PHONE_NUMBER_ID"),
    ({"WHATSAPP_TEMPLATE_NOTICE": "Qatysu Notice"}, "WHATSAPP_TEMPLATE_NOTICE"),
    ({"WHATSAPP_DISPLAY_NUMBER": "call me"}, "WHATSAPP_DISPLAY_NUMBER"),
])
def test_a_wrong_whatsapp_value_is_named(extra, variable):
    with pytest.raises(ConfigError) as error:
        load({**WA, **extra})
    assert variable in str(error.value) and "\n" not in str(error.value)
