"""Grid backtest on candles, following DESIGN.md's "Fill rules of the paper exchange on candles".

The rules are a contract checked fill by fill by an independent implementation,
so they are implemented literally:

1. Lines k = 0..N from :func:`engine.grid.lines.grid_lines`, rounded to the price tick.
2. Quantity of interval i = per_grid_amount / line i, rounded down to the lot step
   (per_grid_amount = investment / N with 8 decimals, rounded down), for every
   interval, also those bought at market at the start.
3. Start at the first candle's open P (or at the trigger, below): every interval
   whose buy line is below P gets its buy limit; the intervals whose buy line is
   at or above P are bought at P in one market order (taker fee) and get their
   sells at line i+1.
4. Each candle is walked open -> low -> high -> close when close >= open, else
   open -> high -> low -> close. Going down, every resting buy at or above the
   price reached fills at its own line, highest first; going up, every resting
   sell at or below it fills at its own line, lowest first (maker fee).
5. A fill's counter-order rests at once: a sell filled places the buy at line i
   again, a buy filled places the sell at line i+1, and both can fill later in
   the same candle's walk.
6. fee = price x qty x rate; profit of a cycle = qty (sell - buy) - buy fee -
   sell fee; fees, profits and equities are recorded with 8 decimals
   (ROUND_HALF_EVEN).
7. Final equity = cash + held base x last close; cash starts at the investment,
   each buy subtracts cost and fee, each sell adds proceeds minus fee.
8. Option ``buy_fee_in_base`` (off by default; Bitget spot works this way): a buy's
   fee is charged in the coin bought, fee_base = qty x rate (8 decimals), so the
   interval holds qty - fee_base; its sell is for that rounded down to the lot step
   (the rest stays as dust in the holdings at its buy price); the buy's fee in quote
   = fee_base x buy price (8 decimals). The market buys at the start work the same
   way. Profit of a cycle = sold qty x (sell - buy) - buy fee in quote - sell fee.
   The next buy of the interval is again for the interval's quantity (rule 2).

Decisions where the rules are silent:

* Only the segments inside a candle fill orders (open->a, a->b, b->close, each
  "down" or "up" by its place in the path, even when it has zero length). The
  jump from one candle's close to the next candle's open fills nothing; orders
  it jumped over fill on the next segment of the right direction. (When a
  candle opens at the previous close nothing rests at or across the open, so
  every reading of rule 4 gives the same fills; this only matters on jumps.)
* Trigger: the price path is taken as continuous, the jumps between candles
  included. The grid starts at the first point where the path touches the
  trigger price (touching is enough; a first open equal to it counts), with
  P = trigger price. The rest of the segment it was touched on continues from P
  with that segment's direction; if it was touched on the jump into a candle,
  that candle is walked from its open. The initial market fills carry the
  timestamp of the candle in which the start happened.
* Stops are armed once the grid has started. They are checked at every point
  of the path, each candle's open included. On a segment that reaches
  stop_upper, the sells at or below stop_upper fill first (a limit on the book
  fills before the bot sees the price), then every order is cancelled and the
  bot stops; likewise for stop_lower going down. If the start price P is
  already at or beyond a stop, the bot stops at once without trading. Holdings
  are kept and valued along the walk afterwards.
* The one market order at the start is recorded as one fill per interval, in
  ascending interval order, each with its own fee (price x qty x taker rate,
  8 decimals).
* Fees are not reserved out of the investment; when every interval is bought
  the cash can dip below zero by at most the fees paid.
* Cost and proceeds (price x qty) are kept exact; fees, cycle profits, final
  equity, cash and the equity curve are recorded with 8 decimals.
* max_drawdown: equity is marked at the start (= investment), after every fill
  (held base valued at the fill price) and at every point of every candle's walk
  (open, low, high, close in the walk's order, with the holdings of that moment),
  so the lows a long book sits through count, not only the fills and closes
  (engine.grid.ledger). Floats pick the peak/trough pair; that pair is then
  recomputed in Decimal ((peak - trough) / peak, 8 decimals).
* time_in_market: the fraction of the candles in which the bot held coin at some
  point of the walk (8 decimals).
* buy_and_hold: the whole investment buys base at the first candle's open with
  the taker fee included (qty = investment / (open x (1 + taker rate)), no lot
  rounding), valued at the last close, 8 decimals; its drawdown is marked at the
  same points of the walk.

The walk (engine.grid.walker) finds which lines fill when with floats, when
every price and line has at most 15 significant digits (then float order equals
Decimal order), otherwise with Decimals; the ledger (engine.grid.ledger) computes
every amount in Decimal. Candles come in chunks, so a file of millions of
candles is walked with the memory of one chunk (engine.market_data.candle_cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from engine.grid.ledger import GridFill, GridFillFeeInBase, Ledger
from engine.grid.lines import check_grid_investment, grid_lines, interval_quantities, per_grid_amount
from engine.grid.walker import Walker
from engine.market_data.candles import CandleChunks, Candles

__all__ = ["GridBacktestResult", "GridFill", "GridFillFeeInBase", "run_grid_backtest"]

_FLOAT_EXACT_DIGITS = 15
CHUNK_ROWS = 1 << 16  # candles walked at a time


@dataclass(frozen=True)
class GridBacktestResult:
    """Outcome of :func:`run_grid_backtest` (money in quote currency, Decimal).

    ``max_drawdown`` is a fraction 0..1 of the peak equity, ``time_in_market`` a
    fraction 0..1 of the candles. ``equity_curve`` is a sample of (candle ts in ms,
    equity at its close) for charts. ``started_ts`` is None when the trigger was
    never reached; ``stop_reason`` is "stop_upper" / "stop_lower" when a stop ended
    the grid at ``stopped_ts``. With ``buy_fee_in_base`` the fills are
    :class:`GridFillFeeInBase`.
    """

    cycles: int
    realized_profit: Decimal
    fees: Decimal
    final_equity: Decimal
    max_drawdown: Decimal
    buy_and_hold: Decimal
    fills: list[GridFill]
    equity_curve: list[tuple[int, Decimal]]
    lines: list[Decimal]
    quantities: list[Decimal]
    per_grid_amount: Decimal
    investment: Decimal
    final_cash: Decimal
    final_base: Decimal
    candles: int
    started_ts: int | None
    start_price: Decimal | None
    stopped_ts: int | None
    stop_reason: str | None
    time_in_market: Decimal = Decimal(0)
    buy_and_hold_drawdown: Decimal = Decimal(0)
    buy_fee_in_base: bool = False
    first_ts: int = 0
    last_ts: int = 0


def _dec(value: Decimal | int | str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError(f"{name} must be a Decimal, int or str, not float")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value}")
    return result


def _float_exact(value: Decimal) -> bool:
    return len(value.as_tuple().digits) <= _FLOAT_EXACT_DIGITS


def run_grid_backtest(
    candles: Candles | CandleChunks,
    lower: Decimal,
    upper: Decimal,
    grids: int,
    mode: str,
    investment: Decimal,
    maker_fee_rate: Decimal = Decimal("0.0002"),
    taker_fee_rate: Decimal = Decimal("0.0006"),
    price_tick: Decimal | None = Decimal("0.01"),
    amount_step: Decimal = Decimal("0.000001"),
    trigger: Decimal | None = None,
    stop_upper: Decimal | None = None,
    stop_lower: Decimal | None = None,
    buy_fee_in_base: bool = False,
) -> GridBacktestResult:
    """Backtest a spot grid bot on ``candles`` (see the module docstring for the rules).

    ``candles`` is a :class:`Candles` or anything that yields them in chunks (a
    cached candle file). ``lower``/``upper``/``trigger``/``stops`` are prices,
    ``investment`` is quote currency, fee rates are fractions (0.0002 = 0.02 %),
    ``price_tick`` and ``amount_step`` are the market's tick and lot sizes;
    ``buy_fee_in_base`` is rule 8. Raises ``ValueError`` for bad parameters and
    :class:`engine.grid.lines.GridTooSmall` when an interval's quantity would
    round down to zero.
    """
    with localcontext() as ctx:  # exact sums whatever the caller's context is
        ctx.prec = 50
        ctx.rounding = ROUND_HALF_EVEN
        return _run(
            candles, lower, upper, grids, mode, investment, maker_fee_rate, taker_fee_rate,
            price_tick, amount_step, trigger, stop_upper, stop_lower, buy_fee_in_base,
        )  # fmt: skip


def _run(
    candles: Candles | CandleChunks,
    lower: Decimal,
    upper: Decimal,
    grids: int,
    mode: str,
    investment: Decimal,
    maker_fee_rate: Decimal,
    taker_fee_rate: Decimal,
    price_tick: Decimal | None,
    amount_step: Decimal,
    trigger: Decimal | None,
    stop_upper: Decimal | None,
    stop_lower: Decimal | None,
    buy_fee_in_base: bool,
) -> GridBacktestResult:
    lower_d, upper_d = _dec(lower, "lower"), _dec(upper, "upper")
    investment_d = _dec(investment, "investment")
    maker = _dec(maker_fee_rate, "maker fee rate")
    taker = _dec(taker_fee_rate, "taker fee rate")
    step = _dec(amount_step, "amount step")
    tick = _dec(price_tick, "price tick")
    trigger_d = _dec(trigger, "trigger")
    stop_up_d, stop_lo_d = _dec(stop_upper, "stop_upper"), _dec(stop_lower, "stop_lower")
    assert lower_d is not None and upper_d is not None and investment_d is not None
    assert maker is not None and taker is not None and step is not None
    if investment_d <= 0:
        raise ValueError(f"investment must be > 0, got {investment_d}")
    if maker < 0 or taker < 0:
        raise ValueError("fee rates must be >= 0")
    if step <= 0:
        raise ValueError(f"amount step must be > 0, got {step}")
    for name, price in (("trigger", trigger_d), ("stop_upper", stop_up_d), ("stop_lower", stop_lo_d)):
        if price is not None and price <= 0:
            raise ValueError(f"{name} must be > 0, got {price}")
    n = candles.rows
    if n == 0:
        raise ValueError("no candles")

    lines = grid_lines(lower_d, upper_d, grids, mode, tick)
    per_grid = per_grid_amount(investment_d, grids)
    qtys = interval_quantities(lines, per_grid, step)
    check_grid_investment(investment_d, lines, grids, step)

    exact = candles.float_exact and all(
        _float_exact(x) for x in [*lines, *(p for p in (trigger_d, stop_up_d, stop_lo_d) if p is not None)]
    )
    walker = Walker(lines, exact, trigger_d, stop_up_d, stop_lo_d)
    ledger = Ledger(lines, qtys, investment_d, maker, taker, step, buy_fee_in_base, n)
    first_ts = last_ts = 0
    for offset, chunk in candles.chunks(CHUNK_ROWS):
        if offset == 0:
            first_ts = int(chunk.ts_a[0])
        walker.feed(offset, chunk)
        ledger.add(offset, chunk, walker)
        last_ts = int(chunk.ts_a[-1])
    totals = ledger.totals()
    stamp = ledger.stamp
    return GridBacktestResult(
        cycles=totals.cycles,
        realized_profit=totals.realized_profit,
        fees=totals.fees,
        final_equity=totals.final_equity,
        max_drawdown=totals.max_drawdown,
        buy_and_hold=totals.buy_and_hold,
        fills=totals.fills,
        equity_curve=totals.equity_curve,
        lines=lines,
        quantities=qtys,
        per_grid_amount=per_grid,
        investment=investment_d,
        final_cash=totals.final_cash,
        final_base=totals.final_base,
        candles=n,
        started_ts=stamp.get(walker.start_t),
        start_price=walker.start_price,
        stopped_ts=stamp.get(walker.stop_t),
        stop_reason=walker.stop_reason,
        time_in_market=totals.time_in_market,
        buy_and_hold_drawdown=totals.buy_and_hold_drawdown,
        buy_fee_in_base=buy_fee_in_base,
        first_ts=first_ts,
        last_ts=last_ts,
    )
