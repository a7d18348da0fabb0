"""The `multibot` command: run, migrate, backtest."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("multibot")


def _settings_or_exit() -> Settings:
    # imported here: pydantic-settings alone takes 0.15 s, which `--help` and the backtests do not need
    from bot.config import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        print(f"multibot: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_migrate(args: argparse.Namespace) -> int:
    import asyncio

    from db.migrate import upgrade_head

    url = args.url or _settings_or_exit().database_url
    asyncio.run(upgrade_head(url))
    print(f"multibot: database is at the newest schema ({_safe_url(url)})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from bot.config import SettingsError

    settings = _settings_or_exit()
    # the sandbox's terminal is the chat: only warnings and errors go beside it
    level = settings.log_level if settings.telegram_bot_token is not None else "WARNING"
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.app import run
    from bot.instance_lock import EngineAlreadyRunning

    try:
        return asyncio.run(run(settings))
    except (SettingsError, EngineAlreadyRunning, OSError) as exc:  # one line, nothing started
        print(f"multibot: {exc}", file=sys.stderr)
        return 2


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multibot", description="A fleet of crypto trading bots in Telegram."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="migrate the database and run the bot (the sandbox chat without a token)"
    )
    run.set_defaults(func=cmd_run)
    migrate = commands.add_parser("migrate", help="upgrade the database to the newest schema")
    migrate.add_argument("--url", help="database URL (default: DATABASE_URL from the settings)")
    migrate.set_defaults(func=cmd_migrate)
    from bot.backtest_cli import add_backtest_parser
    from bot.sweep_cli import add_sweep_parser

    add_backtest_parser(commands)
    add_sweep_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
