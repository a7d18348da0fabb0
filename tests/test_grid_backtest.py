"""Candle loading, the grid backtest (against a slow reference walk, fill by fill) and the CLI."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, localcontext
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.backtest_cli import main as cli_main
from engine.grid.backtest import GridFill, run_grid_backtest
from engine.grid.intervals import (
    Side,
    initial_placement,
    market_buy,
    new_interval,
    on_buy_filled,
    on_order_placed,
    on_sell_filled,
    place_buy,
)
from engine.grid.lines import GridTooSmall, grid_lines, interval_qty, per_grid_amount
from engine.market_data.candles import CandleFileError, Candles, load_candles, parse_candles, walk_points
from engine.money import fee_for, q8

DATA = Path(__file__).resolve().parents[1] / "engine" / "market_data" / "data"
BTC_1M = DATA / "btcusdt_1m_sample.csv.gz"
BTC_CRASH = DATA / "btcusdt_1m_2024-08-04_crash.csv.gz"
ETH_1H = DATA / "ethusdt_1h_2y.csv.gz"
HEADER = "timestamp,open,high,low,close,volume"


@pytest.fixture(scope="module")
def btc_1m() -> Candles:
    return load_candles(BTC_1M)


@pytest.fixture(scope="module")
def btc_crash() -> Candles:
    return load_candles(BTC_CRASH)


@pytest.fixture(scope="module")
def eth_1h() -> Candles:
    return load_candles(ETH_1H)


def candles_of(*rows: tuple) -> Candles:
    """Hand-made candles: (ts, open, high, low, close) rows, volume 1."""
    body = "\n".join(",".join(str(x) for x in (*row, 1)) for row in rows)
    return parse_candles(f"{HEADER}\n{body}\n", "<hand>")


# ------------------------------------------------------------------ the reference walk


@dataclass
class Reference:
    """The obviously-correct walk: Decimal only, an explicit order book, engine.grid.intervals' state machine.

    Equity is marked at the start, after every fill, and at every point of every candle's walk (open,
    then the end of each segment) with the holdings of that moment; the drawdown is the largest
    (peak - later mark) / peak over all of them, in Decimal. With ``buy_fee_in_base`` (rule 8) a buy's
    fee is taken in the coin and its sell is for what is left, rounded down to the lot step."""

    candles: Candles
    lower: D
    upper: D
    grids: int
    mode: str
    investment: D
    maker_fee_rate: D = D("0.0002")
    taker_fee_rate: D = D("0.0006")
    price_tick: D | None = D("0.01")
    amount_step: D = D("0.000001")
    trigger: D | None = None
    stop_upper: D | None = None
    stop_lower: D | None = None
    buy_fee_in_base: bool = False
    fills: list[tuple] = field(default_factory=list)
    marks: list[D] = field(default_factory=list)

    def run(self) -> Reference:
        self.lines = grid_lines(self.lower, self.upper, self.grids, self.mode, self.price_tick)
        per_grid = per_grid_amount(self.investment, self.grids)
        self.interval_qty = [
            interval_qty(per_grid, self.lines[i], self.amount_step) for i in range(self.grids)
        ]
        self.states = [new_interval(i, self.lines, self.interval_qty[i]) for i in range(self.grids)]
        self.book: dict[int, object] = {}  # interval -> its resting OrderIntent
        self.cash, self.base, self.fees, self.realized, self.cycles = self.investment, D(0), D(0), D(0), 0
        self.started = self.stopped = False
        self.stop_reason = None
        self.marks = [self.investment]
        self.held_candles = 0
        first_open = self.candles.price("open", 0)
        bh_qty = self.investment / (first_open * (1 + self.taker_fee_rate))
        bh_marks = [self.investment]
        previous_close = None
        for index in range(len(self.candles)):
            ts, o, h, lo, c = self.candles.candle(index)
            self.ts = ts
            self.held = self.base > 0
            points = [o, lo, h, c] if c >= o else [o, h, lo, c]
            directions = ["down", "up", "down"] if c >= o else ["up", "down", "up"]
            start_segment = None  # the segment in which the grid starts (-1: before the open)
            if not self.started and not self.stopped:
                if self.trigger is None:
                    start_segment = -1
                elif previous_close is not None and min(previous_close, o) <= self.trigger <= max(
                    previous_close, o
                ):
                    start_segment = -1  # touched on the jump into this candle
                else:
                    for seg in range(3):
                        a, b = points[seg], points[seg + 1]
                        if min(a, b) <= self.trigger <= max(a, b):
                            start_segment = seg
                            break
            walk_from = 0
            if start_segment == -1:
                self.start(o if self.trigger is None else self.trigger)
                if self.trigger is not None:
                    self.check_open(o)
            elif self.started and not self.stopped:
                self.check_open(o)
            self.mark(o)
            for seg in range(3):
                if start_segment == seg:
                    self.start(self.trigger)
                    walk_from = seg
                if self.started and not self.stopped and seg >= walk_from:
                    self.move(points[seg + 1], directions[seg])
                self.mark(points[seg + 1])
            self.held_candles += self.held
            bh_marks.extend(bh_qty * p for p in points)
            previous_close = c
        self.final_equity = q8(self.cash + self.base * self.candles.price("close", len(self.candles) - 1))
        self.max_drawdown = self.drawdown(self.marks)
        self.buy_and_hold_drawdown = self.drawdown(bh_marks)
        self.time_in_market = q8(D(self.held_candles) / len(self.candles))
        return self

    @staticmethod
    def drawdown(marks: list[D]) -> D:
        peak, worst = marks[0], D(0)
        with localcontext() as ctx:
            ctx.prec = 50
            for mark in marks:
                peak = max(peak, mark)
                worst = max(worst, (peak - mark) / peak)
        return q8(worst)

    def mark(self, price: D) -> None:
        self.marks.append(self.cash + self.base * price)

    def check_open(self, price: D) -> None:
        if self.stop_upper is not None and price >= self.stop_upper:
            self.stop("stop_upper")
        elif self.stop_lower is not None and price <= self.stop_lower:
            self.stop("stop_lower")

    def stop(self, reason: str) -> None:
        self.stopped, self.stop_reason = True, reason
        self.book.clear()

    def start(self, price: D) -> None:
        self.started = True
        self.check_open(price)
        if self.stopped:
            return
        buys, market = initial_placement(self.lines, price)
        for i in buys:
            state, intent = place_buy(self.states[i])
            self.states[i] = on_order_placed(state, intent)
            self.book[i] = intent
        for i in market:
            self.fill(market_buy(self.states[i]), price, self.taker_fee_rate)

    def fill(self, intent, price: D, rate: D) -> None:
        i = intent.interval
        if intent.side is Side.BUY:
            qty = self.interval_qty[i]  # rule 2: every buy is for the interval's quantity
            if self.buy_fee_in_base:  # rule 8
                fee_base = q8(qty * rate)
                fee = q8(fee_base * price)
                held = qty - fee_base
                for_sale = (held / self.amount_step).to_integral_value(
                    rounding=ROUND_FLOOR
                ) * self.amount_step
                state, counter = on_buy_filled(self.states[i], price, for_sale, fee, self.ts)
                self.cash -= price * qty
                self.base += held
                record = (self.ts, i, "buy", price, qty, fee, fee_base)
            else:
                fee = fee_for(price, qty, rate)
                state, counter = on_buy_filled(self.states[i], price, qty, fee, self.ts)
                self.cash -= price * qty + fee
                self.base += qty
                record = (self.ts, i, "buy", price, qty, fee)
        else:
            qty = intent.qty  # what the buy left for sale
            fee = fee_for(price, qty, rate)
            state, cycle, counter = on_sell_filled(self.states[i], price, qty, fee, self.ts)
            self.cash += price * qty - fee
            self.base -= qty
            self.realized += cycle.profit
            self.cycles += 1
            record = (self.ts, i, "sell", price, qty, fee) + ((D(0),) if self.buy_fee_in_base else ())
        self.states[i] = on_order_placed(state, counter)
        self.book[i] = counter
        self.fees += fee
        self.fills.append(record)
        self.held = self.held or self.base > 0
        self.mark(price)

    def move(self, price: D, direction: str) -> None:
        """Walk one segment to ``price``; fill what it reaches, re-scanning the book after every fill."""
        if direction == "down":
            hit_stop = self.stop_lower is not None and price <= self.stop_lower
            reach = self.stop_lower if hit_stop else price
            while True:
                ready = [o for o in self.book.values() if o.side is Side.BUY and o.price >= reach]
                if not ready:
                    break
                self.fill(max(ready, key=lambda o: o.price), max(o.price for o in ready), self.maker_fee_rate)
            if hit_stop:
                self.stop("stop_lower")
        else:
            hit_stop = self.stop_upper is not None and price >= self.stop_upper
            reach = self.stop_upper if hit_stop else price
            while True:
                ready = [o for o in self.book.values() if o.side is Side.SELL and o.price <= reach]
                if not ready:
                    break
                self.fill(min(ready, key=lambda o: o.price), min(o.price for o in ready), self.maker_fee_rate)
            if hit_stop:
                self.stop("stop_upper")


def as_tuples(fills: list[GridFill]) -> list[tuple]:
    return [tuple(f) for f in fills]


def assert_same_as_reference(candles: Candles, **params) -> None:
    result = run_grid_backtest(candles, **params)
    ref = Reference(candles, **params).run()
    fast = as_tuples(result.fills)
    for k, (a, b) in enumerate(zip(fast, ref.fills, strict=False)):
        assert a == b, f"fill {k} differs: fast {a} reference {b}"
    assert len(fast) == len(ref.fills)
    assert result.cycles == ref.cycles
    assert result.realized_profit == q8(ref.realized)
    assert result.fees == q8(ref.fees)
    assert result.final_equity == ref.final_equity
    assert result.max_drawdown == ref.max_drawdown
    assert result.buy_and_hold_drawdown == ref.buy_and_hold_drawdown
    assert result.time_in_market == ref.time_in_market
    assert result.stop_reason == ref.stop_reason
    assert result.final_base == ref.base


# --------------------------------------------------------------------- candles


def test_load_real_sample(btc_1m):
    assert len(btc_1m) == 4320
    # first row of binance_BTCUSDT_1m.csv.gz: 1747699200000,105573.73,105597.1,105554.31,105554.32,10.82647
    assert btc_1m.candle(0) == (1747699200000, D("105573.73"), D("105597.1"), D("105554.31"), D("105554.32"))
    assert btc_1m.timestamps[-1] - btc_1m.timestamps[0] == 4319 * 60_000
    assert btc_1m.float_exact
    assert btc_1m.high_a.shape == (4320,)


def test_plain_and_gzip_files_load_the_same(tmp_path, btc_1m):
    text = gzip.decompress(BTC_1M.read_bytes()).decode()
    plain = tmp_path / "btc.csv"
    plain.write_text(text)
    again = load_candles(plain)
    assert again.timestamps.tolist() == btc_1m.timestamps.tolist() and again.close_text == btc_1m.close_text


def test_walk_points():
    assert walk_points(10, 12, 9, 11) == (10, 9, 12, 11)  # rising: open, low, high, close
    assert walk_points(10, 12, 9, 10) == (10, 9, 12, 10)  # flat counts as rising
    assert walk_points(11, 12, 9, 10) == (11, 12, 9, 10)  # falling: open, high, low, close


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,open,high,low,close,volume\n1,1,1,1,1,1\n", "line 1: header must be exactly"),
        ("", "line 1: header"),
        (f"{HEADER}\n", "no candles"),
        (f"{HEADER}\n1,2,3,1,2,1\n2,2,3,1\n", "line 3: expected 6 columns, got 4"),
        (f"{HEADER}\n1,2,abc,1,2,1\n", "line 2: high is not a plain decimal number: 'abc'"),
        (f"{HEADER}\n1,2,3,1,2,1e3\n", "line 2: volume is not a plain decimal number"),
        (f"{HEADER}\n1.5,2,3,1,2,1\n", "line 2: timestamp is not an integer"),
        (f"{HEADER}\n1,2,3,1,2,1\n2,2,2.5,1,3,1\n", "line 3: high 2.5 is below max(open, close)"),
        (f"{HEADER}\n1,2,3,1,2,1\n2,2,3,2.5,3,1\n", "line 3: low 2.5 is above min(open, close)"),
        (f"{HEADER}\n1,2,3,0,2,1\n", "line 2: low must be > 0, got 0"),
        (f"{HEADER}\n1,-2,3,-3,2,1\n", "line 2: open must be > 0, got -2"),
        (f"{HEADER}\n1,2,3,1,2,-1\n", "line 2: volume must be >= 0"),
        (f"{HEADER}\n1,2,3,1,2,1\n3,2,3,1,2,1\n2,2,3,1,2,1\n", "line 4: timestamps not sorted"),
        (f"{HEADER}\n1,2,3,1,2,1\n1,2,3,1,2,1\n", "line 3: duplicate timestamp 1"),
        (f"{HEADER}\n1,2,3,1,2,1\n\n3,2,3,1,2,1\n", "line 3: expected 6 columns, got 1"),
    ],
)
def test_bad_candle_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CandleFileError) as info:
        load_candles(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(CandleFileError, match="no such file"):
        load_candles(tmp_path / "nope.csv.gz")
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(CandleFileError, match="gzip"):
        load_candles(broken)


def test_long_prices_are_checked_exactly():
    # 17 significant digits: as floats high and open would be equal; as decimals high < open
    with pytest.raises(CandleFileError, match=r"line 2: high 1\.0000000000000001 is below max"):
        parse_candles(f"{HEADER}\n1,1.0000000000000002,1.0000000000000001,1,1,1\n")
    candles = parse_candles(f"{HEADER}\n1,1.0000000000000002,1.0000000000000003,1,1,1\n")
    assert not candles.float_exact


def test_importing_the_engine_does_not_pull_matplotlib():
    code = "import sys, engine.grid.backtest, engine.charts.backtests, bot.backtest_cli; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_crlf_and_trailing_newline_are_accepted():
    candles = parse_candles(f"{HEADER}\r\n1,2,3,1,2,1\r\n2,2,3,1,2.5,0\r\n")
    assert candles.close_text == ["2", "2.5"]


# ------------------------------------------------------------- hand-calculated backtests

# lines 100, 101, 102, 103, 104 (4 grids); investment 400 -> 100 per grid; lot 0.001:
#   qty 0 = 100/100 = 1.000, qty 1 = 100/101 = 0.990, qty 2 = 100/102 = 0.980, qty 3 = 100/103 = 0.970
HAND = dict(
    lower=D(100),
    upper=D(104),
    grids=4,
    mode="arithmetic",
    investment=D(400),
    maker_fee_rate=D("0.0005"),
    taker_fee_rate=D("0.001"),
    price_tick=D("0.01"),
    amount_step=D("0.001"),
)


def test_hand_calculated_backtest():
    candles = candles_of(
        (0, "102.5", "103.2", "101.5", "103"),  # rising: 102.5 -> 101.5 -> 103.2 -> 103
        (60_000, "103", "104.5", "101.9", "102"),  # falling: 103 -> 104.5 -> 101.9 -> 102
    )
    result = run_grid_backtest(candles, **HAND)
    assert result.lines == [D("100.00"), D("101.00"), D("102.00"), D("103.00"), D("104.00")]
    assert result.quantities == [D("1.000"), D("0.990"), D("0.980"), D("0.970")]
    assert as_tuples(result.fills) == [
        # start at P = 102.5: intervals 0-2 get buys, interval 3 (buy line 103 >= P) is bought at market:
        # fee 102.5 x 0.97 x 0.001 = 0.099425
        (0, 3, "buy", D("102.5"), D("0.970"), D("0.09942500")),
        # down to 101.5: the buy at 102 fills (102 x 0.98 x 0.0005 = 0.04998), its sell rests at 103
        (0, 2, "buy", D("102.00"), D("0.980"), D("0.04998000")),
        # up to 103.2: that sell fills in the same candle (103 x 0.98 x 0.0005 = 0.05047)
        (0, 2, "sell", D("103.00"), D("0.980"), D("0.05047000")),
        # candle 2 up to 104.5: interval 3 sells at 104 (104 x 0.97 x 0.0005 = 0.05044)
        (60_000, 3, "sell", D("104.00"), D("0.970"), D("0.05044000")),
        # down to 101.9: the buys at 103 (placed again just now) and 102 fill, highest first
        (60_000, 3, "buy", D("103.00"), D("0.970"), D("0.04995500")),
        (60_000, 2, "buy", D("102.00"), D("0.980"), D("0.04998000")),
    ]
    # cycles: interval 2: 0.98 x (103 - 102) - 0.04998 - 0.05047 = 0.87955
    #         interval 3: 0.97 x (104 - 102.5) - 0.099425 - 0.05044 = 1.305135
    assert result.cycles == 2
    assert result.realized_profit == D("2.18468500")
    assert result.fees == D("0.35025000")  # 0.099425 + 0.04998 + 0.05047 + 0.05044 + 0.049955 + 0.04998
    # cash = 400 - 99.524425 - 100.00998 + 100.88953 + 100.82956 - 99.959955 - 100.00998 = 202.21475
    # held 0.97 + 0.98 = 1.95 at the last close 102 = 198.9
    assert result.final_cash == D("202.21475000")
    assert result.final_base == D("1.950")
    assert result.final_equity == D("401.11475000")
    # equity along the walk: 400 at the start; after the market buy (cash 300.475575, 0.97 held) 399.900575;
    # the buy at 102 (cash 200.465595, 1.95 held), then the candle's low 101.5: 200.465595 + 1.95 x 101.5
    # = 398.390595, the lowest point before any higher peak than the start's 400 (the later peak 402.184685,
    # after the sell at 104, only falls to 400.91975 at the second candle's low 101.9: 0.31 %)
    assert result.max_drawdown == q8((D(400) - D("398.390595")) / D(400))
    assert result.max_drawdown == D("0.00402351")  # 0.00266031 when only fills and closes were marked
    # buy and hold: 400 / (102.5 x 1.001) BTC at the last close 102
    assert result.buy_and_hold == q8(D(400) / (D("102.5") * D("1.001")) * 102)
    assert result.started_ts == 0 and result.start_price == D("102.5") and result.stop_reason is None
    assert result.equity_curve == [(0, D("401.26512500")), (60_000, D("401.11475000"))]
    assert_same_as_reference(candles, **HAND)


def test_hand_calculated_buy_fee_in_base():
    """Rule 8: the buy's fee is taken in the coin; the sell is for what is left, down to the lot step."""
    candles = candles_of(
        (0, "102.5", "103.2", "101.5", "103"),
        (60_000, "103", "104.5", "101.9", "102"),
    )
    params = dict(HAND, buy_fee_in_base=True)
    result = run_grid_backtest(candles, **params)
    assert as_tuples(result.fills) == [
        # market buy of interval 3 at 102.5: fee_base = 0.970 x 0.001 = 0.00097, so 0.96903 is held and the
        # sell will be for 0.969 (0.00003 dust); fee in quote 0.00097 x 102.5 = 0.099425
        (0, 3, "buy", D("102.5"), D("0.970"), D("0.09942500"), D("0.00097000")),
        # the limit buy at 102: fee_base 0.98 x 0.0005 = 0.00049 (0.97951 held, 0.979 for sale), 0.04998 in quote
        (0, 2, "buy", D("102.00"), D("0.980"), D("0.04998000"), D("0.00049000")),
        # its sell: 0.979 at 103, fee 103 x 0.979 x 0.0005 = 0.0504185
        (0, 2, "sell", D("103.00"), D("0.979"), D("0.05041850"), D(0)),
        # interval 3 sells the 0.969 left by the market buy: fee 104 x 0.969 x 0.0005 = 0.050388
        (60_000, 3, "sell", D("104.00"), D("0.969"), D("0.05038800"), D(0)),
        # the next buys are for the intervals' quantities again (rule 2): 0.970 x 0.0005 = 0.000485 coin
        (60_000, 3, "buy", D("103.00"), D("0.970"), D("0.04995500"), D("0.00048500")),
        (60_000, 2, "buy", D("102.00"), D("0.980"), D("0.04998000"), D("0.00049000")),
    ]
    # cycles: interval 2: 0.979 x (103 - 102) - 0.04998 - 0.0504185 = 0.8786015
    #         interval 3: 0.969 x (104 - 102.5) - 0.099425 - 0.050388 = 1.303687
    assert result.cycles == 2
    assert result.realized_profit == D("2.18228850")
    assert result.fees == D("0.35014650")  # 0.099425 + 0.04998 + 0.0504185 + 0.050388 + 0.049955 + 0.04998
    # cash pays only price x qty on buys: 400 - 99.425 - 99.96 + (100.837 - 0.0504185) + (100.776 - 0.050388)
    #   - 99.91 - 99.96 = 202.2571935
    assert result.final_cash == D("202.25719350")
    # held: 0.00003 + 0.00051 of dust, then 0.969515 + 0.97951 bought = 1.949565; at the last close 102
    assert result.final_base == D("1.949565")
    assert result.final_equity == D("401.11282350")  # 202.2571935 + 1.949565 x 102
    assert_same_as_reference(candles, **params)
    # off by default: the same candles give the fills of test_hand_calculated_backtest
    assert run_grid_backtest(candles, **HAND).fills[0] == (
        0,
        3,
        "buy",
        D("102.5"),
        D("0.970"),
        D("0.09942500"),
    )


