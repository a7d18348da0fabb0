"""A trader's account at a glance (issue 16, section 1): /balance, /positions, /pnl and /trades, from the
same ledger the bot cards read (bot/services/grid_money.py, bot/services/trend_money.py) and the venue's
balances. DESIGN.md: equity = spot USDT + coins at mark + futures equity.

- balance: the venue's wallets (spot and USDT-M futures where the venue keeps them apart; the paper venue
  has one), the coins at their last price, the equity, and what the user's bots hold (coin, positions'
  margin) and reserve (the USDT resting in their orders);
- pnl: realized PnL per bot and in total over today (since 00:00 UTC), 7 days, 30 days and all time,
  from the trades rows' realized PnL; unrealized PnL now (grid floating PnL, open positions);
- trades: the user's fills, newest first, a page at a time, all bots or one."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from bot.services.dto import BotDTO, TradeDTO
from bot.services.fleet import Fleet
from bot.services.lifecycle import current_venue
from db import queries as q
from db.base import utcnow
from db.models import BotInstance, Trade, User
from db.session import Database
from engine.exchange import Balance, Exchange, ExchangeError

ZERO = Decimal(0)
TRADES_PER_PAGE = 10
WINDOWS = ("today", "7d", "30d", "all")

ExchangeFor = Callable[[int, str], Awaitable[Exchange]]


@dataclass(frozen=True, slots=True)
class Wallet:
    name: str  # spot, futures, or account (one wallet for both)
    usdt_free: Decimal
    usdt_used: Decimal


@dataclass(frozen=True, slots=True)
class Coin:
    asset: str
    qty: Decimal
    value: Decimal | None  # at the last price, None when the venue has none


@dataclass(frozen=True, slots=True)
class AccountBalance:
    venue: str
    wallets: tuple[Wallet, ...]
    coins: tuple[Coin, ...]
    equity: Decimal
    bots_running: int
    bots_coin: Decimal  # the bots' coin at its last price
    bots_margin: Decimal  # the margin of the bots' open positions
    reserved: Decimal  # USDT resting in orders


@dataclass(frozen=True, slots=True)
class BotPnl:
    bot_id: int
    name: str
    realized: dict[str, Decimal]  # window -> realized PnL
    unrealized: Decimal


@dataclass(frozen=True, slots=True)
class PnlReport:
    bots: tuple[BotPnl, ...]
    realized: dict[str, Decimal]
    unrealized: Decimal


@dataclass(frozen=True, slots=True)
class Status:
    """The main menu's one line: equity (None when the venue did not answer), today's realized PnL,
    the bots running of all."""

    equity: Decimal | None
    today: Decimal
    running: int
    bots: int


@dataclass(frozen=True, slots=True)
class TradesPage:
    trades: tuple[TradeDTO, ...]
    page: int
    pages: int
    bot_id: int | None
    names: dict[int, str]


class AccountMoney:
    def __init__(self, db: Database, fleet: Fleet, exchange_for: ExchangeFor | None = None) -> None:
        self.db, self.fleet = db, fleet
        self.exchange_for = exchange_for  # the engine sets it: the user's account on a venue

    async def _user_venue(self, user_id: int) -> str:
        async with self.db.read() as session:
            user = await session.get(User, user_id)
        return current_venue(user)[0] if user is not None else "paper"

    async def status(self, user_id: int, now: datetime | None = None) -> Status:
        now = now or utcnow()
        bots = await self.fleet.list_bots(user_id)
        async with self.db.read() as session:
            pnl = (
                await session.execute(
                    select(Trade.realized_pnl).where(
                        Trade.user_id == user_id,
                        Trade.realized_pnl.is_not(None),
                        Trade.executed_at >= now.replace(hour=0, minute=0, second=0, microsecond=0),
                    )
                )
            ).scalars()
            today = sum(pnl, ZERO)
        equity = None
        with contextlib.suppress(ExchangeError):
            equity = (await self._account(user_id))[3]
        return Status(equity, today, sum(b.is_running for b in bots), len(bots))

    async def cards(self, user_id: int) -> list[BotDTO]:
        """Every active bot of the user with its money (each card as the bot's own screen shows it)."""
        bots = await self.fleet.list_bots(user_id)
        return [(await self.fleet.card(user_id, b.id))[0] for b in bots]

    async def _account(
        self, user_id: int
    ) -> tuple[str, list[Wallet], list[Coin], Decimal, dict[str, Decimal | None]]:
        """The venue's wallets now (never cached: a person asked), coins valued at their last price, and
        the equity they make."""
        venue = await self._user_venue(user_id)
        if self.exchange_for is None:
            raise ExchangeError("no exchange in this process")
        exchange = await self.exchange_for(user_id, venue)
        await exchange.load_markets()
        wallets, coins, equity = [], {}, ZERO
        balances: list[tuple[str, Balance]]
        if venue == "paper":
            balances = [("account", await exchange.fetch_balance(None))]
        else:
            spot = await exchange.fetch_balance("spot")
            if getattr(exchange, "one_wallet", False):  # a unified account: one wallet, counted once
                balances = [("account", spot)]
            else:
                balances = [("spot", spot), ("futures", await exchange.fetch_balance("swap"))]
        for name, balance in balances:
            wallets.append(Wallet(name, balance.free("USDT"), balance.total("USDT") - balance.free("USDT")))
            equity += balance.total("USDT")
            if name == "futures":
                continue  # futures: margin and PnL in USDT; coins live in the spot wallet
            for asset, amount in balance.assets.items():
                if asset != "USDT" and amount.total:
                    coins[asset] = coins.get(asset, ZERO) + amount.total
        valued, prices = [], {}
        for asset, qty in sorted(coins.items()):
            price = None
            with contextlib.suppress(ExchangeError):
                price = (await exchange.fetch_ticker(f"{asset}/USDT")).last
            valued.append(Coin(asset, qty, qty * price if price is not None else None))
            equity += qty * price if price is not None else ZERO
            prices[asset] = price
        return venue, wallets, valued, equity, prices

    async def balance(self, user_id: int) -> AccountBalance:
        venue, wallets, valued, equity, prices = await self._account(user_id)
        cards = await self.cards(user_id)
        coin = margin = ZERO
        for bot in cards:
            money = bot.grid.money if bot.grid is not None else None
            if money is not None and money.held:  # at the price the account's coins are valued at
                price = prices.get(bot.symbol.removesuffix("USDT")) or money.mark
                coin += money.held * price if price is not None else ZERO
        async with self.db.read() as session:
            for bot in cards:
                if bot.bot_type == "ai_trend":
                    margin += sum((p.margin for p in await q.open_trend_positions(session, bot.id)), ZERO)
        return AccountBalance(
            venue=venue,
            wallets=tuple(wallets),
            coins=tuple(valued),
            equity=equity,
            bots_running=sum(b.is_running for b in cards),
            bots_coin=coin,
            bots_margin=margin,
            reserved=sum((w.usdt_used for w in wallets if w.name != "futures"), ZERO),
        )

    async def pnl(self, user_id: int, now: datetime | None = None) -> PnlReport:
        now = now or utcnow()
        starts = {
            "today": now.replace(hour=0, minute=0, second=0, microsecond=0),
            "7d": now - timedelta(days=7),
            "30d": now - timedelta(days=30),
        }
        cards = await self.cards(user_id)
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(Trade.bot_instance_id, Trade.realized_pnl, Trade.executed_at).where(
                        Trade.user_id == user_id, Trade.realized_pnl.is_not(None)
                    )
                )
            ).all()
        per_bot: dict[int | None, dict[str, Decimal]] = {}
        for bot_id, pnl, at in rows:
            sums = per_bot.setdefault(bot_id, dict.fromkeys(WINDOWS, ZERO))
            sums["all"] += pnl
            for window, start in starts.items():
                if at >= start:
                    sums[window] += pnl
        report = []
        for bot in cards:
            sums = per_bot.get(bot.id, dict.fromkeys(WINDOWS, ZERO))
            report.append(BotPnl(bot.id, bot.name, sums, _unrealized(bot)))
        totals = dict.fromkeys(WINDOWS, ZERO)
        for sums in per_bot.values():  # deleted bots' and manual trades' PnL count in the total
            for window in totals:
                totals[window] += sums[window]
        return PnlReport(tuple(report), totals, sum((b.unrealized for b in report), ZERO))

    async def trades(self, user_id: int, page: int = 0, bot_id: int | None = None) -> TradesPage:
        if bot_id is not None and not 0 < bot_id < 2**31:  # forged: no bot has it (and no query takes it)
            return TradesPage((), 0, 1, bot_id, {})
        async with self.db.read() as session:
            where = [Trade.user_id == user_id]
            if bot_id is not None:
                where.append(Trade.bot_instance_id == bot_id)
            count = (await session.execute(select(func.count(Trade.id)).where(*where))).scalar_one()
            pages = max(1, -(-count // TRADES_PER_PAGE))
            page = min(max(page, 0), pages - 1)
            rows = (
                await session.execute(
                    select(Trade)
                    .where(*where)
                    .order_by(Trade.executed_at.desc(), Trade.id.desc())
                    .offset(page * TRADES_PER_PAGE)
                    .limit(TRADES_PER_PAGE)
                )
            ).scalars()
            trades = tuple(TradeDTO.of(r) for r in rows)
            names = {
                b.id: BotDTO.of(b).name
                for b in (
                    await session.execute(select(BotInstance).where(BotInstance.user_id == user_id))
                ).scalars()
            }
        return TradesPage(trades, page, pages, bot_id, names)


def _unrealized(bot: BotDTO) -> Decimal:
    if bot.grid is not None and bot.grid.money is not None:
        return bot.grid.money.floating_pnl
    if bot.trend is not None:
        return bot.trend.unrealized_pnl
    return ZERO
