"""Column types. Money is Numeric(20, 8) and percents Numeric(5, 2), as Decimal in Python on every database.

SQLite has no exact decimal: a NUMERIC column keeps only 15 significant digits. There the values are stored
as text (exact), and CHECK constraints compare them through `as_number`, which casts on SQLite only.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FunctionElement, literal_column
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    """Numeric(precision, scale) on PostgreSQL, exact text on SQLite; always Decimal in Python."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal, not float")
        number = Decimal(value).quantize(self._quantum, rounding=ROUND_HALF_EVEN)
        return format(number, "f") if dialect.name == "sqlite" else number

    def sqlite_text(self, value: Decimal) -> str:
        """`process_bind_param` on SQLite for a Decimal, as a plain function (db.bulk's hot path)."""
        if type(value) is not Decimal:
            if isinstance(value, float):
                raise TypeError("money must be Decimal, not float")
            value = Decimal(value)
        return format(value.quantize(self._quantum, rounding=ROUND_HALF_EVEN), "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):  # a server default or an arithmetic result on SQLite
            value = repr(value)
        return Decimal(value).quantize(self._quantum)


def Money() -> ExactDecimal:
    return ExactDecimal(20, 8)


def Percent() -> ExactDecimal:
    return ExactDecimal(5, 2)


class as_number(FunctionElement[Any]):
    """The numeric value of a column in a CHECK: CAST(x AS REAL) on SQLite (text there), x elsewhere."""

    name = "as_number"
    inherit_cache = True


@compiles(as_number)
def _as_number_default(element: as_number, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(as_number, "sqlite")
def _as_number_sqlite(element: as_number, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS REAL)"


def num(column_name: str) -> ColumnElement[Any]:
    """`as_number` of a column named in a CHECK constraint."""
    return as_number(literal_column(column_name))