def test_hand_calculated_trigger_inside_a_candle_and_stop_lower():
    params = dict(HAND, trigger=D("102.5"), stop_lower=D(99), stop_upper=D(106))
    candles = candles_of(
        (0, "105", "105.5", "104.6", "104.8"),  # never reaches 102.5
        (60_000, "104.8", "104.9", "101.5", "101.8"),  # 104.8 -> 104.9 -> 101.5 (touches 102.5) -> 101.8
        (120_000, "101.8", "102.2", "98.5", "99"),  # down to 98.5 passes stop_lower 99
        (180_000, "99", "103.5", "98.8", "103.4"),  # after the stop: nothing
    )
    result = run_grid_backtest(candles, **params)
    assert as_tuples(result.fills) == [
        # start at the trigger 102.5 on the way down: interval 3 (line 103 >= 102.5) bought at market
        (60_000, 3, "buy", D("102.5"), D("0.970"), D("0.09942500")),
        # the rest of that segment, down to 101.5: the buy at 102
        (60_000, 2, "buy", D("102.00"), D("0.980"), D("0.04998000")),
        # candle 3 down to 98.5: the buys at 101 and 100 fill (both >= stop 99), then the stop
        (120_000, 1, "buy", D("101.00"), D("0.990"), D("0.04999500")),  # 101 x 0.99 x 0.0005
        (120_000, 0, "buy", D("100.00"), D("1.000"), D("0.05000000")),
    ]
    assert (result.started_ts, result.start_price) == (60_000, D("102.5"))
    assert (result.stopped_ts, result.stop_reason) == (120_000, "stop_lower")
    assert result.cycles == 0 and result.realized_profit == 0
    assert result.fees == D("0.24940000")
    # cash = 400 - 99.524425 - 100.00998 - 100.039995 - 100.05 = 0.3756; base 3.94 at 103.4 = 407.396
    assert result.final_equity == D("407.77160000")
    assert_same_as_reference(candles, **params)


