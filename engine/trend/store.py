"""The AI trend runtime's repository: a bot's positions as the runtime holds them (TrendBook), and one
transaction per change (position rows, trades row, stats, alerts). See engine.trend.runtime."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from db import queries as q
from db.base import from_ms
from db.models import BotInstance, Strategy, Trade, TrendBotState, TrendPositionRow, User
from db.session import Database
from engine.exchange import Market, Order, OrderRequest
from engine.markets import unified_symbol
from engine.money import ZERO, q8
from engine.trend.positions import (
    ClosedTrade,
    TrendIntent,
    TrendPosition,
    TrendSettings,
    TrendState,
    on_entry_filled,
    on_exit_filled,
    protective_order_ids,
    stop_of,
)
from engine.trend.strategies import StrategyDef, get_strategy

DEFAULT_STRATEGY = "ema_adx_baseline"  # a trend bot created without a strategy follows the baseline
ACTIVE = ("opening", "open", "closing")


@dataclass
class Slot:
    """One position of the bot (a trend_positions row); money in quote currency, ts in ms."""

    seq: int
    symbol: str
    side: str
    status: str
    qty: Decimal
    margin: Decimal
    leverage: int
    candle_ts: int
    reference_price: Decimal
    entry_order_id: str
    entry_price: Decimal | None = None
    entry_fee: Decimal | None = None
    entry_ts: int | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    liquidation: Decimal | None = None
    tp_order_id: str | None = None
    sl_order_id: str | None = None
    exit_order_id: str | None = None
    exit_reason: str | None = None
    exit_price: Decimal | None = None
    exit_fee: Decimal | None = None
    exit_ts: int | None = None
    pnl: Decimal | None = None

    @classmethod
    def opening(cls, book: TrendBook, intent: TrendIntent, candle_ts: int) -> Slot:
        return cls(
            seq=intent.seq,
            symbol=book.symbol,
            side=intent.position_side,
            status="opening",
            qty=intent.qty,
            margin=intent.margin,
            leverage=book.settings.leverage,
            candle_ts=candle_ts,
            reference_price=intent.reference_price,
            entry_order_id=intent.client_order_id,
        )

    @property
    def closing_side(self) -> str:
        return "sell" if self.side == "long" else "buy"

    def intent(self) -> TrendIntent:
        return TrendIntent(
            action="open",
            side="buy" if self.side == "long" else "sell",  # type: ignore[arg-type]
            position_side=self.side,  # type: ignore[arg-type]
            seq=self.seq,
            qty=self.qty,
            reference_price=self.reference_price,
            client_order_id=self.entry_order_id,
            reason="signal",
            margin=self.margin,
        )

    def position(self) -> TrendPosition:
        assert self.entry_price is not None and self.entry_ts is not None
        return TrendPosition(
            self.seq, self.side, self.qty, self.entry_price, self.entry_fee or ZERO,  # type: ignore[arg-type]
            self.entry_ts, self.margin, self.leverage, self.stop_loss, self.take_profit, self.liquidation,
        )  # fmt: skip

    def entry_request(self, book: TrendBook) -> OrderRequest:
        return self.intent().order_request(self.symbol, book.settings.market_type)

    def exit_request(self, book: TrendBook) -> OrderRequest:
        assert self.exit_order_id is not None
        return OrderRequest(
            self.symbol, self.closing_side, "market", self.qty, self.entry_price, self.exit_order_id,  # type: ignore[arg-type]
            reduce_only=book.settings.market_type == "swap",
        )  # fmt: skip

    def wants_stop_order(self, book: TrendBook) -> bool:
        """Whether the stop loss rests on the exchange as a reduce-only stop-market order: on
        perpetuals, when the stop loss comes before liquidation (else the runtime watches liquidation)."""
        if book.settings.market_type != "swap" or self.stop_loss is None or self.entry_price is None:
            return False
        stop = stop_of(self.position())
        return stop is not None and stop[1] == "sl"

    def sl_request(self, book: TrendBook) -> OrderRequest:
        assert self.sl_order_id is not None and self.stop_loss is not None
        return OrderRequest(
            self.symbol, self.closing_side, "market", self.qty, self.stop_loss, self.sl_order_id,  # type: ignore[arg-type]
            reduce_only=True, trigger_price=self.stop_loss,
        )  # fmt: skip

    def tp_request(self, book: TrendBook) -> OrderRequest:
        assert self.tp_order_id is not None and self.take_profit is not None
        return OrderRequest(
            self.symbol, self.closing_side, "limit", self.qty, self.take_profit, self.tp_order_id,  # type: ignore[arg-type]
            reduce_only=book.settings.market_type == "swap",
        )  # fmt: skip


@dataclass
class TrendChanges:
    """What one step changed: slots by seq, trades rows, alerts, whether the bot state row changed."""

    touched: set[int] = field(default_factory=set)
    trades: list[Trade] = field(default_factory=list)
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    state: bool = False
    last_fill_ts: int | None = None
    error: str | None = None

    def __bool__(self) -> bool:
        return bool(self.touched or self.trades or self.alerts or self.state)


@dataclass
class TrendBook:
    """A trend bot as the runtime holds it between ticks."""

    bot_id: int
    user_id: int
    chat_id: int
    name: str
    symbol: str  # what it trades: "BTC/USDT:USDT" (or "BTC/USDT" on spot)
    candle_symbol: str  # whose candles it reads: "BTC/USDT"
    strategy: StrategyDef
    strategy_id: int | None
    settings: TrendSettings
    allocation_percent: Decimal
    running: bool
    close_on_stop: bool
    last_candle_ts: int | None
    slots: dict[int, Slot]
    next_seq: int
    total_trades: int
    winning_trades: int
    total_pnl: Decimal
    namespace: str  # the installation's (engine.client_ids)
    venue: str  # what the bot trades on: paper, live or demo (its binding)
    venue_account: str | None
    market: Market | None = None
    closed_trades: list[ClosedTrade] = field(default_factory=list)

    def active(self) -> list[Slot]:
        return sorted((s for s in self.slots.values() if s.status in ACTIVE), key=lambda s: s.seq)

    def holding(self) -> bool:
        return any(s.status in ("open", "closing") for s in self.slots.values())

    def state(self) -> TrendState:
        """engine.trend.positions' view: the open positions (not those closing) and the next number."""
        positions = tuple(s.position() for s in self.active() if s.status == "open")
        return TrendState(positions, max([self.next_seq, *(s + 1 for s in self.slots)]))

    def protective_ids(self, seq: int) -> tuple[str, str]:
        return protective_order_ids(self.bot_id, seq, namespace=self.namespace)

    def apply_entry(self, slot: Slot, order: Order, changes: TrendChanges) -> None:
        """The entry filled (all of it, or the part an order gone after a partial fill filled): the
        position holds what the account received."""
        assert self.market is not None
        price = order.avg_fill_price or order.price or slot.reference_price
        _, position = on_entry_filled(
            TrendState(), slot.intent(), price, order.received_qty, order.fee, order.ts or 0,
            self.settings, self.market.price_tick,
        )  # fmt: skip
        slot.status, slot.qty, slot.margin = "open", position.qty, position.margin
        slot.entry_price, slot.entry_fee, slot.entry_ts = position.entry_price, position.entry_fee, order.ts
        slot.stop_loss, slot.take_profit, slot.liquidation = (
            position.stop_loss, position.take_profit, position.liquidation,
        )  # fmt: skip
        tp_id, sl_id = self.protective_ids(slot.seq)
        if position.take_profit is not None:
            slot.tp_order_id = tp_id
        if slot.wants_stop_order(self):
            slot.sl_order_id = sl_id
        changes.touched.add(slot.seq)
        changes.trades.append(self._trade(order, price, "ai_bot", None))
        changes.last_fill_ts = order.ts
        payload = self._payload(slot, price, order.filled_qty)
        payload.update(
            leverage=slot.leverage,
            margin=str(slot.margin),
            stop_loss=_text(slot.stop_loss),
            take_profit=_text(slot.take_profit),
            liquidation=_text(slot.liquidation),
        )
        changes.alerts.append(("trend_entry", payload))

    def apply_exit(self, slot: Slot, order: Order, reason: str, changes: TrendChanges) -> bool:
        """An exit order of the position is done: book the quantity that really filled (an order that
        filled nothing books nothing). Closing all of it closes the position (True); a part leaves the
        position open with the rest, its entry fee and margin shrunk in proportion."""
        filled = min(order.filled_qty, slot.qty)
        if filled <= 0:
            return False
        price = order.avg_fill_price or order.price
        assert price is not None
        position = slot.position()
        whole = filled >= slot.qty
        margin_closed = slot.margin if whole else q8(slot.margin * filled / slot.qty)
        entry_price, entry_ts = slot.entry_price, slot.entry_ts
        if not whole:
            fee_part = q8(position.entry_fee * filled / position.qty)
            position = replace(position, qty=filled, entry_fee=fee_part)
        state = TrendState((position,), slot.seq + 1)
        _, trade = on_exit_filled(state, slot.seq, price, order.fee, order.ts or 0, reason)
        self.total_pnl += trade.pnl
        slot.pnl = (slot.pnl or ZERO) + trade.pnl
        slot.exit_fee = (slot.exit_fee or ZERO) + trade.exit_fee
        slot.exit_price, slot.exit_ts = price, order.ts
        if whole:
            slot.status, slot.exit_reason = "closed", reason
            slot.exit_order_id = order.client_order_id
            self.total_trades += 1
            self.winning_trades += slot.pnl > 0
        else:
            slot.margin = q8(slot.margin * (slot.qty - filled) / slot.qty)
            slot.entry_fee = (slot.entry_fee or ZERO) - position.entry_fee
            slot.qty -= filled
        self.closed_trades.append(trade)
        changes.touched.add(slot.seq)
        source = "manual" if reason == "manual" else "ai_bot"
        changes.trades.append(self._trade(order, price, source, trade.pnl, qty=filled))
        changes.last_fill_ts = order.ts
        payload = self._payload(slot, price, filled)
        payload.update(
            reason=reason,
            pnl=str(trade.pnl),
            closed=whole,
            entry=_text(entry_price),
            pnl_percent=str(q8(trade.pnl / margin_closed * 100)) if margin_closed else None,
            held_seconds=(order.ts - entry_ts) // 1000 if order.ts and entry_ts else None,
        )
        changes.alerts.append(("trend_exit", payload))
        return whole

    def _trade(
        self, order: Order, price: Decimal, source: str, pnl: Decimal | None, *, qty: Decimal | None = None
    ) -> Trade:
        assert self.market is not None
        return Trade(
            user_id=self.user_id,
            bot_instance_id=self.bot_id,
            trade_source=source,
            symbol=self.symbol.replace("/", ""),
            side=order.side,
            order_type=order.type,
            qty=order.filled_qty if qty is None else qty,
            price=price,
            fee=order.fee,
            fee_currency=self.market.base if order.fee_base else self.market.quote,
            fee_base=order.fee_base or None,
            realized_pnl=pnl,
            exchange_order_id=order.id,
            client_order_id=order.client_order_id,
            executed_at=from_ms(order.ts),
        )

    def _payload(self, slot: Slot, price: Decimal, qty: Decimal) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id, "name": self.name, "symbol": self.symbol, "seq": slot.seq,
            "side": slot.side, "qty": str(qty), "price": str(price),
        }  # fmt: skip


