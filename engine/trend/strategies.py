"""Built-in trend strategies as data, and their signals.

A strategy is a row of the ``strategies`` table: ``name``, ``kind`` (which
signal function), ``timeframe`` and a JSON ``params`` object holding the
indicator parameters and the risk defaults (``params["risk"]``: leverage,
stop-loss / take-profit percents of the entry price, percent of the allocated
capital per entry, max positions). Users copy a row and tune the numbers.

:func:`signals` returns one value per *closed* candle: +1 (go long), -1 (go
short) or 0. A signal is an event, not a state: it fires on the candle where the
strategy's long (or short) setup becomes true after not being true on the
previous candle, so a setup that stays true for 50 candles opens one position,
not 50. Every setup uses candles ``<= i`` only.

Any strategy can be gated by the trained model with
``params["model_gate"] = {"threshold": 0.55}``: a long then also needs
P(up) >= threshold and a short P(up) <= 1 - threshold. The ``ai_model`` kind is
exactly that gate on top of a trend filter (EMA slope + ADX).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from engine.market_data import indicators as ind
from engine.market_data.candles import Candles
from engine.trend.features import volumes
from engine.trend.model import ModelParams, TrendModel, predict_proba, walk_forward_proba

KINDS = ("ema_adx", "ema_volume_rsi", "rsi_divergence_macd", "bollinger_breakout", "ai_model")
_TIMEFRAME = re.compile(r"([1-9]\d*)([mhd])")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def timeframe_ms(timeframe: str) -> int:
    """Length of a ccxt-style timeframe ("1m", "15m", "1h", "4h", "1d") in ms."""
    match = _TIMEFRAME.fullmatch(timeframe or "")
    if not match:
        raise ValueError(f"timeframe must look like 1m, 15m, 1h, 4h or 1d, got {timeframe!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


@dataclass(frozen=True)
class RiskDefaults:
    """Risk settings a strategy suggests for a bot (the bot's own settings win).

    Percents are 0-100: ``stop_loss_percent`` / ``take_profit_percent`` of the
    entry price, ``entry_percent`` of the bot's allocated capital used as margin
    per entry.
    """

    leverage: int
    stop_loss_percent: Decimal
    take_profit_percent: Decimal
    entry_percent: Decimal
    max_positions: int = 3

    def to_json(self) -> dict[str, Any]:
        return {
            "leverage": self.leverage,
            "stop_loss_percent": format(self.stop_loss_percent, "f"),
            "take_profit_percent": format(self.take_profit_percent, "f"),
            "entry_percent": format(self.entry_percent, "f"),
            "max_positions": self.max_positions,
        }

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> RiskDefaults:
        return cls(
            leverage=int(values["leverage"]),
            stop_loss_percent=Decimal(str(values["stop_loss_percent"])),
            take_profit_percent=Decimal(str(values["take_profit_percent"])),
            entry_percent=Decimal(str(values["entry_percent"])),
            max_positions=int(values.get("max_positions", 3)),
        )


@dataclass(frozen=True)
class StrategyDef:
    """One strategy: ``params`` are the JSON-serialisable indicator parameters (no risk)."""

    name: str
    kind: str
    timeframe: str
    params: dict[str, Any]
    risk: RiskDefaults
    description: str = ""
    builtin: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown strategy kind {self.kind!r} (known: {', '.join(KINDS)})")
        timeframe_ms(self.timeframe)

    def to_row(self) -> dict[str, Any]:
        """The ``strategies`` row: name, kind, timeframe, params (JSON, risk under "risk"),
        description, is_builtin."""
        return {
            "name": self.name,
            "kind": self.kind,
            "timeframe": self.timeframe,
            "params": {**copy.deepcopy(self.params), "risk": self.risk.to_json()},
            "description": self.description,
            "is_builtin": self.builtin,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StrategyDef:
        params = dict(row["params"])
        risk = RiskDefaults.from_json(params.pop("risk"))
        return cls(
            name=row["name"],
            kind=row["kind"],
            timeframe=row.get("timeframe") or "1h",
            params=params,
            risk=risk,
            description=row.get("description") or "",
            builtin=bool(row.get("is_builtin", False)),
        )


def _d(text: str) -> Decimal:
    return Decimal(text)


BUILTIN_STRATEGIES: tuple[StrategyDef, ...] = (
    StrategyDef(
        name="ema_adx_baseline",
        kind="ema_adx",
        timeframe="1h",
        params={"ema_fast": 20, "ema_slow": 50, "adx_period": 14, "adx_min": 20},
        risk=RiskDefaults(5, _d("3"), _d("6"), _d("30")),
        description="Baseline: EMA 20/50 trend with an ADX > 20 filter.",
        builtin=True,
    ),
    StrategyDef(
        name="conservative",
        kind="ema_volume_rsi",
        timeframe="4h",
        params={
            "ema_fast": 20,
            "ema_slow": 50,
            "volume_period": 20,
            "volume_mult": 1.5,
            "rsi_period": 14,
            "rsi_mid": 50,
        },
        risk=RiskDefaults(5, _d("4"), _d("8"), _d("20")),
        description="EMA 20/50 trend + volume > 1.5x average + RSI on the trend's side of 50.",
        builtin=True,
    ),
    StrategyDef(
        name="balanced",
        kind="rsi_divergence_macd",
        timeframe="1h",
        params={
            "rsi_period": 14,
            "divergence_lookback": 14,
            "divergence_window": 12,
            "macd_fast": 12,
            "macd_slow": 26,
            "macd_signal": 9,
            "trend_ema": 200,
        },
        risk=RiskDefaults(8, _d("2"), _d("4"), _d("30")),
        description="RSI divergence confirmed by MACD, with the EMA 200 as trend filter.",
        builtin=True,
    ),
    StrategyDef(
        name="aggressive",
        kind="bollinger_breakout",
        timeframe="1h",
        params={
            "bb_period": 20,
            "bb_width": 2.0,
            "adx_period": 14,
            "adx_min": 25,
            "volume_period": 20,
            "volume_mult": 2.0,
        },
        risk=RiskDefaults(10, _d("1.5"), _d("4"), _d("40")),
        description="Bollinger band breakout with ADX > 25 and volume > 2x average.",
        builtin=True,
    ),
    StrategyDef(
        name="ai_model",
        kind="ai_model",
        timeframe="1h",
        params={
            "threshold": 0.55,
            "trend_ema": 200,
            "slope_lag": 24,
            "adx_period": 14,
            "adx_min": 20,
            "model": ModelParams().to_dict(),
        },
        risk=RiskDefaults(5, _d("3"), _d("6"), _d("30")),
        description="Walk-forward gradient-boosted classifier (next 4 candles) gated by EMA 200 slope + ADX.",
        builtin=True,
    ),
)


def builtin_strategies() -> dict[str, StrategyDef]:
    """The built-in strategies by name."""
    return {s.name: s for s in BUILTIN_STRATEGIES}


def get_strategy(name: str) -> StrategyDef:
    """A built-in strategy by name; ValueError naming the known ones otherwise."""
    found = builtin_strategies().get(name)
    if found is None:
        raise ValueError(f"unknown strategy {name!r} (built-in: {', '.join(builtin_strategies())})")
    return found


# ------------------------------------------------------------------------------ signals


def _edges(long_setup: np.ndarray, short_setup: np.ndarray) -> np.ndarray:
    """+1 where the long setup turns true, -1 where the short setup turns true, else 0."""
    long_setup = np.asarray(long_setup, dtype=bool)
    short_setup = np.asarray(short_setup, dtype=bool)
    prev_long = np.concatenate(([False], long_setup[:-1]))
    prev_short = np.concatenate(([False], short_setup[:-1]))
    out = np.zeros(long_setup.shape, dtype=np.int8)
    out[long_setup & ~prev_long] = 1
    out[short_setup & ~prev_short] = -1
    out[long_setup & short_setup] = 0  # contradictory setups: stay out
    return out


def _setups(strategy: StrategyDef, candles: Candles) -> tuple[np.ndarray, np.ndarray]:
    p = strategy.params
    close, high, low = candles.close_a, candles.high_a, candles.low_a
    with np.errstate(invalid="ignore"):
        if strategy.kind == "ema_adx":
            fast, slow = ind.ema(close, int(p["ema_fast"])), ind.ema(close, int(p["ema_slow"]))
            strength = ind.adx(high, low, close, int(p["adx_period"]))[0] >= float(p["adx_min"])
            return (fast > slow) & strength, (fast < slow) & strength
        if strategy.kind == "ema_volume_rsi":
            fast, slow = ind.ema(close, int(p["ema_fast"])), ind.ema(close, int(p["ema_slow"]))
            loud = ind.volume_ratio(volumes(candles), int(p["volume_period"])) > float(p["volume_mult"])
            r = ind.rsi(close, int(p["rsi_period"]))
            mid = float(p["rsi_mid"])
            return (fast > slow) & loud & (r > mid), (fast < slow) & loud & (r < mid)
        if strategy.kind == "rsi_divergence_macd":
            r = ind.rsi(close, int(p["rsi_period"]))
            div = ind.rsi_divergence(close, r, int(p["divergence_lookback"]))
            window = int(p["divergence_window"])
            recent_bull = _recent(div == 1, window)
            recent_bear = _recent(div == -1, window)
            line, sig, _ = ind.macd(close, int(p["macd_fast"]), int(p["macd_slow"]), int(p["macd_signal"]))
            trend = ind.ema(close, int(p["trend_ema"]))
            return (
                recent_bull & (line > sig) & (close > trend),
                recent_bear & (line < sig) & (close < trend),
            )
        if strategy.kind == "bollinger_breakout":
            _, upper, lower = ind.bollinger(close, int(p["bb_period"]), float(p["bb_width"]))
            strength = ind.adx(high, low, close, int(p["adx_period"]))[0] > float(p["adx_min"])
            loud = ind.volume_ratio(volumes(candles), int(p["volume_period"])) > float(p["volume_mult"])
            return (close > upper) & strength & loud, (close < lower) & strength & loud
        if strategy.kind == "ai_model":
            trend = ind.ema(close, int(p["trend_ema"]))
            lag = int(p["slope_lag"])
            slope = np.full(close.shape, np.nan)
            slope[lag:] = trend[lag:] - trend[:-lag]
            strength = ind.adx(high, low, close, int(p["adx_period"]))[0] >= float(p["adx_min"])
            return (slope > 0) & strength, (slope < 0) & strength
    raise ValueError(f"unknown strategy kind {strategy.kind!r}")  # pragma: no cover - checked at creation


def _recent(events: np.ndarray, window: int) -> np.ndarray:
    """True where an event happened at this candle or in the ``window - 1`` before it."""
    counts = np.cumsum(events.astype(np.int64))
    before = np.concatenate((np.zeros(window, dtype=np.int64), counts[:-window])) if window else counts
    return (counts - before[: counts.size]) > 0


def model_params(strategy: StrategyDef) -> ModelParams:
    """The classifier settings of a strategy (``params["model"]``, defaults otherwise)."""
    return ModelParams.from_dict(strategy.params.get("model", {}))


def gate_threshold(strategy: StrategyDef) -> float | None:
    """The model probability threshold gating this strategy, or None when it is not gated."""
    if strategy.kind == "ai_model":
        return float(strategy.params["threshold"])
    gate = strategy.params.get("model_gate")
    return float(gate["threshold"]) if gate else None


def signals(
    strategy: StrategyDef,
    candles: Candles,
    model: TrendModel | None = None,
    proba: np.ndarray | None = None,
) -> np.ndarray:
    """-1 / 0 / +1 (int8) per closed candle of ``candles`` (see the module docstring).

    For a model-gated strategy the probabilities come from ``proba`` when
    given, else from ``model`` (a trained model; the caller keeps its training
    rows out of any evaluation), else from a walk-forward fit on ``candles``
    (every prediction out of sample; no signal before the first fit).
    """
    long_setup, short_setup = _setups(strategy, candles)
    threshold = gate_threshold(strategy)
    if threshold is not None:
        if not 0.5 < threshold < 1:
            raise ValueError(f"model threshold must be above 0.5 and below 1, got {threshold}")
        if proba is None:
            proba = (
                predict_proba(model, candles)
                if model is not None
                else walk_forward_proba(candles, model_params(strategy))
            )
        with np.errstate(invalid="ignore"):
            long_setup = long_setup & (proba >= threshold)
            short_setup = short_setup & (proba <= 1.0 - threshold)
    return _edges(long_setup, short_setup)