def test_hand_calculated_trigger_on_the_jump_and_stop_at_an_open():
    params = dict(HAND, trigger=D("102.35"), stop_upper=D(105))
    candles = candles_of(
        (0, "101.5", "102.3", "101.2", "102.3"),  # tops at 102.3 < 102.35
        (60_000, "102.6", "104.2", "102", "103.9"),  # the jump 102.3 -> 102.6 crosses 102.35
        (120_000, "105.2", "105.5", "104.9", "105"),  # opens above stop_upper 105
    )
    result = run_grid_backtest(candles, **params)
    assert as_tuples(result.fills) == [
        # P = 102.35: interval 3 bought at market (102.35 x 0.97 x 0.001 = 0.0992795)
        (60_000, 3, "buy", D("102.35"), D("0.970"), D("0.09927950")),
        # candle 2 walked from its open: down to 102 fills the buy at 102 ...
        (60_000, 2, "buy", D("102.00"), D("0.980"), D("0.04998000")),
        # ... up to 104.2 fills the sells at 103 then 104, lowest first
        (60_000, 2, "sell", D("103.00"), D("0.980"), D("0.05047000")),
        (60_000, 3, "sell", D("104.00"), D("0.970"), D("0.05044000")),
    ]
    # 0.87955 + (0.97 x (104 - 102.35) - 0.0992795 - 0.05044 = 1.4507805) = 2.3303305
    assert result.realized_profit == D("2.33033050")
    assert result.final_equity == D("402.33033050")  # nothing held: 400 + realized
    assert (result.stopped_ts, result.stop_reason) == (120_000, "stop_upper")
    assert_same_as_reference(candles, **params)


