"""Strategies a trend bot can follow: the built-in rows (seeded by a migration) and the user's own copies
with their own parameters. Only the owner sees or uses a saved strategy; built-ins are everyone's."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select

from bot.services import validation as v
from bot.services.errors import NameTaken, NotFound, ValidationError
from db.base import utcnow
from db.models import Strategy
from db.session import Database
from engine.trend.strategies import StrategyDef

TIMEFRAMES = ("15m", "1h", "4h", "1d")
RISK_KEYS = ("leverage", "stop_loss_percent", "take_profit_percent", "entry_percent", "max_positions")
MAX_OWN_STRATEGIES = 20


@dataclass(frozen=True, slots=True)
class StrategyDTO:
    id: int
    name: str
    kind: str
    timeframe: str
    params: dict[str, Any]
    description: str
    is_builtin: bool

    @classmethod
    def of(cls, row: Strategy) -> StrategyDTO:
        return cls(
            id=row.id,
            name=row.name,
            kind=row.kind,
            timeframe=row.timeframe,
            params=copy.deepcopy(dict(row.params or {})),
            description=row.description or "",
            is_builtin=bool(row.is_builtin),
        )

    def definition(self) -> StrategyDef:
        """The engine's view of this strategy."""
        return StrategyDef.from_row(
            {
                "name": self.name,
                "kind": self.kind,
                "timeframe": self.timeframe,
                "params": copy.deepcopy(self.params),
                "description": self.description,
                "is_builtin": self.is_builtin,
            }
        )


def visible_to(user_id: int):  # type: ignore[no-untyped-def]
    """The SQL condition: built-in or the user's own."""
    return or_(Strategy.user_id.is_(None), Strategy.user_id == user_id)


class Strategies:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_for(self, user_id: int) -> list[StrategyDTO]:
        """Built-in strategies first, then the user's own, each by name."""
        async with self.db.read() as session:
            rows = await session.execute(
                select(Strategy)
                .where(visible_to(user_id))
                .order_by(Strategy.user_id.is_not(None), Strategy.name)
            )
            return [StrategyDTO.of(r) for r in rows.scalars()]

    async def get(self, user_id: int, strategy_id: int) -> StrategyDTO:
        if not _is_an_id(strategy_id):  # a forged button's id past the column's range: PostgreSQL refuses it
            raise NotFound("strategy")
        async with self.db.read() as session:
            row = (
                await session.execute(select(Strategy).where(Strategy.id == strategy_id, visible_to(user_id)))
            ).scalar_one_or_none()
            if row is None:
                raise NotFound("strategy")
            return StrategyDTO.of(row)

    async def by_name(self, user_id: int, name: str) -> StrategyDTO:
        """The user's own strategy of that name, else the built-in one."""
        for strategy in await self.list_for(user_id):
            if strategy.name == name and not strategy.is_builtin:
                return strategy
        for strategy in await self.list_for(user_id):
            if strategy.name == name:
                return strategy
        raise NotFound("strategy")

    async def save_copy(
        self, user_id: int, base_id: int, *, name: str, overrides: dict[str, object] | None = None
    ) -> StrategyDTO:
        """A copy of a visible strategy under the user's name, with some parameters changed."""
        clean_name = v.validate_name(name)
        base = await self.get(user_id, base_id)
        params, timeframe = apply_overrides(base, overrides or {})
        StrategyDef.from_row(
            {"name": clean_name, "kind": base.kind, "timeframe": timeframe, "params": params}
        )
        async with self.db.write() as session:
            own = (
                await session.execute(select(func.count()).where(Strategy.user_id == user_id))
            ).scalar_one()
            if own >= MAX_OWN_STRATEGIES:
                raise ValidationError("strategy", f"at most {MAX_OWN_STRATEGIES} saved strategies")
            taken = (
                await session.execute(
                    select(func.count()).where(Strategy.user_id == user_id, Strategy.name == clean_name)
                )
            ).scalar_one()
            if taken:
                raise NameTaken(clean_name)
            row = Strategy(
                user_id=user_id,
                name=clean_name,
                kind=base.kind,
                timeframe=timeframe,
                params=params,
                description=f"{base.name} with {', '.join(sorted(overrides or {})) or 'its defaults'}",
                is_builtin=False,
                created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            return StrategyDTO.of(row)

    async def delete(self, user_id: int, strategy_id: int) -> None:
        """Delete one of the user's own strategies (bots using it fall back to no strategy)."""
        if not _is_an_id(strategy_id):
            raise NotFound("strategy")
        async with self.db.write() as session:
            row = (
                await session.execute(
                    select(Strategy).where(Strategy.id == strategy_id, Strategy.user_id == user_id)
                )
            ).scalar_one_or_none()
            if row is None:
                raise NotFound("strategy")
            await session.delete(row)


def _is_an_id(value: object) -> bool:
    """A value an id column (32-bit, from 1) can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def apply_overrides(base: StrategyDTO, overrides: dict[str, object]) -> tuple[dict[str, Any], str]:
    """New params: only known numeric keys (indicator params and risk) and the timeframe may change."""
    params = copy.deepcopy(base.params)
    risk = dict(params.get("risk") or {})
    timeframe = base.timeframe
    for key, raw in overrides.items():
        if key == "timeframe":
            if raw not in TIMEFRAMES:
                raise ValidationError("timeframe", f"timeframe must be one of {', '.join(TIMEFRAMES)}")
            timeframe = str(raw)
            continue
        target = risk if key in RISK_KEYS else params
        if (
            key not in target
            or isinstance(target[key], bool)
            or not isinstance(target[key], int | float | str)
        ):
            raise ValidationError(key, f"{key} is not a parameter of {base.name}")
        if key == "leverage":  # its own check, whose text names the range
            target[key] = v.validate_leverage(raw)
            continue
        number = v.parse_decimal(raw, key)
        if number <= 0 or number > 10_000:
            raise ValidationError(key, f"{key} must be more than 0 and at most 10000")
        if key == "max_positions":
            target[key] = v.validate_positions(number)
        elif key == "stop_loss_percent":
            target[key] = format(v.validate_stop_loss(number), "f")
        elif key in ("take_profit_percent", "entry_percent"):
            target[key] = format(v.validate_take_profit(number), "f")
        elif isinstance(target[key], int):
            target[key] = v.parse_int(number, key)
        elif isinstance(target[key], str):
            target[key] = format(number, "f")
        else:  # indicator parameters such as a volume multiple are plain JSON numbers
            target[key] = float(Decimal(number))
    params["risk"] = risk
    return params, timeframe
