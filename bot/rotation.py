"""Key rotation: re-encrypt every encrypted column with the first key, in batches by primary key.

Which columns are encrypted comes from the model (``flows.store.models.Encrypted``), so a new encrypted
column is rotated without anyone remembering to list it here."""

from __future__ import annotations

from sqlalchemy import Column, Table, and_, bindparam, select, tuple_, update

from flows.core.engine import Engine
from flows.store.models import encrypted_columns

BATCH = 500


async def rotate(engine: Engine) -> dict[str, int]:
    """Returns how many values of each column were re-encrypted."""
    return {
        f"{table.name}.{column.name}": await _rotate_column(engine, table, column)
        for table, column in encrypted_columns()
    }


async def _rotate_column(engine: Engine, table: Table, column: Column[bytes]) -> int:
    keys = list(table.primary_key.columns)
    where = and_(*(k == bindparam(f"k_{k.name}") for k in keys))
    rewrite = update(table).where(where).values({column.name: bindparam("v_new")})
    count, after = 0, None
    while True:
        async with engine.transaction() as db:
            query = select(*keys, column).where(column.is_not(None), column != b"").order_by(*keys).limit(BATCH)
            if after is not None:
                query = query.where(tuple_(*keys) > tuple_(*after))
            rows = (await db.execute(query)).all()
            if rows:
                params = [
                    {
                        **{f"k_{k.name}": v for k, v in zip(keys, row[:-1], strict=True)},
                        "v_new": engine.cipher.rotate(row[-1]),
                    }
                    for row in rows
                ]
                await (await db.connection()).execute(rewrite, params)
        if not rows:
            return count
        count, after = count + len(rows), tuple(rows[-1][:-1])
