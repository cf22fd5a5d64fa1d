"""An event's changes to rows it loaded (a rating, the user's last visit), written by UPDATEs compiled once,
as the engine's own statements are, instead of the ORM's flush: the unit of work cost more than the
statement. Anything the ORM's flush must do itself (new or deleted rows, relationships, a changed key, a
SQL expression assigned, version counters, update defaults, flush or mapper events) is left to it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, bindparam, inspect, update
from sqlalchemy.orm import ColumnProperty
from sqlalchemy.sql import ClauseElement

from flows.core.prepared import Prepared

_UPDATES: dict[tuple[Table, tuple[str, ...]], Prepared] = {}


def _plain(mapper: Any, table: Table) -> bool:
    """Whether a mapped class's rows are updated by a plain UPDATE of their changed columns by their key."""
    return (
        mapper.inherits is None
        and mapper.version_id_col is None
        and not mapper.dispatch.before_update
        and not mapper.dispatch.after_update
        and len(table.primary_key.columns) == 1
        and not any(c.onupdate is not None or c.server_onupdate is not None for c in table.c)
    )


def updates(objects: Iterable[object]) -> list[tuple[object, Prepared, dict[str, Any]]] | None:
    """For loaded rows whose columns changed: each row's UPDATE of its changed columns by its key (compiled
    once per table and set of columns) and its parameters, as the ORM's flush would write them; None if
    any of them needs the ORM's flush (a relationship or primary key changed, a SQL expression assigned,
    a version counter, update defaults, mapper events, a table of its own per subclass)."""
    writes = []
    for obj in objects:
        state = inspect(obj)
        if not state.modified or not state.committed_state:
            continue
        mapper = state.mapper
        table = mapper.local_table
        if state.key is None or not isinstance(table, Table) or not _plain(mapper, table):
            return None
        params: dict[str, Any] = {}
        for key, before in state.committed_state.items():
            prop = mapper.attrs.get(key)
            value = state.dict.get(key)
            if (
                not isinstance(prop, ColumnProperty)
                or len(prop.columns) != 1
                or prop.columns[0].table is not table
                or prop.columns[0].primary_key
                or isinstance(value, ClauseElement)
                or hasattr(value, "__clause_element__")
            ):
                return None
            if state.manager[key].impl.is_equal(value, before) is not True:  # as the flush decides
                params[prop.columns[0].key] = value
        if not params:
            continue
        columns = tuple(sorted(params))
        statement = _UPDATES.get((table, columns))
        if statement is None:
            key_column = next(iter(table.primary_key.columns))
            where = update(table).where(key_column == bindparam("b_key"))
            statement = _UPDATES[(table, columns)] = Prepared(where, columns)
        writes.append((obj, statement, {**params, "b_key": mapper.primary_key_from_instance(obj)[0]}))
    return writes
