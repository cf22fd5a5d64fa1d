"""A migration made as ``make migration`` makes it is applied at start-up to a database that already
exists (issue 13, defect 10: the head was read from the files by a regex that expected double quotes,
so the new migration, written with single quotes, was taken for not being there)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import MIGRATIONS, create_engine, head_revision, migrate
from bot.revisions import quick_head

PROBE_UP = "    op.create_table('probe', sa.Column('id', sa.Integer(), primary_key=True))\n"
PROBE_DOWN = "    op.drop_table('probe')\n"


def make_migration(connection: Connection, scripts: Path) -> tuple[str, Path]:
    """What ``make migration m="add probe"`` does (``alembic revision --autogenerate`` with our env.py and
    ``script.py.mako``), in ``scripts``, against the database on ``connection``. Returns the new revision
    and its file."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    cfg.attributes["connection"] = connection
    script = command.revision(cfg, message="add probe", autogenerate=True)
    assert script is not None and not isinstance(script, list)
    return script.revision, Path(script.path)


def give_it_work(path: Path, *, typed: bool) -> str:
    """The models match the migrations, so autogenerate wrote an empty migration: give it a table to make
    (and, ``typed``, annotate its identifiers as Alembic's own newer templates do)."""
    source = path.read_text(encoding="utf-8")
    source = source.replace("def upgrade() -> None:\n", "def upgrade() -> None:\n" + PROBE_UP, 1)
    source = source.replace("def downgrade() -> None:\n", "def downgrade() -> None:\n" + PROBE_DOWN, 1)
    if typed:
        source = re.sub(r"^revision = ", "revision: str = ", source, flags=re.M)
        source = re.sub(r"^down_revision = ", "down_revision: str | None = ", source, flags=re.M)
    path.write_text(source, encoding="utf-8")
    return source


async def version(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str(await conn.scalar(text("SELECT version_num FROM alembic_version")))


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


@pytest.mark.parametrize("typed", [False, True], ids=["as-written", "typed"])
async def test_a_new_migration_is_applied_to_an_existing_database(
    blank_database_url: str, tmp_path: Path, typed: bool
) -> None:
    engine = create_engine(blank_database_url)
    try:
        await migrate(engine)  # a database in use: at today's head
        today = await version(engine)
        scripts = tmp_path / "migrations"  # a copy of the migrations, to add one to
        shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
        async with engine.connect() as conn:
            new, path = await conn.run_sync(make_migration, scripts)
        source = give_it_work(path, typed=typed)
        if typed:
            assert f"revision: str = '{new}'" in source and f"down_revision: str | None = '{today}'" in source
        else:
            assert f"revision = '{new}'" in source and f"down_revision = '{today}'" in source  # repr()'s quotes

        await migrate(engine, scripts=scripts)  # the next start, with the new migration shipped
        assert await version(engine) == new
        assert "probe" in await tables(engine)
        assert head_revision(scripts) == new and quick_head(scripts) == new == alembic_head(scripts)
        await migrate(engine, scripts=scripts)  # and the one after finds nothing to do
        assert await version(engine) == new
    finally:
        await engine.dispose()


def alembic_head(scripts: Path) -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    (head,) = ScriptDirectory.from_config(cfg).get_heads()
    return str(head)


def test_the_quick_head_is_alembics_and_steps_aside_when_unsure(tmp_path: Path) -> None:
    """A start reads the head without Alembic (bot/revisions.py); where that reader is not sure (a
    revision that is not a plain literal, two heads), Alembic reads it, as before."""
    assert quick_head(MIGRATIONS) == alembic_head(MIGRATIONS) == head_revision()
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    head = alembic_head(scripts)
    merge = scripts / "versions" / "9999_merge.py"
    merge.write_text(f"revision = 'zz' + '9'\ndown_revision = ({head!r},)\n", encoding="utf-8")
    assert quick_head(scripts) is None and head_revision(scripts) == "zz9" == alembic_head(scripts)
    merge.write_text(f"revision: str = 'zz9'\ndown_revision = ('0001', {head!r})\n", encoding="utf-8")
    assert quick_head(scripts) == "zz9" == alembic_head(scripts)
    merge.write_text("revision = 'zz9'\ndown_revision = '0001'\n", encoding="utf-8")  # a second head
    assert quick_head(scripts) is None
    with pytest.raises(RuntimeError, match="one head"):
        head_revision(scripts)
