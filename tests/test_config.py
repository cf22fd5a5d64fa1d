"""Every bad configuration stops with one line and exit status 2, before anything is written."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from flows.core.crypto import Cipher
from tests.test_startup import env, fails_in_one_line  # noqa: F401  (the fixture)

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SECRET = "w" * 40
UNREACHABLE = "http://127.0.0.1:1/bot"  # nothing listens on port 1


def webhook(monkeypatch: pytest.MonkeyPatch, listen: str, port: int) -> None:
    monkeypatch.setenv("LEADCOACH_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("LEADCOACH_TELEGRAM_API_URL", UNREACHABLE)
    monkeypatch.setenv("LEADCOACH_WEBHOOK_URL", "https://coach.example.org/hook")
    monkeypatch.setenv("LEADCOACH_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("LEADCOACH_WEBHOOK_LISTEN", listen)
    monkeypatch.setenv("LEADCOACH_WEBHOOK_PORT", str(port))


@pytest.mark.parametrize(
    ("command", "settings", "said"),
    [
        ("chat", {"LEADCOACH_DATABASE_URL": "mysql://u@127.0.0.1/coach"}, "not a database URL LeadCoach can use"),
        ("run", {"LEADCOACH_TELEGRAM_TOKEN": ""}, "LEADCOACH_TELEGRAM_TOKEN is not a bot token"),
        ("run", {"LEADCOACH_TELEGRAM_TOKEN": TOKEN, "LEADCOACH_TELEGRAM_API_URL": "api"}, "not an http(s) URL"),
        ("run", {"LEADCOACH_TELEGRAM_TOKEN": TOKEN, "LEADCOACH_WEBHOOK_PORT": "70000"}, "WEBHOOK_PORT is not valid"),
        ("run", {"LEADCOACH_WEBHOOK_LISTEN": "no-such-host.invalid"}, "not an IP address of this machine"),
        (
            "run",
            {"LEADCOACH_TELEGRAM_TOKEN": TOKEN, "LEADCOACH_TELEGRAM_API_URL": UNREACHABLE},
            "cannot reach the Telegram",
        ),
        (
            "nudges",
            {"LEADCOACH_TELEGRAM_TOKEN": TOKEN, "LEADCOACH_TELEGRAM_API_URL": UNREACHABLE},
            "cannot reach the Telegram",
        ),
    ],
)
def test_a_bad_configuration_is_one_line_and_writes_nothing(
    env: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    settings: dict[str, str],
    said: str,
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    argv = ["nudges", "send-due"] if command == "nudges" else [command]
    assert said in fails_in_one_line(capsys, *argv)
    assert not (env / "data").exists()


def test_a_webhook_port_in_use_is_one_line(
    env: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        webhook(monkeypatch, "127.0.0.1", taken.getsockname()[1])
        assert "cannot listen for the webhook on 127.0.0.1" in fails_in_one_line(capsys, "run")
    assert not (env / "data").exists()


def test_a_listen_address_not_on_this_machine_is_one_line(
    env: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    webhook(monkeypatch, "192.0.2.1", 8443)  # TEST-NET-1: never this machine's
    assert "cannot listen for the webhook on 192.0.2.1:8443" in fails_in_one_line(capsys, "run")


def test_a_database_from_a_newer_version_is_one_line(
    env: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEADCOACH_ENCRYPTION_KEY", Cipher.generate_key())
    assert main(["purge"]) == 0
    with sqlite3.connect(env / "data" / "leadcoach.sqlite3") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    assert "newer version of LeadCoach" in fails_in_one_line(capsys, "purge")


def test_no_key_for_existing_data_is_one_line_and_writes_no_key(
    env: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["purge"]) == 0  # the first start makes a key file and writes the canary with it
    key = env / "data" / "encryption.key"
    key.unlink()  # lost (or LEADCOACH_DATA_DIR moved without it)
    assert "there is no key" in fails_in_one_line(capsys, "purge")
    assert (not key.exists() and os.listdir(env / "data") == ["leadcoach.sqlite3"]) or not key.exists()
