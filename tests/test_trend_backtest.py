"""Strategies as data, the position rules, the trend backtest's fill rules and the CLI."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.backtest_cli import main as cli_main
from engine.market_data.candles import Candles, load_candles, parse_candles
from engine.trend.backtest import default_market, resample, run_trend_backtest, settings_for
from engine.trend.positions import (
    TrendSettings,
    TrendState,
    client_order_id,
    decide,
    exit_hit,
    exit_levels,
    manual_close,
    on_entry_filled,
    on_exit_filled,
)
from engine.trend.strategies import BUILTIN_STRATEGIES, StrategyDef, get_strategy, signals, timeframe_ms

DATA = Path(__file__).resolve().parents[1] / "engine" / "market_data" / "data"
BTC_1H = DATA / "btcusdt_1h_2y.csv.gz"
BTC_1M = DATA / "btcusdt_1m_sample.csv.gz"
HEADER = "timestamp,open,high,low,close,volume"
H = 3_600_000
MARKET = default_market()
BASE = get_strategy("ema_adx_baseline")


@pytest.fixture(scope="module")
def btc_1h() -> Candles:
    return load_candles(BTC_1H)


def candles_of(*rows: tuple) -> Candles:
    """Hand-made hourly candles from (open, high, low, close) rows, volume 1."""
    body = "\n".join(f"{i * H},{o},{h},{lo},{c},1" for i, (o, h, lo, c) in enumerate(rows))
    return parse_candles(f"{HEADER}\n{body}\n", "<hand>")


def swap(leverage=2, sl="5", tp="10", entry="50", max_positions=3) -> TrendSettings:
    return TrendSettings(
        leverage, max_positions, D(sl) if sl else None, D(tp) if tp else None, D(entry), "swap"
    )


# ------------------------------------------------------------------ strategies as data


def test_presets_follow_the_plan() -> None:
    by_name = {s.name: s for s in BUILTIN_STRATEGIES}
    assert set(by_name) == {"ema_adx_baseline", "conservative", "balanced", "aggressive", "ai_model"}
    expect = {
        "conservative": ("4h", 5, "4", "8", "20"),
        "balanced": ("1h", 8, "2", "4", "30"),
        "aggressive": ("1h", 10, "1.5", "4", "40"),
    }
    for name, (tf, lev, sl, tp, entry) in expect.items():
        s = by_name[name]
        assert (s.timeframe, s.risk.leverage) == (tf, lev)
        assert (s.risk.stop_loss_percent, s.risk.take_profit_percent, s.risk.entry_percent) == (
            D(sl),
            D(tp),
            D(entry),
        )
    assert by_name["conservative"].params["volume_mult"] == 1.5
    assert (
        by_name["aggressive"].params["adx_min"] == 25 and by_name["aggressive"].params["volume_mult"] == 2.0
    )
    assert by_name["balanced"].params["trend_ema"] == 200


def test_rows_are_json_and_round_trip() -> None:
    for s in BUILTIN_STRATEGIES:
        row = s.to_row()
        assert json.loads(json.dumps(row)) == row
        assert row["params"]["risk"]["leverage"] == s.risk.leverage
        assert StrategyDef.from_row(json.loads(json.dumps(row))) == s
    with pytest.raises(ValueError, match="unknown strategy kind"):
        StrategyDef("x", "magic", "1h", {}, BASE.risk)
    with pytest.raises(ValueError, match="timeframe"):
        timeframe_ms("1 hour")
    assert timeframe_ms("4h") == 4 * H


def test_signals_are_events_of_closed_candles(btc_1h: Candles) -> None:
    part = btc_1h.slice(0, 3000)
    for s in BUILTIN_STRATEGIES:
        if s.kind == "ai_model":
            continue
        sig = signals(s, part)
        assert sig.shape == (3000,) and set(np.unique(sig)) <= {-1, 0, 1}
        assert np.count_nonzero(sig) > 0, s.name
        # no look-ahead: the signals of the first 2000 candles do not depend on the rest
        assert np.array_equal(sig[:2000], signals(s, part.slice(0, 2000)))


# ------------------------------------------------------------------ the position rules


def test_sizing_exits_and_client_ids_by_hand() -> None:
    s = TrendSettings(5, 3, D("4"), D("8"), D("20"), "swap")
    # allocated 1000, 20 % per entry = margin 200, x5 = notional 1000 at 50000 -> 0.02 BTC
    [intent] = decide(7, 1708300800000, 1, D("50000"), TrendState(), D("1000"), s, MARKET)
    assert (intent.action, intent.side, intent.qty, intent.margin) == ("open", "buy", D("0.02"), D("200"))
    assert intent.client_order_id == "bktst7t28471680o1l"
    assert decide(7, 1708300800000, 1, D("50000"), TrendState(), D("1000"), s, MARKET) == [intent]
    req = intent.order_request("BTC/USDT:USDT")
    assert (req.type, req.side, req.reduce_only) == ("market", "buy", False)
    # exits from the fill price: SL 4 % below, TP 8 % above, liquidation 1/5 below
    assert exit_levels("long", D("50000"), s, D("0.01")) == (D("48000.00"), D("54000.00"), D("40000.00"))
    assert exit_levels("short", D("50000"), s, D("0.01")) == (D("52000.00"), D("46000.00"), D("60000.00"))
    state, pos = on_entry_filled(TrendState(), intent, D("50000"), D("0.02"), D("0.6"), 1, s, D("0.01"))
    assert state.next_seq == 2 and pos.stop_loss == D("48000.00")
    assert (
        exit_hit(pos, D("48000")) == "sl"
        and exit_hit(pos, D("54000")) == "tp"
        and exit_hit(pos, D("50000")) is None
    )
    # an opposite signal closes it (reduce-only) and opens a short with the next number
    close, short = decide(7, 1708304400000, -1, D("51000"), state, D("1000"), s, MARKET)
    assert (close.action, close.side, close.seq, close.reason) == ("close", "sell", 1, "signal")
    assert close.order_request("BTC/USDT:USDT").reduce_only
    assert (short.side, short.seq, short.client_order_id) == ("sell", 2, "bktst7t28471740o2s")
    state, trade = on_exit_filled(state, 1, D("51000"), D("0.61"), 2, "signal")
    # pnl = 0.02 x (51000 - 50000) - 0.6 - 0.61 = 18.79
    assert trade.pnl == D("18.79000000") and state.positions == ()
    for cid in (
        intent.client_order_id,
        close.client_order_id,
        client_order_id(10**8, 4102444800000, 10**6, "m", "short"),
    ):
        assert len(cid) <= 32 and cid.isalnum()


def test_max_positions_capital_cap_and_spot() -> None:
    s = swap(leverage=1, entry="40", max_positions=3)
    state = TrendState()
    for seq in (1, 2):
        [i] = decide(1, seq * H, 1, D("100"), state, D("1000"), s, MARKET)
        state, _ = on_entry_filled(state, i, D("100"), i.qty, D("0"), seq * H, s, D("0.01"))
    # 2 x 400 committed: the third entry gets what is left of the 1000 (200), not 400
    [third] = decide(1, 3 * H, 1, D("100"), state, D("1000"), s, MARKET)
    assert third.qty == D("2") and third.margin == D("200")
    state, _ = on_entry_filled(state, third, D("100"), third.qty, D("0"), 3 * H, s, D("0.01"))
    assert decide(1, 4 * H, 1, D("100"), state, D("1000"), s, MARKET) == []  # max_positions reached
    assert [i.seq for i in manual_close(1, 5 * H, state, D("99"))] == [1, 2, 3]
    assert manual_close(1, 5 * H, state, D("99"))[0].client_order_id == "bktst1t300m1l"
    spot = TrendSettings(1, 3, D("2"), D("4"), D("50"), "spot")
    assert decide(1, H, -1, D("100"), TrendState(), D("1000"), spot, MARKET) == []  # spot: no shorts
    with pytest.raises(ValueError):
        TrendSettings(3, 3, None, None, D("50"), "spot")
    assert (
        TrendSettings.for_bot(
            10, D("30"), max_leverage=4, max_positions=1, stop_loss_percent=None, take_profit_percent=None
        ).leverage
        == 4
    )


# ------------------------------------------------------------------ the backtest's fill rules


def run(candles: Candles, sig: list[int], s: TrendSettings | None = None, **kw):
    return run_trend_backtest(
        candles, BASE, s or swap(), signal_values=np.array(sig), initial_equity=D("1000"), **kw
    )


def test_take_profit_by_hand() -> None:
    candles = candles_of((100, 101, 99, 100), (100, 105, 98, 104), (104, 111, 103, 110), (110, 112, 109, 111))
    r = run(candles, [1, 0, 0, 0])
    [t] = r.trades
    # entry at candle 1's open 100: qty = 1000 x 50 % x 2 / 100 = 10, fee 100 x 10 x 0.0006 = 0.6
    # TP 110 filled on candle 2 (maker 110 x 10 x 0.0002 = 0.22); pnl = 100 - 0.6 - 0.22 = 99.18
    assert (t.side, t.qty, t.entry_price, t.entry_ts, t.entry_fee) == ("long", D("10"), D("100"), H, D("0.6"))
    assert (t.exit_price, t.exit_ts, t.exit_fee, t.reason, t.pnl) == (
        D("110.00"),
        2 * H,
        D("0.22"),
        "tp",
        D("99.18"),
    )
    assert r.final_equity == D("1099.18") and r.profit == D("99.18") and r.win_rate == 1
    assert r.exposure == D("0.5")  # candles 1 and 2 of 4
    # buy and hold: 1000 / (100 x 1.0006) x 111
    assert r.buy_and_hold == (D("1000") / (D("100") * D("1.0006")) * 111).quantize(D("0.00000001"))


def test_drawdown_is_marked_along_the_walk_by_hand() -> None:
    candles = candles_of((100, 101, 99, 100), (100, 105, 98, 104), (104, 111, 103, 110), (110, 112, 109, 111))
    r = run(candles, [1, 0, 0, 0])
    # the long of 10 entered at 100 (wallet 1000 - 0.6 fee): equity = 999.4 + 10 x (price - 100);
    # candle 1 walks 100 -> 98 -> 105 -> 104: at its low 98 the equity is 979.4, 2.06 % under the start's 1000
    # (the next peak, 1049.4 at 105, only falls to 1029.4 at candle 2's low 103: 1.91 %). The closes alone
    # (1000, 1039.4, 1099.18, 1099.18) never fall.
    assert r.max_drawdown == D("0.02060000")
    # buy and hold: 1000 / (100 x 1.0006) coin; its price path 100, 99, 101, 100, 100, 98, ... falls most from
    # 101 to 98: 3 / 101 = 0.0297029..
    assert r.buy_and_hold_drawdown == (D(3) / D(101)).quantize(D("0.00000001"))


def test_drawdown_along_the_walk_is_at_least_the_closes_one() -> None:
    candles = resample(load_candles(DATA / "btcusdt_1h_2y.csv.gz"), "4h")
    for name in ("conservative", "aggressive", "ema_adx_baseline"):
        strategy = get_strategy(name)
        r = run_trend_backtest(candles, strategy)
        curve = np.concatenate(([float(r.initial_equity)], r.equity_closes))
        peaks = np.maximum.accumulate(curve)
        at_closes = float(((peaks - curve) / peaks).max())
        assert float(r.max_drawdown) >= at_closes - 1e-8
        assert r.max_drawdown < 1


def test_walk_order_decides_between_stop_and_target() -> None:
    # candle 1 touches both 95 (SL) and 110 (TP); rising candle: open -> low -> high, the SL first
    rising = candles_of((100, 100, 100, 100), (100, 111, 94, 105), (105, 106, 104, 105))
    [t] = run(rising, [1, 0, 0]).trades
    # SL 95, taker 95 x 10 x 0.0006 = 0.57; pnl = -50 - 0.6 - 0.57
    assert (t.reason, t.exit_price, t.exit_fee, t.pnl) == ("sl", D("95.00"), D("0.57"), D("-51.17"))
    falling = candles_of((100, 100, 100, 100), (100, 111, 94, 99), (99, 100, 98, 99))
    [t] = run(falling, [1, 0, 0]).trades
    assert (t.reason, t.exit_price) == ("tp", D("110.00"))  # open -> high first


def test_short_gap_signal_exit_and_end() -> None:
    candles = candles_of((100, 100, 100, 100), (100, 101, 97, 98), (98, 99, 96, 97), (90, 92, 89, 91))
    # a short at 100 (SL 105, TP 90); candle 3 opens at 90: the resting TP fills at its own price
    [t] = run(candles, [-1, 0, 0, 0]).trades
    assert (t.side, t.reason, t.exit_price, t.exit_ts) == ("short", "tp", D("90.00"), 3 * H)
    # pnl = 10 x (100 - 90) - 0.6 - 90 x 10 x 0.0002 (0.18)
    assert t.pnl == D("99.22")
    # the opposite signal at candle 1's close closes at candle 2's open (98, taker) and opens a long there
    r = run(candles, [-1, 1, 0, 0])
    first, second = r.trades
    assert (first.reason, first.exit_price, first.exit_ts) == ("signal", D("98"), 2 * H)
    assert (second.side, second.entry_price, second.reason, second.exit_ts) == ("long", D("98"), "sl", 3 * H)
    # the long's SL (93.10) was jumped over by the open at 90: a stop fills at the open
    assert second.exit_price == D("90")
    # no exit at all: closed at the last close, reason end
    flat = candles_of((100, 100, 100, 100), (100, 101, 99, 100), (100, 101, 99, 101))
    [t] = run(flat, [1, 0, 0]).trades
    assert (t.reason, t.exit_price) == ("end", D("101"))


def test_slippage_moves_market_fills() -> None:
    candles = candles_of((100, 100, 100, 100), (100, 101, 99, 100), (100, 101, 99, 101))
    [t] = run(candles, [1, 0, 0], slippage=D("0.001")).trades
    assert t.entry_price == D("100.10")  # a buy pays 0.1 % more at the open


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["swap", "spot"]))
def test_ledger_adds_up(btc_1h: Candles, seed: int, market: str) -> None:
    part = btc_1h.slice(seed % 15000, seed % 15000 + 600)
    rng = np.random.default_rng(seed)
    sig = rng.choice([-1, 0, 0, 0, 0, 0, 1], size=len(part))
    s = settings_for(BASE, market_type=market, max_positions=2)
    r = run_trend_backtest(part, BASE, s, signal_values=sig)
    assert r.final_equity == r.initial_equity + sum(t.pnl for t in r.trades)
    assert r.fees == sum(t.fees for t in r.trades)
    assert all(t.entry_ts <= t.exit_ts for t in r.trades)
    assert 0 <= r.max_drawdown <= 1 and 0 <= r.exposure <= 1
    if market == "spot":
        assert all(t.side == "long" for t in r.trades)
    # never more than max_positions open at once
    events = sorted(
        [(t.entry_ts, 1) for t in r.trades] + [(t.exit_ts, -1) for t in r.trades], key=lambda e: (e[0], e[1])
    )
    open_now = 0
    for _, step in events:
        open_now += step
        assert open_now <= 2


def test_resample_1m_to_1h() -> None:
    one = load_candles(BTC_1M)
    hourly = resample(one, "1h")
    assert len(hourly) == len(one) // 60
    assert hourly.open_text[0] == one.open_text[0] and hourly.close_text[0] == one.close_text[59]
    assert hourly.high_a[0] == one.high_a[:60].max() and hourly.low_a[0] == one.low_a[:60].min()
    assert abs(float(hourly.volume_text[0]) - np.array(one.volume_text[:60], dtype=float).sum()) < 1e-6
    assert resample(one, "1m") is one
    with pytest.raises(ValueError, match="multiple"):
        resample(hourly, "1m")


def test_every_preset_trades_on_two_years(btc_1h: Candles) -> None:
    # how fast: bench/trend_backtest.py measures it (no timing in unit tests)
    for s in BUILTIN_STRATEGIES:
        if s.kind == "ai_model":
            continue
        candles = resample(btc_1h, s.timeframe)
        r = run_trend_backtest(candles, s)
        assert r.trades and r.candles == len(candles)


# ------------------------------------------------------------------ the CLI


def test_cli_trend_json_text_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / "t.png"
    code = cli_main(
        [
            "trend",
            "--candles",
            str(BTC_1H),
            "--strategy",
            "aggressive",
            "--sl",
            "2",
            "--tp",
            "5",
            "--leverage",
            "3",
            "--json",
            "--chart",
            str(chart),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["strategy"] == "aggressive" and out["leverage"] == 3 and out["stop_loss_percent"] == "2"
    assert out["trades_count"] == len(out["trades"]) > 0
    assert D(out["final_equity"]) == D(out["initial_equity"]) + sum(D(t["pnl"]) for t in out["trades"])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli_main(["trend", "--candles", str(BTC_1M), "--strategy", "conservative"]) == 0
    text = capsys.readouterr().out
    assert "18 x 4h" in text and "funding" in text and "buy and hold" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "nope"], "unknown strategy"),
        (["--strategy", "balanced", "--leverage", "0"], "leverage"),
        (["--strategy", "balanced", "--sl", "abc"], "sl must be a number"),
        (["--strategy", "balanced", "--timeframe", "2x"], "timeframe"),
        (["--strategy", "balanced", "--fee-rate", "1.5"], "fee_rate"),
        (["--strategy", "balanced", "--market", "margin"], "market"),
    ],
)
def test_cli_trend_errors_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["trend", "--candles", str(BTC_1M), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_cli_trend_bad_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["trend", "--candles", str(tmp_path / "missing.csv"), "--strategy", "balanced"]) == 2
    assert "no such file" in capsys.readouterr().err