def test_price_outside_the_range_at_start():
    below = candles_of((0, "99", "99.5", "98", "99.2"))
    result = run_grid_backtest(below, **HAND)
    # everything bought at market at 99: qty 1.000 + 0.990 + 0.980 + 0.970 = 3.94
    assert [f.interval for f in result.fills] == [0, 1, 2, 3]
    assert {f.price for f in result.fills} == {D(99)}
    # above the range: only buys; 105 -> 102.9 fills the buy at 103, -> 105.5 its sell at 104
    above = candles_of((0, "105", "105.5", "102.9", "105.2"))
    result = run_grid_backtest(above, **HAND)
    assert as_tuples(result.fills) == [
        (0, 3, "buy", D("103.00"), D("0.970"), D("0.04995500")),
        (0, 3, "sell", D("104.00"), D("0.970"), D("0.05044000")),
    ]


def test_trigger_never_reached_and_stop_at_start():
    candles = candles_of((0, "102.5", "103.2", "101.5", "103"))
    never = run_grid_backtest(candles, **dict(HAND, trigger=D(90)))
    assert never.fills == [] and never.started_ts is None and never.final_equity == D("400.00000000")
    stopped = run_grid_backtest(candles, **dict(HAND, stop_upper=D("102.5")))
    assert stopped.fills == [] and stopped.stop_reason == "stop_upper" and stopped.final_equity == 400


