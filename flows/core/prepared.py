"""A statement built once and compiled once per dialect, with SQLAlchemy's own conversions of each
parameter and result column, to run straight on the driver (flows/core/storage.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Delete, Insert, Select, Update

Processor = Callable[[Any], Any] | None


class Prepared:
    """One of the engine's statements. ``columns``: for an INSERT or UPDATE, the columns it sets."""

    def __init__(
        self, statement: Select[*tuple[Any, ...]] | Insert | Update | Delete, columns: Sequence[str] = ()
    ) -> None:
        self.statement = statement
        self.columns = list(columns)
        self._sql: dict[str, tuple[str, list[tuple[str, Processor]], list[Processor]]] = {}

    def compiled(self, dialect: Dialect) -> tuple[str, list[tuple[str, Processor]], list[Processor]]:
        """The SQL with positional parameters, with SQLAlchemy's own conversions of each parameter and
        result column (dates, booleans) for this dialect; compiled on first use."""
        done = self._sql.get(dialect.name)
        if done is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.columns or None)
            names = compiled.positiontup or []
            binds: list[tuple[str, Processor]] = [
                (n, compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names
            ]
            results: list[Processor] = []
            if isinstance(self.statement, Select):
                results = [
                    c.type.dialect_impl(dialect).result_processor(dialect, None)
                    for c in self.statement.selected_columns
                ]
            done = self._sql[dialect.name] = (str(compiled), binds, results)
        return done


def bound(binds: list[tuple[str, Processor]], params: dict[str, Any]) -> list[Any]:
    """The parameters in order, each converted by its column type as SQLAlchemy converts it: None too (a
    JSON column writes None as JSON's null, not SQL's NULL)."""
    return [params[name] if process is None else process(params[name]) for name, process in binds]
