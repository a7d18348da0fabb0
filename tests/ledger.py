"""An audit of DESIGN.md's invariant 7 for one account: every open order on the venue belongs to exactly
one bot that tracks it (or is none of ours), every coin and position a bot bought is in its ledger, and
the venue's balances are the untouched funds plus the bots' ledgers.

The ledgers are what the engine wrote: trades rows (qty, price, the fee's value in quote, the part of
it taken from the coin bought), coin handed back to the user (bot_handbacks), and the bots' books (grid
rows and dust, trend positions). The venue's side is what it reports through the `Exchange` interface.
Returns the violations found (an empty list: the invariant holds).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select

from db import queries as q
from db.models import BotHandback, BotInstance, GridBotConfig, GridOrder, Trade, TrendPositionRow
from db.session import Database
from engine.exchange import Exchange
from engine.grid.intervals import close_order_id

ZERO = Decimal(0)
ROUNDING = Decimal("0.00000002")  # per booked fill: two amounts rounded to 8 decimals


def _base(symbol: str) -> str:
    return symbol[:-4] if symbol.endswith("USDT") else symbol


async def audit(
    db: Database,
    exchange: Exchange,
    user_id: int,
    *,
    start: dict[str, Decimal],
    spot_symbols: tuple[str, ...] = ("BTC/USDT",),
    perp_symbols: tuple[str, ...] = (),
) -> list[str]:
    """Violations of invariant 7 on `user_id`'s account (`start`: its balances before any bot traded)."""
    problems: list[str] = []
    async with db.read() as session:
        bots = {
            b.id: b
            for b in (
                await session.execute(select(BotInstance).where(BotInstance.user_id == user_id))
            ).scalars()
        }
        trades = list((await session.execute(select(Trade).where(Trade.user_id == user_id))).scalars())
        handbacks = list(
            (await session.execute(select(BotHandback).where(BotHandback.user_id == user_id))).scalars()
        )
        grids = {
            c.bot_instance_id: c
            for c in (
                await session.execute(select(GridBotConfig).where(GridBotConfig.bot_instance_id.in_(bots)))
            ).scalars()
        }
        rows: dict[int, list[GridOrder]] = defaultdict(list)
        for row in (
            await session.execute(
                select(GridOrder).where(GridOrder.grid_config_id.in_([c.id for c in grids.values()]))
            )
        ).scalars():
            rows[row.grid_config_id].append(row)
        positions = list(
            (
                await session.execute(
                    select(TrendPositionRow).where(TrendPositionRow.bot_instance_id.in_(bots))
                )
            ).scalars()
        )

    # --- coins and quote: the venue's totals against the untouched funds and the ledgers
    spot_trades = [t for t in trades if not _is_perp(t)]
    coin: dict[str, Decimal] = defaultdict(lambda: ZERO)
    quote = start.get("USDT", ZERO)
    booked: dict[int | None, Decimal] = defaultdict(lambda: ZERO)  # per bot: coin its trades left it
    for t in spot_trades:
        asset = _base(t.symbol)
        fee_base = t.fee_base or ZERO
        if t.side == "buy":
            coin[asset] += t.qty - fee_base
            booked[t.bot_instance_id] += t.qty - fee_base
            quote -= t.qty * t.price + (ZERO if fee_base else t.fee)
        else:
            coin[asset] -= t.qty
            booked[t.bot_instance_id] -= t.qty
            quote += t.qty * t.price - t.fee
    for h in handbacks:
        booked[h.bot_instance_id] -= h.qty

    # orders a bot's journal names whose fills the venue reports but the bot has not booked yet (a fill
    # happens on the exchange first; the bot's next reconcile books it): tracked, so counted as its own
    named = _named(grids, rows, positions)
    async with db.read() as session:
        namespace = await q.installation_id(session)
    for bot_id in grids:  # a grid's closing sale: its deterministic id is its journal
        named[close_order_id(namespace, bot_id, bots[bot_id].total_trades or 0)].append(bot_id)
    traded = {t.client_order_id for t in trades}
    pending = 0
    for cid, owners in named.items():
        if cid in traded:
            continue
        symbol = next(
            (p.symbol.replace("USDTUSDT", "USDT") for p in positions if p.bot_instance_id in owners), None
        )
        for market in [symbol] if symbol and ":" in symbol else spot_symbols:
            order = await exchange.fetch_order_by_client_id(cid, market)
            if order is None or not order.filled_qty:
                continue
            pending += 1
            price = order.avg_fill_price or order.price or ZERO
            if ":" in market:
                continue  # a perpetual's fill moves the position (checked below), not the coins
            # (in neither the bot's book nor its trades yet: the per-bot check below compares those two)
            if order.side == "buy":
                coin[market.split("/")[0]] += order.received_qty
                quote -= order.filled_qty * price + (ZERO if order.fee_base else order.fee)
            else:
                coin[market.split("/")[0]] -= order.filled_qty
                quote += order.filled_qty * price - order.fee
            break
    slack = ROUNDING * (len(trades) + pending + 1)
    for t in trades:
        if _is_perp(t):  # an exit's pnl is net of both fees; an open position's entry fee is paid
            quote += t.realized_pnl or ZERO
    for p in positions:
        if p.status in ("open", "closing") and p.entry_fee:
            quote -= p.entry_fee  # paid at entry, booked in the pnl at the exit
    balance = await exchange.fetch_balance()
    for symbol in spot_symbols:
        asset = symbol.split("/")[0]
        venue = balance.total(asset)
        want = start.get(asset, ZERO) + coin[asset]
        if abs(venue - want) > slack:
            problems.append(f"{asset}: the venue holds {venue}, untouched funds and ledgers make {want}")
    if abs(balance.total("USDT") - quote) > slack:
        problems.append(
            f"USDT: the venue holds {balance.total('USDT')}, untouched funds and ledgers make {quote}"
        )

    # --- each bot holds what its trades left it (intervals and dust, less what it handed back)
    for bot_id, config in grids.items():
        held = config.dust_qty + sum(
            (r.held_qty or ZERO for r in rows[config.id] if r.status in ("buy_filled", "sell_placed")), ZERO
        )
        if abs(held - booked[bot_id]) > slack:
            problems.append(f"grid {bot_id}: its book holds {held}, its trades left it {booked[bot_id]}")

    # --- every open order of the venue is one a bot tracks, and only one bot
    for symbol in (*spot_symbols, *perp_symbols):
        for order in await exchange.fetch_open_orders(symbol):
            owners = set(named.get(order.client_order_id or "", []))
            if len(owners) != 1:
                problems.append(
                    f"open order {order.client_order_id} on {symbol} belongs to {sorted(owners) or 'no bot'}"
                )

    # --- every position on the venue is the bots' open positions on it
    venue_positions = {(p.symbol, p.side): p.qty for p in await exchange.fetch_positions()}
    ledger: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for p in positions:
        if p.status in ("open", "closing"):
            ledger[(p.symbol, p.side)] += p.qty
    for key in set(venue_positions) | {k for k, v in ledger.items() if v}:
        if abs(venue_positions.get(key, ZERO) - ledger[key]) > slack:
            problems.append(
                f"position {key}: the venue has {venue_positions.get(key, ZERO)}, the bots {ledger[key]}"
            )
    return problems


def _named(
    grids: dict[int, GridBotConfig], rows: dict[int, list[GridOrder]], positions: list[TrendPositionRow]
) -> dict[str, list[int]]:
    """Every client order id a bot's journal names as out (or about to be), with the bots naming it."""
    named: dict[str, list[int]] = defaultdict(list)
    for bot_id, config in grids.items():
        for r in rows[config.id]:
            if r.status == "buy_placed" and r.buy_order_id and bot_id not in named[r.buy_order_id]:
                named[r.buy_order_id].append(bot_id)
            if r.status == "sell_placed" and r.sell_order_id:
                named[r.sell_order_id].append(bot_id)
    for p in positions:
        if p.status in ("opening", "open", "closing"):
            for cid in {p.entry_order_id if p.status == "opening" else None, p.tp_order_id, p.sl_order_id,
                        p.exit_order_id if p.status == "closing" else None} - {None}:  # fmt: skip
                named[cid].append(p.bot_instance_id)
    return named


def _is_perp(trade: Trade) -> bool:
    """A trade of a USDT-M perpetual ('BTCUSDT:USDT'); the others are spot."""
    return ":" in trade.symbol
