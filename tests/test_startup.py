"""Start-up: every configuration mistake is one clear line and exit status 2; keys, files, logs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.cli import main
from bot.keys import _create_key_file
from bot.logs import Redact, setup
from flows.core.crypto import Cipher
from tests.conftest import POSTGRES_URL, reset_postgres
from tests.fakebot import FakeTelegram
from tests.test_e2e import ROOT

KEY_A, KEY_B = Cipher.generate_key(), Cipher.generate_key()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment: the data directory in tmp_path, no token, SQLite."""
    for name in list(os.environ):
        if name.startswith("LEADCOACH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADCOACH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def fails_in_one_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("LEADCOACH_DATABASE_URL", "not a url", "LEADCOACH_DATABASE_URL is not a database URL"),
        ("LEADCOACH_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/test", "cannot reach the database"),
        ("LEADCOACH_ENCRYPTION_KEY", "not-a-key", "LEADCOACH_ENCRYPTION_KEY is not a valid key"),
        ("LEADCOACH_DEFAULT_TIMEZONE", "Mars/Olympus", "'Mars/Olympus' is not a time zone"),
        ("LEADCOACH_LOG_LEVEL", "LOUD", "LEADCOACH_LOG_LEVEL 'LOUD'"),
        ("LEADCOACH_WEBHOOK_PORT", "eighty", "LEADCOACH_WEBHOOK_PORT is not valid"),
    ],
)
def test_a_bad_setting_is_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert said in fails_in_one_line(capsys, "chat")


def test_an_unwritable_data_dir_is_named(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (env / "file").write_text("")
    monkeypatch.setenv("LEADCOACH_DATA_DIR", str(env / "file" / "data"))
    assert f"cannot write to the data directory {env / 'file' / 'data'}" in fails_in_one_line(capsys, "purge")


def test_webhook_mode_needs_a_long_secret(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEADCOACH_TELEGRAM_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    monkeypatch.setenv("LEADCOACH_WEBHOOK_URL", "https://coach.example.org/hook")
    monkeypatch.setenv("LEADCOACH_WEBHOOK_SECRET", "short")
    assert "at least 32 characters" in fails_in_one_line(capsys, "run")
    monkeypatch.setenv("LEADCOACH_WEBHOOK_SECRET", "x" * 31 + "!")
    assert "at least 32 characters" in fails_in_one_line(capsys, "run")


def test_a_changed_key_is_refused_and_rotation_keeps_the_data(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEADCOACH_ENCRYPTION_KEY", KEY_A)
    assert main(["purge"]) == 0  # first start: the canary is written with key A
    monkeypatch.setenv("LEADCOACH_ENCRYPTION_KEY", KEY_B)
    assert "does not match the data" in fails_in_one_line(capsys, "purge")
    monkeypatch.setenv("LEADCOACH_ENCRYPTION_KEY", f"{KEY_B},{KEY_A}")
    assert main(["rotate-key"]) == 0
    rotated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rotated["meta.value"] == 1
    monkeypatch.setenv("LEADCOACH_ENCRYPTION_KEY", KEY_B)
    assert main(["purge"]) == 0  # the old key can go now
    monkeypatch.setenv("LEADCOACH_ENCRYPTION_KEY", KEY_A)
    assert "does not match" in fails_in_one_line(capsys, "purge")


def test_the_key_file_is_written_once_atomically_and_privately(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = env / "data"
    data.mkdir()
    path = data / "encryption.key"
    with ThreadPoolExecutor(8) as pool:  # eight processes starting at once, as far as the file goes
        list(pool.map(lambda _: _create_key_file(path), range(8)))
    key = path.read_text()
    assert Cipher(key) and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in data.iterdir()] == ["encryption.key"]  # no temporary files left behind
    assert main(["purge"]) == 0 and path.read_text() == key
    path.write_text("")
    assert "key file" in fails_in_one_line(capsys, "purge")


def test_data_dir_database_and_exports_are_private(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    data = env / "data"
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat"],
        input="/export\n",
        text=True,
        cwd=ROOT,
        env={**os.environ, "LEADCOACH_DATA_DIR": str(data)},
        check=True,
        capture_output=True,
    )
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("leadcoach.sqlite3", "encryption.key", "exports/leadcoach-export.json"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_logs_never_show_the_token_or_telegram_debug(capsys: pytest.CaptureFixture[str]) -> None:
    token = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra"
    setup(logging.DEBUG, [token, "webhook-secret-value-that-is-long-enough"])
    try:
        logging.getLogger("leadcoach").debug("calling https://api.telegram.org/bot%s/getMe", token)
        logging.getLogger("telegram.ext.Application").debug("Processing update with text %s", "my reflection")
        logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/sendMessage", token)
        err = capsys.readouterr().err
        assert "getMe" in err and token not in err and "<token>" in err
        assert "my reflection" not in err and "HTTP Request" not in err
        record = logging.LogRecord(
            "x", logging.INFO, "", 0, "secret %s", ("webhook-secret-value-that-is-long-enough",), None
        )
        Redact(["webhook-secret-value-that-is-long-enough"]).filter(record)
        assert record.getMessage() == "secret <secret>"
    finally:
        logging.getLogger().handlers.clear()


async def test_a_token_telegram_refuses_is_one_line(fake: FakeTelegram, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LEADCOACH_")},
        "LEADCOACH_TELEGRAM_TOKEN": "654321:WRONG-TOKEN-FOR-THIS-BOT",
        "LEADCOACH_TELEGRAM_API_URL": fake.api_url,
        "LEADCOACH_DATA_DIR": str(tmp_path),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Telegram refused" in lines[0], lines


async def test_the_tests_never_drop_a_schema_outside_a_test_database() -> None:
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/postgres"
    with pytest.raises(RuntimeError, match="not a test database"):
        await reset_postgres(url)
