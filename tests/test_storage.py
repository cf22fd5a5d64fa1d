"""Storage: migrations on SQLite and PostgreSQL, encryption at rest, the key file, templates."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import inspect, text

from bot import sqlite_inline
from bot.db import create_engine, downgrade, migrate
from bot.keys import load_cipher
from bot.runtime import Runtime
from bot.settings import Settings
from flows.core.templating import render
from tests.client import FakeClient
from tests.test_flows import finish_unrated, onboard

SECRET = "Zebra-crossing-handover-7731 went badly because I interrupted"


async def test_migrations_apply_and_roll_back(blank_database_url: str) -> None:
    engine = create_engine(blank_database_url)
    try:
        await migrate(engine)
        await migrate(engine)  # idempotent: a second instance starting finds nothing to do
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert {"users", "sessions", "reflections", "inbox", "meta", "alembic_version"} <= tables
        await downgrade(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert not {"users", "sessions", "reflections"} & tables
    finally:
        await engine.dispose()


async def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            # SQLite itself never waits (that would stall the event loop); the driver waits, up to 30 s.
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 0
            driver = (await conn.get_raw_connection()).driver_connection
            assert isinstance(driver, sqlite_inline.Connection) and driver.timeout == 30
    finally:
        await engine.dispose()


async def test_reflection_text_is_not_readable_in_the_database_file(tmp_path: Path) -> None:
    from bot.runtime import open_runtime

    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=None, encryption_key=None)
    runtime = await open_runtime(settings)
    try:
        client = FakeClient(runtime.coach)
        await onboard(client)
        await client.send("/reflect")
        await client.click("Suggested")
        await client.send(SECRET)  # in progress: held in the session row
        await finish_unrated(
            client,
            (
                "It told me that I need to listen before I respond, every single time.",
                "I will count to five before speaking in the next three handovers.",
            ),
        )
        await client.send("/history")
        await client.click(client.last[0].buttons[0][0].label)
        assert SECRET in client.text  # readable through the coach...
    finally:
        await runtime.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("leadcoach.sqlite3*"))
    assert b"mlf2025" in raw  # the file does hold the (unencrypted) settings columns
    assert SECRET.encode() not in raw and b"Zebra-crossing" not in raw  # ...but not in the file


def test_a_new_key_is_created_once_with_0600(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, encryption_key=None)
    first = load_cipher(settings)
    key = tmp_path / "encryption.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    token = first.encrypt_json({"a": "b"})
    assert load_cipher(settings).decrypt_json(token) == {"a": "b"}


async def test_postgres_and_sqlite_share_the_same_flows(runtime: Runtime, client: FakeClient) -> None:
    await client.send("/start")
    await client.click("Use the defaults")
    await client.send("/privacy")
    assert "0 so far" in client.text


def test_item_template_renders_exactly() -> None:
    assert render(
        "item",
        code="5.3",
        title="Manage conflict & sensitive conversations",
        framework="MLF 2025 (draft)",
        stage_label="Stage 2: Mid-Level Managers and Leaders",
        text="I de-escalate <conflict>.",
    ) == (
        "<b>5.3 Manage conflict &amp; sensitive conversations</b>\n"
        "<i>MLF 2025 (draft) · Stage 2: Mid-Level Managers and Leaders</i>\n\n"
        "I de-escalate &lt;conflict&gt;."
    )


async def test_migrations_match_the_models(blank_database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from flows.store.models import Base

    engine = create_engine(blank_database_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        assert diff == []
    finally:
        await engine.dispose()


async def test_existing_reflections_get_their_items_stable_key(blank_database_url: str) -> None:
    from datetime import UTC, datetime

    from frameworks.catalogue import default_catalogue

    engine = create_engine(blank_database_url)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    try:
        await migrate(engine, "0004")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (channel, external_id, created_at, last_seen_at, onboarded, framework, stage, "
                    "reflect_day, reflect_time, timezone, prompt_model, blocked) VALUES "
                    "('telegram', '1', :now, :now, true, 'mlf2025', '1', 4, '17:30', 'Europe/London', 'rolfe', false)"
                ),
                {"now": now},
            )
            for item in ("mlf2025.5.3", "lf2011.2.1"):
                await conn.execute(
                    text(
                        "INSERT INTO reflections (user_id, framework, item_id, stage, extra_items, prompt_model, "
                        "answers_enc, created_at, updated_at) VALUES (1, :fw, :item, '1', '[]', 'rolfe', :blob, "
                        ":now, :now)"
                    ),
                    {"fw": item.split(".")[0], "item": item, "blob": b"x", "now": now},
                )
        await migrate(engine)
        async with engine.connect() as conn:
            keys: dict[str, str | None] = dict(
                (await conn.execute(text("SELECT item_id, item_key FROM reflections"))).all()
            )
    finally:
        await engine.dispose()
    cat = default_catalogue()
    assert keys == {"mlf2025.5.3": cat.by_id["mlf2025.5.3"].key, "lf2011.2.1": None}
    # A final edition that renumbers: the stored key still finds the item, whatever its new code.
    found = cat.resolve(keys["mlf2025.5.3"], "mlf2025.9.9")
    assert found is not None and found.id == "mlf2025.5.3"