_SLOT_FIELDS = [f.name for f in fields(Slot)]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class TrendStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.namespace: str | None = None  # the installation's, read once

    async def load(self, bot_id: int, *, require_running: bool = True) -> TrendBook | None:
        """A (running) trend bot with its active positions, or None."""
        async with self.db.read() as session:
            bot = await session.get(BotInstance, bot_id)
            if bot is None or bot.bot_type != "ai_trend" or not bot.is_active:
                return None
            if require_running and not bot.is_running:
                return None
            user = await session.get(User, bot.user_id)
            assert user is not None
            row = await session.get(Strategy, bot.strategy_id) if bot.strategy_id is not None else None
            strategy = StrategyDef.from_row(_row_dict(row)) if row else get_strategy(DEFAULT_STRATEGY)
            market_type = "spot" if strategy.params.get("market_type") == "spot" else "swap"
            spot = unified_symbol(bot.symbol)
            settings = TrendSettings.for_bot(
                strategy.risk.leverage,
                strategy.risk.entry_percent,
                max_leverage=bot.max_leverage,
                max_positions=bot.max_positions,
                stop_loss_percent=bot.stop_loss_percent,
                take_profit_percent=bot.take_profit_percent,
                market_type=market_type,  # type: ignore[arg-type]
            )
            state = await session.get(TrendBotState, bot_id)
            rows = (
                await session.execute(
                    select(TrendPositionRow).where(
                        TrendPositionRow.bot_instance_id == bot_id, TrendPositionRow.status.in_(ACTIVE)
                    )
                )
            ).scalars()
            slots = {r.seq: Slot(**{k: getattr(r, k) for k in _SLOT_FIELDS}) for r in rows}
            top = (
                await session.execute(
                    select(func.max(TrendPositionRow.seq)).where(TrendPositionRow.bot_instance_id == bot_id)
                )
            ).scalar_one()
            if self.namespace is None:
                self.namespace = await q.installation_id(session)
            return TrendBook(
                bot_id=bot.id,
                user_id=bot.user_id,
                chat_id=user.chat_id,
                name=bot.name.split("\x1f", 1)[0],
                symbol=spot if market_type == "spot" else f"{spot}:{spot.split('/')[1]}",
                candle_symbol=spot,
                strategy=strategy,
                strategy_id=row.id if row else None,
                settings=settings,
                allocation_percent=bot.allocation_percent,
                running=bool(bot.is_running),
                close_on_stop=bool(state.close_on_stop) if state else False,
                last_candle_ts=state.last_candle_ts if state else None,
                slots=slots,
                next_seq=(top or 0) + 1,
                total_trades=bot.total_trades or 0,
                winning_trades=bot.winning_trades or 0,
                total_pnl=bot.total_pnl or ZERO,
                namespace=self.namespace,
                venue=bot.venue or "paper",
                venue_account=bot.venue_account,
            )

    async def save(self, book: TrendBook, changes: TrendChanges) -> None:
        """One transaction: the touched positions, the bot's state and stats, trades and alerts."""
        async with self.db.write() as session:
            bot = await session.get(BotInstance, book.bot_id)
            assert bot is not None
            if changes.state:
                state = await session.get(TrendBotState, book.bot_id)
                if state is None:
                    state = TrendBotState(bot_instance_id=book.bot_id, close_on_stop=book.close_on_stop)
                    session.add(state)
                state.last_candle_ts = book.last_candle_ts
            if changes.touched:
                rows = {
                    r.seq: r
                    for r in (
                        await session.execute(
                            select(TrendPositionRow).where(
                                TrendPositionRow.bot_instance_id == book.bot_id,
                                TrendPositionRow.seq.in_(changes.touched),
                            )
                        )
                    ).scalars()
                }
                for seq in changes.touched:
                    slot = book.slots[seq]
                    row = rows.get(seq)
                    if row is None:
                        row = TrendPositionRow(bot_instance_id=book.bot_id)
                        session.add(row)
                    for name in _SLOT_FIELDS:
                        setattr(row, name, getattr(slot, name))
            await q.record_bot_activity(
                session,
                bot,
                user_id=book.user_id,
                chat_id=book.chat_id,
                total_trades=book.total_trades,
                winning_trades=book.winning_trades,
                total_pnl=book.total_pnl,
                last_fill_ts=changes.last_fill_ts,
                trades=changes.trades,
                alerts=changes.alerts,
            )
            await session.flush()


def _row_dict(row: Strategy) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "timeframe": row.timeframe,
        "params": dict(row.params or {}),
        "description": row.description,
        "is_builtin": row.is_builtin,
    }
