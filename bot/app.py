"""Start-up and shutdown of the application."""

from __future__ import annotations

import logging
import sys

from bot.config import Settings
from db.migrate import upgrade_head

log = logging.getLogger(__name__)


async def run(settings: Settings) -> int:
    await upgrade_head(settings.database_url)
    if settings.telegram_bot_token is None:
        print("multibot: TELEGRAM_BOT_TOKEN is not set; the database is ready, nothing else to run", file=sys.stderr)
        return 1
    print("multibot: the Telegram interface is not built yet", file=sys.stderr)
    return 1
