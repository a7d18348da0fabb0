"""The chat interface: one aiogram Router per feature module, composed here in a fixed order.

Order matters: the first router whose filters match handles an update.
  0. groups       group, channel and sender-less messages, buttons in groups (no user: answered briefly
                  or ignored); old_buttons: buttons of messages too old to see, or inline
  1. start        /cancel (first, so it works inside every wizard), /start, /help, menu, language
  2. bots         /bots, bot cards, edits
     grid_view    a grid bot's status view and the chart of its fills
     manual       a trend bot's "close" and /trade (manual trades, confirmed with a second tap)
     backtest     /backtest (a background run with progress, then the summary and the chart)
     strategies   /strategies (figures, save a copy with own parameters, delete)
     money        /balance, /positions, /pnl, /trades (the account at a glance)
     reports      /report (the daily and weekly reports' settings)
     notifications /notify (which alerts reach the user, and how)
     risk         /risk (the account's kill switch and loss limits)
  3. create_trend the AI trend bot wizard (/newbot lives with the wizards)
  4. create_grid  the grid bot wizard
  5. allocation   /allocation, /stopall
  6. keys         /keys
  7. errors       DomainError -> a message in the user's language (error events only)
  8. fallback     whatever nothing else handled
"""

from __future__ import annotations

from aiogram import Router


def build_router() -> Router:
    """A fresh root router holding every feature router (a Router can be attached to one parent only)."""
    from handlers import (
        allocation,
        backtest,
        bots,
        create_grid,
        create_trend,
        errors,
        grid_view,
        groups,
        keys,
        manual,
        money,
        notifications,
        old_buttons,
        reports,
        risk,
        start,
        strategies,
    )

    # feature modules create their routers at import; re-importing would not make new ones, so detach
    # them from a previous root (tests build several dispatchers in one process)
    features = [
        groups.router,
        old_buttons.router,
        start.router,
        bots.router,
        grid_view.router,
        manual.router,
        backtest.router,
        strategies.router,
        money.router,
        reports.router,
        notifications.router,
        risk.router,
        create_trend.router,
        create_grid.router,
        allocation.router,
        keys.router,
        errors.router,
        start.fallback_router,
    ]
    root = Router(name="multibot")
    for router in features:
        router._parent_router = None
        root.include_router(router)
    return root