def test_too_small_investment_is_refused():
    candles = candles_of((0, "102.5", "103.2", "101.5", "103"))
    with pytest.raises(GridTooSmall) as info:
        run_grid_backtest(candles, **dict(HAND, investment=D("0.3")))
    # one lot (0.001) at the highest buy line 103 costs 0.103; x 4 grids = 0.412 -> 0.42
    assert info.value.min_investment == D("0.42")


# --------------------------------------------------- fast path == reference on real data

BTC_RANGE = dict(lower=D(104000), upper=D(112000))


@pytest.mark.parametrize(
    "params",
    [
        dict(BTC_RANGE, grids=100, mode="arithmetic", investment=D(10000)),
        dict(BTC_RANGE, grids=60, mode="geometric", investment=D(10000)),
        # a narrow range the price leaves on both sides, 10 USD steps: lines meet candle prices exactly
        dict(lower=D(105500), upper=D(106500), grids=100, mode="arithmetic", investment=D(50000)),
        dict(
            lower=D(106000),
            upper=D(108000),
            grids=37,
            mode="geometric",
            investment=D(3000),
            trigger=D(107000),
        ),
        dict(BTC_RANGE, grids=80, mode="arithmetic", investment=D(8000), stop_lower=D(104500)),
        dict(
            lower=D(105000),
            upper=D(107000),
            grids=50,
            mode="geometric",
            investment=D(5000),
            trigger=D("104900"),
            stop_upper=D(108500),
            stop_lower=D(104000),
        ),
        # integer tick and a coarse lot: more ties between lines and prices
        dict(
            BTC_RANGE,
            grids=100,
            mode="arithmetic",
            investment=D(20000),
            price_tick=D(1),
            amount_step=D("0.001"),
        ),
        # a tick so fine that lines have 16 digits: the loop compares Decimals instead of floats
        dict(BTC_RANGE, grids=40, mode="geometric", investment=D(4000), price_tick=D("0.0000000001")),
        # rule 8 (fees in the coin), also with a trigger, a stop and a coarse lot (more dust)
        dict(BTC_RANGE, grids=100, mode="arithmetic", investment=D(10000), buy_fee_in_base=True),
        dict(
            lower=D(105000),
            upper=D(107000),
            grids=50,
            mode="geometric",
            investment=D(5000),
            trigger=D("104900"),
            stop_upper=D(108500),
            amount_step=D("0.00001"),
            buy_fee_in_base=True,
        ),
    ],
)
def test_fast_path_equals_reference_btc_1m(btc_1m, params):
    assert_same_as_reference(btc_1m, **params)


