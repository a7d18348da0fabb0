"""Sweeps: every combination of a grid sweep equals its single backtest; the ranking; the CLI; the
walk-forward trend sweep chooses on one window and reports only the next."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.__main__ import main as multibot
from engine.grid.backtest import run_grid_backtest
from engine.grid.sweep import GridCosts, GridPoint, backtest_point, grid_points, ranked, sweep_grid
from engine.market_data.candles import load_candles
from engine.trend.backtest import resample, run_trend_backtest, settings_for
from engine.trend.strategies import get_strategy
from engine.trend.sweep import strategy_signals, trend_points, walk_forward

DATA = Path(__file__).resolve().parents[1] / "engine" / "market_data" / "data"
CRASH = DATA / "btcusdt_1m_2024-08-04_crash.csv.gz"


@pytest.fixture(scope="module")
def crash():
    return load_candles(CRASH)


POINTS = grid_points(
    [D(50000), D(53000), D(56000)], [D(58000), D(61000), D(64000)], [3, 17, 60], ["arithmetic", "geometric"]
)


@pytest.mark.parametrize("fee_in_base", [False, True])
def test_every_combination_equals_its_single_backtest(crash, fee_in_base):
    costs = GridCosts(D(5000), amount_step=D("0.00001"), buy_fee_in_base=fee_in_base)
    rows, skipped = sweep_grid(crash, POINTS, costs, workers=1)
    assert skipped == [] and [r.point for r in rows] == POINTS
    for row in rows:
        single = run_grid_backtest(
            crash, row.point.lower, row.point.upper, row.point.grids, row.point.mode, D(5000),
            amount_step=D("0.00001"), buy_fee_in_base=fee_in_base,
        )  # fmt: skip
        assert (row.cycles, row.realized_profit, row.fees, row.final_equity) == (
            single.cycles,
            single.realized_profit,
            single.fees,
            single.final_equity,
        ), row.point
        assert row.profit == single.final_equity - D(5000)
    # the same rows from two processes
    assert sweep_grid(crash, POINTS, costs, workers=2)[0] == rows


def test_a_sweep_with_fine_lines_falls_back_to_the_decimal_walk(crash):
    # a tick of 1e-10 gives 16-digit lines: floats cannot decide, the single backtest's Decimal walk does
    costs = GridCosts(D(3000), price_tick=D("0.0000000001"))
    point = GridPoint(D(52000), D(61000), 40, "geometric")
    [row], _ = sweep_grid(crash, [point], costs)
    single = backtest_point(crash, point, costs)
    assert (row.cycles, row.final_equity) == (single.cycles, single.final_equity)


def test_combinations_that_cannot_run_are_skipped_and_the_rest_ranked(crash):
    points = [
        GridPoint(D(50000), D("50000.05"), 10, "arithmetic"),
        *POINTS[:6],
    ]  # 0.005 apart: under the tick
    rows, skipped = sweep_grid(crash, points, GridCosts(D(5000), amount_step=D("0.00001")))
    assert skipped == points[:1] and len(rows) == 6
    order = ranked(rows)
    assert [r.profit for r in order] == sorted((r.profit for r in rows), reverse=True)
    assert ranked(rows, 2) == order[:2]


def test_sweep_grid_cli(capsys):
    args = ["sweep", "grid", "--candles", str(CRASH), "--lower", "50000:56000", "--upper", "58000:64000"]
    args += ["--grids", "10:40", "--mode", "both", "--investment", "5000", "--steps", "3", "--top", "4"]
    assert multibot([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # grids 10:40 is 10, 14, .., 38 and 40 (steps of ceil(30 / 9) = 4, the end kept): 9 counts
    assert data["combinations"] == 3 * 3 * 9 * 2 and data["ran"] == 162 and len(data["top"]) == 4
    best = data["top"][0]
    single = run_grid_backtest(
        load_candles(CRASH), D(best["lower"]), D(best["upper"]), best["grids"], best["mode"], D(5000)
    )
    assert best["profit"] == str(single.final_equity - 5000) and best["cycles"] == single.cycles
    assert best["max_drawdown"] == str(single.max_drawdown) and best["fees"] == str(single.fees)
    assert [D(r["profit"]) for r in data["top"]] == sorted(
        (D(r["profit"]) for r in data["top"]), reverse=True
    )
    assert multibot(args) == 0
    text = capsys.readouterr().out
    assert "162 combinations backtested" in text and "buy and hold" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grids", "1:5"], "grids must be whole numbers from 2 to 100"),
        (["--lower", "abc"], "lower must be a number"),
        (["--mode", "spiral"], "mode must be arithmetic, geometric or both"),
        (["--lower", "70000"], "no combination has its lower price below its upper price"),
    ],
)
def test_sweep_grid_cli_errors(capsys, extra, message):
    args = ["sweep", "grid", "--candles", str(CRASH), "--lower", "50000", "--upper", "60000", "--grids", "10"]
    args += ["--investment", "5000"]
    assert multibot([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_walk_forward_reports_only_the_windows_it_did_not_fit_on():
    candles = resample(load_candles(DATA / "btcusdt_1h_2y.csv.gz"), "4h")
    strategy = get_strategy("conservative")
    points = trend_points([1, 3], [D(2), None], [D(8)])
    result = walk_forward(candles, strategy, points, fit_candles=540, test_candles=180, workers=1)
    sig = strategy_signals(strategy, candles)
    ts = candles.timestamps
    equity = D(10000)
    for k, fold in enumerate(result.folds):
        fit_start = 180 * k
        fit_stop, test_stop = fit_start + 540, fit_start + 720
        assert (fold.fit_start_ts, fold.test_start_ts) == (ts[fit_start], ts[fit_stop])
        assert fold.test_start_ts > ts[fit_stop - 1]  # the test window starts after the fit window
        fits = []
        for p in points:
            s = settings_for(strategy, leverage=p.leverage, stop_loss_percent=p.stop_loss_percent,
                             take_profit_percent=p.take_profit_percent)  # fmt: skip
            fits.append(
                run_trend_backtest(
                    candles.slice(fit_start, fit_stop), strategy, s, signal_values=sig[fit_start:fit_stop]
                )
            )
        assert fits[points.index(fold.chosen)].profit == max(f.profit for f in fits)
        s = settings_for(strategy, leverage=fold.chosen.leverage, stop_loss_percent=fold.chosen.stop_loss_percent,
                         take_profit_percent=fold.chosen.take_profit_percent)  # fmt: skip
        again = run_trend_backtest(
            candles.slice(fit_stop, test_stop),
            strategy,
            s,
            signal_values=sig[fit_stop:test_stop],
            initial_equity=equity,
        )
        assert again.final_equity == fold.test.final_equity
        equity = again.final_equity
    assert result.final_equity == equity and result.total_return == (equity / 10000 - 1).quantize(
        D("0.00000001")
    )
    assert len(result.folds) == (len(candles) - 540) // 180
    again = walk_forward(candles, strategy, points, fit_candles=540, test_candles=180, workers=2)
    assert [(f.chosen, f.test.final_equity) for f in again.folds] == [
        (f.chosen, f.test.final_equity) for f in result.folds
    ]


def test_sweep_trend_cli(capsys):
    args = ["sweep", "trend", "--candles", str(DATA / "btcusdt_1h_2y.csv.gz"), "--strategy", "conservative"]
    args += ["--leverage", "1:3:2", "--sl", "0:4:4", "--fit-days", "180", "--test-days", "90", "--json"]
    assert multibot(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["combinations"] == 4 and data["folds"]
    assert {f["chosen"]["leverage"] for f in data["folds"]} <= {1, 3}
    assert {f["chosen"]["stop_loss_percent"] for f in data["folds"]} <= {None, "4"}
    assert set(data["out_of_sample"]) >= {"total_return", "max_drawdown", "trades", "buy_and_hold_return"}
