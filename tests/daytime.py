"""Real-time tests of reminders at any hour: a community's quiet hours (22:00-08:00 in its zone
by default) hold every reminder that falls due in them, so a test that makes one due now, run in
the evening in Almaty, would wait until morning."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.storage import reminders


async def quiet_hours_elsewhere(db, community_id: int = 1, tz: str = "Asia/Almaty") -> None:
    """Move the community's quiet hours to a half hour six hours from now."""
    later = datetime.now(ZoneInfo(tz)) + timedelta(hours=6)
    async with db.transaction() as tx:
        current = await reminders.settings(tx, community_id)
        await reminders.save_settings(tx, community_id, replace(current, quiet_from=f"{later:%H}:00",
                                                                quiet_to=f"{later:%H}:30"))