@pytest.mark.parametrize(
    "params",
    [
        dict(lower=D(50000), upper=D(62000), grids=100, mode="geometric", investment=D(10000)),
        dict(
            lower=D(52000),
            upper=D(61000),
            grids=45,
            mode="arithmetic",
            investment=D(10000),
            stop_lower=D(51000),
            stop_upper=D(62000),
        ),
        dict(
            lower=D(55000), upper=D(60000), grids=25, mode="arithmetic", investment=D(1000), trigger=D(56000)
        ),
    ],
)
def test_fast_path_equals_reference_on_the_crash(btc_crash, params):
    assert_same_as_reference(btc_crash, **params)


def test_fast_path_equals_reference_eth_1h(eth_1h):
    candles = eth_1h.slice(0, 3000)
    assert_same_as_reference(
        candles,
        lower=D(2800),
        upper=D(4000),
        grids=90,
        mode="geometric",
        investment=D(9000),
        amount_step=D("0.0001"),
    )


def test_stop_lower_hits_in_the_crash(btc_crash):
    result = run_grid_backtest(
        btc_crash,
        lower=D(52000),
        upper=D(61000),
        grids=45,
        mode="arithmetic",
        investment=D(10000),
        stop_lower=D(51000),
    )
    assert result.stop_reason == "stop_lower"
    assert result.fills[-1].side == "buy"
    assert result.final_base > 0


