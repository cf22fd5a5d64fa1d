"""For conversation-level tests: a migrated SQLite database only. The same ORM runs on both databases, and
the storage, engine, flow and end-to-end tests cover PostgreSQL; import ``sqlite_only`` into a test module
to run its tests once instead of twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import sqlite_copy


@pytest.fixture(name="database_url")
async def sqlite_only(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return await sqlite_copy(tmp_path, tmp_path_factory)
