"""Operable as a service: /healthz, /readyz and Prometheus /metrics, on the health port in polling mode
(and on the webhook server)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.fakebot import FakeTelegram
from tests.test_e2e import ALICE, Bot, make_settings, start_app, stop_app
from tests.test_e2e_faults import free_port


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_polling_mode_has_health_and_metrics(fake: FakeTelegram, database_url: str, tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(fake, database_url, tmp_path).model_copy(update={"health_port": port})
    service = await start_app(settings)
    bot = Bot(fake, settings, service)
    base = f"http://127.0.0.1:{port}"
    try:
        await bot.say(ALICE, "/help")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 200 and await r.text() == "ready"
            async with http.get(f"{base}/metrics") as r:
                metrics = await r.text()
        assert r.status == 200
        for line in (
            'leadcoach_updates_total{result="handled"}',
            'leadcoach_messages_sent_total{kind="reply"}',
            "leadcoach_update_seconds_bucket",
            "leadcoach_inbox_depth 0.0",
            "leadcoach_nudges_due",
        ):
            assert line in metrics, line
    finally:
        await stop_app(service)
