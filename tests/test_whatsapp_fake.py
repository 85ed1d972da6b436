"""The fake WhatsApp Cloud API itself: it refuses what Meta refuses and signs what it posts."""

from __future__ import annotations

import hashlib
import hmac

import aiohttp
from aiohttp import web

from tests.fakes.whatsapp import FakeWhatsApp


async def call(wa: FakeWhatsApp, payload: dict, token: str | None = None, path: str = "messages"):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{wa.base_url}/{wa.version}/{wa.phone_number_id}/{path}", json=payload,
                                headers={"Authorization": f"Bearer {token or wa.token}"}) as response:
            return response.status, await response.json()


def buttons(n: int, title: str = "Option") -> dict:
    return {"type": "button", "body": {"text": "Choose"}, "action": {"buttons": [
        {"type": "reply", "reply": {"id": f"b{i}", "title": f"{title} {i}"}} for i in range(n)]}}


def rows(n: int, title: str = "Row") -> dict:
    return {"type": "list", "body": {"text": "Choose"}, "action": {"button": "Choose", "sections": [
        {"title": "All", "rows": [{"id": f"r{i}", "title": f"{title} {i}"} for i in range(n)]}]}}


async def test_the_fake_enforces_the_documented_limits_and_the_window():
    async with FakeWhatsApp() as wa:
        alma = wa.user("77010000001", "Алма")
        wa.last_inbound[alma.wa_id] = wa.now()
        send = lambda body: call(wa, {"messaging_product": "whatsapp", "to": alma.wa_id, **body})  # noqa: E731
        assert (await send({"type": "text", "text": {"body": "x" * 4096}}))[0] == 200
        status, error = await send({"type": "text", "text": {"body": "x" * 4097}})
        assert status == 400 and error["error"]["code"] == 131009
        assert (await send({"type": "interactive", "interactive": buttons(3)}))[0] == 200
        assert (await send({"type": "interactive", "interactive": buttons(4)}))[0] == 400
        assert (await send({"type": "interactive", "interactive": buttons(1, "x" * 20)}))[0] == 400  # 21 characters
        assert (await send({"type": "interactive", "interactive": rows(10)}))[0] == 200
        assert (await send({"type": "interactive", "interactive": rows(11)}))[0] == 400
        assert (await send({"type": "interactive", "interactive": rows(1, "y" * 24)}))[0] == 400
        long_body = buttons(2)
        long_body["body"]["text"] = "z" * 1025
        assert (await send({"type": "interactive", "interactive": long_body}))[0] == 400
        assert (await send({"type": "image", "image": {"id": "never-uploaded"}}))[0] == 400
        assert (await call(wa, {"messaging_product": "whatsapp", "to": alma.wa_id, "type": "text",
                                "text": {"body": "hi"}}, token="wrong"))[0] == 401
        assert [m.kind for m in wa.messages(alma)] == ["text", "interactive", "interactive"]
        assert wa.messages(alma)[2].options[9] == ("r9", "Row 9")

        wa.advance(hours=25)  # the window closed: free-form refused, the approved template passes
        status, error = await send({"type": "text", "text": {"body": "hi"}})
        assert error["error"]["code"] == 131047
        template = {"type": "template", "template": {"name": "qatysu_notice", "language": {"code": "kk"},
                                                     "components": [{"type": "body", "parameters": [
                                                         {"type": "text", "text": "Дауыс беру ашылды"}]}]}}
        assert (await send(template))[0] == 200
        wa.fail_next(130429)
        assert (await send(template))[1]["error"]["code"] == 130429
        assert (await send(template))[0] == 200


async def test_the_fake_posts_signed_webhooks():
    got: list[tuple[bytes, str]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((await request.read(), request.headers["X-Hub-Signature-256"]))
        return web.Response()

    app = web.Application()
    app.router.add_post("/whatsapp/webhook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with FakeWhatsApp(app_secret="s3cret") as wa:
            wa.webhook_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/whatsapp/webhook"
            assert await wa.send_text(wa.user("77010000002", "Бек"), "сәлем") == 200
        body, signature = got[0]
        assert signature == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert b'"wa_id": "77010000002"' in body
    finally:
        await runner.cleanup()