@st.composite
def candle_paths(draw):
    """Random candles on a coarse price lattice (many ties with the lines) with jumps between candles."""
    count = draw(st.integers(1, 40))
    price = draw(st.integers(90, 110))
    rows = []
    for k in range(count):
        open_ = price + draw(st.integers(-3, 3)) if k else price  # a jump from the last close
        open_ = max(open_, 80)
        high = open_ + draw(st.integers(0, 6))
        low = max(open_ - draw(st.integers(0, 6)), 80)
        close = draw(st.integers(low, high))
        rows.append((k * 60_000, open_, high, low, close))
        price = close
    return rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=candle_paths(),
    lower=st.integers(85, 100),
    width=st.integers(2, 25),
    grids=st.integers(1, 12),
    mode=st.sampled_from(["arithmetic", "geometric"]),
    trigger=st.none() | st.integers(85, 115),
    stop_upper=st.none() | st.integers(100, 125),
    stop_lower=st.none() | st.integers(78, 95),
    fee_in_base=st.booleans(),
)
def test_fast_path_equals_reference_on_random_paths(
    rows, lower, width, grids, mode, trigger, stop_upper, stop_lower, fee_in_base
):
    candles = candles_of(*rows)
    params = dict(
        lower=D(lower),
        upper=D(lower + width),
        grids=grids,
        mode=mode,
        investment=D(1000),
        price_tick=D("0.5"),
        amount_step=D("0.001"),
        trigger=None if trigger is None else D(trigger),
        stop_upper=None if stop_upper is None else D(stop_upper),
        stop_lower=None if stop_lower is None else D(stop_lower),
        buy_fee_in_base=fee_in_base,
    )
    try:
        grid_lines(params["lower"], params["upper"], grids, mode, D("0.5"))
    except ValueError:
        return
    assert_same_as_reference(candles, **params)


def test_result_invariants_on_real_data(btc_1m):
    result = run_grid_backtest(btc_1m, grids=100, mode="arithmetic", investment=D(10000), **BTC_RANGE)
    sells = [f for f in result.fills if f.side == "sell"]
    assert result.cycles == len(sells) > 100
    # cash + base = equity, and equity = investment + realized + (open positions marked at the last close)
    last = btc_1m.price("close", len(btc_1m) - 1)
    assert result.final_equity == q8(result.final_cash + result.final_base * last)
    assert 0 < result.max_drawdown < 1
    assert result.fees == q8(sum((f.fee for f in result.fills), D(0)))
    assert all(f.price * f.qty <= result.per_grid_amount for f in result.fills if f.side == "buy")
    assert result.equity_curve[-1] == (btc_1m.timestamps[-1], result.final_equity)
    assert len(result.equity_curve) <= 1001


def test_chart_png(btc_1m, tmp_path):
    from engine.charts.backtests import grid_backtest_chart

    candles = btc_1m.slice(0, 600)
    result = run_grid_backtest(candles, grids=20, mode="arithmetic", investment=D(2000), **BTC_RANGE)
    png = grid_backtest_chart(result, candles, result.lines)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out = tmp_path / "chart.png"
    assert grid_backtest_chart(result, candles, result.lines, out) is None
    assert out.read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- CLI

CLI_ARGS = ["grid", "--candles", str(BTC_1M), "--lower", "104000", "--upper", "112000", "--grids", "40"]


def test_cli_json(capsys, btc_1m):
    status = cli_main([*CLI_ARGS, "--investment", "5000", "--mode", "geometric", "--json"])
    assert status == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    data = json.loads(out)
    assert set(data) == {
        "cycles",
        "realized_profit",
        "fees",
        "final_equity",
        "max_drawdown",
        "buy_and_hold",
        "fills",
        "time_in_market",
        "buy_and_hold_drawdown",
        "final_base",
        "candles",
        "first_ts",
        "last_ts",
        "buy_fee_in_base",
    }
    assert isinstance(data["cycles"], int)
    assert data["buy_fee_in_base"] is False and data["candles"] == len(btc_1m)
    assert (data["first_ts"], data["last_ts"]) == (btc_1m.timestamps[0], btc_1m.timestamps[-1])
    money = ("realized_profit", "fees", "final_equity", "max_drawdown", "buy_and_hold", "time_in_market")
    for key in (*money, "buy_and_hold_drawdown"):
        assert isinstance(data[key], str) and D(data[key]) == D(data[key]).quantize(D("0.00000001"))
    expected = run_grid_backtest(btc_1m, D(104000), D(112000), 40, "geometric", D(5000))
    assert data["cycles"] == expected.cycles
    assert data["final_equity"] == str(expected.final_equity)
    assert len(data["fills"]) == len(expected.fills)
    first = data["fills"][0]
    assert set(first) == {"ts", "interval", "side", "price", "qty", "fee"}
    assert isinstance(first["ts"], int) and isinstance(first["interval"], int)
    # geometric lines: 104000 x (112000/104000)^(8/40) = 105552.93 < open 105573.73 <= line 9 = 105748.66;
    # so interval 9 is the lowest bought at market: 125 per grid / 105748.66 = 0.00118204... -> 0.001182,
    # fee 105573.73 x 0.001182 x 0.0006 = 0.074872889... -> 0.07487289
    assert first == {
        "ts": 1747699200000,
        "interval": 9,
        "side": "buy",
        "price": "105573.73",
        "qty": "0.001182",
        "fee": "0.07487289",
    }


def test_cli_json_with_the_buy_fee_in_base(capsys, btc_1m):
    status = cli_main([*CLI_ARGS, "--investment", "5000", "--json", "--buy-fee-in-base"])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    expected = run_grid_backtest(
        btc_1m, D(104000), D(112000), 40, "arithmetic", D(5000), buy_fee_in_base=True
    )
    assert data["buy_fee_in_base"] is True and data["cycles"] == expected.cycles
    buys = [f for f in data["fills"] if f["side"] == "buy"]
    sells = [f for f in data["fills"] if f["side"] == "sell"]
    assert (
        buys
        and sells
        and all(set(f) == {"ts", "interval", "side", "price", "qty", "fee", "fee_base"} for f in buys)
    )
    assert all(set(f) == {"ts", "interval", "side", "price", "qty", "fee"} for f in sells)
    # arithmetic lines 104000 + 200 k: the first open 105573.73 is below line 8 (105600), so interval 8 is the
    # lowest bought at market: 125 per grid / 105600 = 0.00118371.. -> 0.001183; fee_base 0.001183 x 0.0006
    # = 0.0000007098 -> 0.00000071; fee in quote 0.00000071 x 105573.73 = 0.0749573483 -> 0.07495735
    assert buys[0] == {
        "ts": 1747699200000,
        "interval": 8,
        "side": "buy",
        "price": "105573.73",
        "qty": "0.001183",
        "fee": "0.07495735",
        "fee_base": "0.00000071",
    }
    # its sell is for what was left, 0.00118229, down to the lot step 0.000001: 0.001182
    first_sell = next(f for f in sells if f["interval"] == 8)
    assert first_sell["qty"] == "0.001182"


def test_help_imports_no_engine() -> None:
    """`multibot --help` builds every parser without numpy, pyarrow or pydantic (start-up time)."""
    code = (
        "import sys; from bot.__main__ import build_parser; build_parser(); "
        "heavy = [m for m in ('numpy', 'pyarrow', 'pydantic_settings', 'matplotlib', 'sklearn', 'scipy') "
        "if m in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_cli_text_and_chart(capsys, tmp_path):
    chart = tmp_path / "grid.png"
    status = cli_main([*CLI_ARGS, "--investment", "5000", "--trigger", "105000", "--chart", str(chart)])
    assert status == 0
    out = capsys.readouterr().out
    for label in ("cycles", "realized profit", "fees", "final equity", "max drawdown", "buy and hold"):
        assert label in out
    assert chart.read_bytes()[:4] == b"\x89PNG"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "candles.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("extra", "candles_text", "message"),
    [
        ([], None, "no such file"),
        ([], f"{HEADER}\n1,2,3,1,2,1\n2,2,x,1,2,1\n", "line 3: high is not a plain decimal number"),
        ([], f"{HEADER}\n2,2,3,1,2,1\n1,2,3,1,2,1\n", "line 3: timestamps not sorted"),
        ([], f"{HEADER}\n2,2,3,1,2,1\n2,2,3,1,2,1\n", "line 3: duplicate timestamp"),
        (["--lower", "120000"], "", "upper price must be above the lower price"),
        (["--grids", "101"], "", "grid count must be 2 to 100"),
        (["--grids", "ten"], "", "grid_count must be a number"),
        (["--investment", "-5"], "", "total_investment must be more than 0"),
        (["--mode", "spiral"], "", "grid mode must be arithmetic or geometric"),
        (["--stop-upper", "100000"], "", "stop_upper must be above the upper price"),
        (["--fee-rate", "abc"], "", "fee_rate must be a number"),
        (["--price-tick", "0"], "", "price_tick must be more than 0"),
        (["--investment", "0.01"], "", "investment too small"),
    ],
)
def test_cli_errors_exit_2_with_one_line(capsys, tmp_path, extra, candles_text, message):
    if candles_text is None:
        path = str(tmp_path / "missing.csv")
    elif candles_text == "":
        path = str(BTC_1M)
    else:
        path = write(tmp_path, candles_text)
    args = ["grid", "--candles", path, "--lower", "104000", "--upper", "112000", "--grids", "40"]
    args += ["--investment", "5000", *extra]
    assert cli_main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert captured.err.count("\n") == 1


def test_cli_is_wired_into_multibot(capsys):
    from bot.__main__ import main as multibot_main

    status = multibot_main(["backtest", *CLI_ARGS, "--investment", "5000", "--json"])
    assert status == 0
    assert json.loads(capsys.readouterr().out)["cycles"] > 0
